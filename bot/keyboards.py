"""Inline keyboards and the callback-data codec (always ≤ 64 bytes)."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from content import taxonomy
from content.render import DigestFormat

_COLUMNS = 3


class Action(enum.StrEnum):
    """What a tag button does."""

    TOGGLE_ALL = "ta"  # toggle inside the /tags overview (edits text and keyboard)
    TOGGLE_POPULAR = "tp"  # toggle inside the /start keyboard
    SUBSCRIBE = "s"  # "did you mean" suggestion
    UNSUBSCRIBE = "u"  # /unsubscribe without arguments


@dataclass(frozen=True, slots=True)
class TagCallback:
    """A decoded tag button press."""

    action: Action
    tag: str


TAG_CALLBACK_PATTERN = rf"^({'|'.join(a.value for a in Action)}):"
"""Any tag button (the tag handler itself takes every press the others leave)."""


def encode(action: Action, tag: str) -> str:
    """Callback data for a tag button."""
    return f"{action.value}:{tag}"


def decode(data: str | None) -> TagCallback | None:
    """Parse callback data; anything unexpected (old or forged buttons) gives None."""
    if not data or ":" not in data:
        return None
    raw_action, tag = data.split(":", 1)
    try:
        action = Action(raw_action)
    except ValueError:
        return None
    if taxonomy.get_tag(tag) is None:
        return None
    return TagCallback(action, tag)


def _grid(buttons: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    rows = [list(buttons[i : i + _COLUMNS]) for i in range(0, len(buttons), _COLUMNS)]
    return InlineKeyboardMarkup(rows)


def _toggle_button(action: Action, tag_id: str, mine: set[str]) -> InlineKeyboardButton:
    mark = "✅ " if tag_id in mine else ""
    return InlineKeyboardButton(f"{mark}#{tag_id}", callback_data=encode(action, tag_id))


def popular_keyboard(subscribed: Iterable[str]) -> InlineKeyboardMarkup:
    """Toggle buttons for the popular tags, shown by /start."""
    mine = set(subscribed)
    tags = taxonomy.popular_tags()
    return _grid([_toggle_button(Action.TOGGLE_POPULAR, t.id, mine) for t in tags])


def all_tags_keyboard(subscribed: Iterable[str]) -> InlineKeyboardMarkup:
    """Toggle buttons for every tag, shown by /tags."""
    mine = set(subscribed)
    return _grid([_toggle_button(Action.TOGGLE_ALL, t.id, mine) for t in taxonomy.TAGS])


def suggestions_keyboard(tags: Iterable[str]) -> InlineKeyboardMarkup:
    """One "subscribe" button per did-you-mean suggestion."""
    buttons = [
        InlineKeyboardButton(f"➕ #{t}", callback_data=encode(Action.SUBSCRIBE, t)) for t in tags
    ]
    return _grid(buttons)


def unsubscribe_keyboard(subscribed: Iterable[str]) -> InlineKeyboardMarkup:
    """One "unsubscribe" button per current subscription."""
    buttons = [
        InlineKeyboardButton(f"✖️ #{t}", callback_data=encode(Action.UNSUBSCRIBE, t))
        for t in subscribed
    ]
    return _grid(buttons)


# --- /format: one button per digest format -------------------------------------------------

_FORMAT_PREFIX = "fmt"

FORMAT_CALLBACK_PATTERN = rf"^{_FORMAT_PREFIX}:"
"""What the format button handler answers."""


def encode_format(digest_format: DigestFormat) -> str:
    """Callback data of a format button: "fmt:compact", well under 64 bytes."""
    return f"{_FORMAT_PREFIX}:{digest_format.value}"


def decode_format(data: str | None) -> DigestFormat | None:
    """Parse a format button; anything unexpected gives None."""
    prefix, _, value = (data or "").partition(":")
    if prefix != _FORMAT_PREFIX:
        return None
    try:
        return DigestFormat(value)
    except ValueError:
        return None


def format_keyboard(
    current: DigestFormat, labels: Mapping[DigestFormat, str]
) -> InlineKeyboardMarkup:
    """The two format buttons, the chat's current one marked ✅."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"✅ {labels[option]}" if option is current else labels[option],
                    callback_data=encode_format(option),
                )
                for option in DigestFormat
            ]
        ]
    )


# --- /weekly: one button per weekday, and one back to daily -----------------------------------

_RHYTHM_PREFIX = "rhy"
_DAILY = "d"

RHYTHM_CALLBACK_PATTERN = rf"^{_RHYTHM_PREFIX}:"
"""What the rhythm button handler answers."""


@dataclass(frozen=True, slots=True)
class RhythmChoice:
    """A decoded rhythm button: a weekday (Monday is 0), or None for daily."""

    weekday: int | None


def encode_rhythm(weekday: int | None) -> str:
    """Callback data of a rhythm button: "rhy:4" for Friday, "rhy:d" for daily."""
    return f"{_RHYTHM_PREFIX}:{_DAILY if weekday is None else weekday}"


def decode_rhythm(data: str | None) -> RhythmChoice | None:
    """Parse a rhythm button; anything unexpected gives None."""
    prefix, _, value = (data or "").partition(":")
    if prefix != _RHYTHM_PREFIX:
        return None
    if value == _DAILY:
        return RhythmChoice(None)
    if len(value) == 1 and value in "0123456":
        return RhythmChoice(int(value))
    return None


def rhythm_keyboard(
    current: int | None, weekdays: Sequence[str], daily: str
) -> InlineKeyboardMarkup:
    """Seven weekday buttons in a row and a daily one under them, the current one marked ✅."""
    days = [
        InlineKeyboardButton(
            f"✅ {label}" if number == current else label, callback_data=encode_rhythm(number)
        )
        for number, label in enumerate(weekdays)
    ]
    every_day = InlineKeyboardButton(
        f"✅ {daily}" if current is None else daily, callback_data=encode_rhythm(None)
    )
    return InlineKeyboardMarkup([days, [every_day]])


# --- /channels: which chat a private chat runs -------------------------------------------------

_CHANNEL_PREFIX = "ch"
# "ch:-1001234567890" is under 20 bytes; 0 means the user's own private chat.
_BACK = 0

CHANNEL_CALLBACK_PATTERN = rf"^{_CHANNEL_PREFIX}:"
"""What the /channels button handler answers."""


def encode_channel(chat_id: int | None) -> str:
    """Callback data of a /channels button; None is «back to the private chat»."""
    return f"{_CHANNEL_PREFIX}:{_BACK if chat_id is None else chat_id}"


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """A decoded /channels press: the chat to run, or None for the private chat."""

    chat_id: int | None


def decode_channel(data: str | None) -> ChannelChoice | None:
    """Parse a /channels button; anything unexpected gives None."""
    prefix, _, value = (data or "").partition(":")
    if prefix != _CHANNEL_PREFIX:
        return None
    try:
        chat_id = int(value)
    except ValueError:
        return None
    if chat_id == _BACK:
        return ChannelChoice(None)
    # Groups and channels have negative ids; anything else was not made by us.
    return ChannelChoice(chat_id) if chat_id < 0 else None


def channels_keyboard(
    chats: Sequence[tuple[int, str]], *, back: str | None
) -> InlineKeyboardMarkup | None:
    """One button per (chat id, label), and the way back when a chat is being run."""
    rows = [
        [InlineKeyboardButton(label, callback_data=encode_channel(cid))] for cid, label in chats
    ]
    if back is not None:
        rows.append([InlineKeyboardButton(back, callback_data=encode_channel(None))])
    return InlineKeyboardMarkup(rows) if rows else None


# --- search result pages ------------------------------------------------------------------------

_SEARCH_PREFIX = "sr"
# A page number past this is no button we made: deep offsets only cost the database.
MAX_SEARCH_PAGE = 200


@dataclass(frozen=True, slots=True)
class SearchCallback:
    """A decoded press on a search page button."""

    query_id: str
    page: int


def encode_search(query_id: str, page: int) -> str:
    """Callback data of a search page button: "sr:<query id>:<page>", well under 64 bytes."""
    return f"{_SEARCH_PREFIX}:{query_id}:{page}"


def decode_search(data: str | None) -> SearchCallback | None:
    """Parse a search page button; anything unexpected gives None."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != _SEARCH_PREFIX:
        return None
    query_id, page = parts[1], parts[2]
    if not (query_id.isascii() and query_id.isalnum() and 0 < len(query_id) <= 16):
        return None
    if not (page.isascii() and page.isdigit() and int(page) <= MAX_SEARCH_PAGE):
        return None
    return SearchCallback(query_id, int(page))


SEARCH_CALLBACK_PATTERN = rf"^{_SEARCH_PREFIX}:"
"""What the search button handler answers; every other button belongs to the tag handler."""


def search_keyboard(query_id: str, page: int, *, has_more: bool) -> InlineKeyboardMarkup | None:
    """The «◀ Назад» and «Дальше ▶» buttons under a page of results, where they lead somewhere."""
    buttons = []
    if page > 0:
        buttons.append(
            InlineKeyboardButton("◀ Назад", callback_data=encode_search(query_id, page - 1))
        )
    if has_more and page < MAX_SEARCH_PAGE:
        buttons.append(
            InlineKeyboardButton("Дальше ▶", callback_data=encode_search(query_id, page + 1))
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


# --- follows and mutes: ✖️ buttons -------------------------------------------------------------

_FOLLOW_PREFIX = "fx"
# Kinds by a one-letter code, so callback data stays short whatever the key.
_KIND_CODES = {"word": "w", "author": "a", "mute_word": "m", "mute_tag": "t"}
_CODE_KINDS = {code: kind for kind, code in _KIND_CODES.items()}
_HASH_CHARS = 12

FOLLOW_CALLBACK_PATTERN = rf"^{_FOLLOW_PREFIX}:"
"""What the ✖️ button handler of follows and mutes answers."""


@dataclass(frozen=True, slots=True)
class FollowCallback:
    """A decoded press on a ✖️ button: the kind and a short hash of the key to remove."""

    kind: str
    key_hash: str


def key_hash(kind: str, key: str) -> str:
    """A short stable hash of a follow's key: keys run to 128 characters, buttons to 64 bytes."""
    return hashlib.blake2s(f"{kind}\n{key}".encode(), digest_size=8).hexdigest()[:_HASH_CHARS]


def encode_follow(kind: str, key: str) -> str:
    """Callback data of a ✖️ button: "fx:<kind code>:<hash>", 17 bytes."""
    return f"{_FOLLOW_PREFIX}:{_KIND_CODES[kind]}:{key_hash(kind, key)}"


def decode_follow(data: str | None) -> FollowCallback | None:
    """Parse a ✖️ button; anything unexpected gives None."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != _FOLLOW_PREFIX or parts[1] not in _CODE_KINDS:
        return None
    digest = parts[2]
    if len(digest) != _HASH_CHARS or not all(char in "0123456789abcdef" for char in digest):
        return None
    return FollowCallback(_CODE_KINDS[parts[1]], digest)


def follows_keyboard(items: Iterable[tuple[str, str, str]]) -> InlineKeyboardMarkup | None:
    """One ✖️ button per ``(kind, key, text)`` follow or mute, two to a row; None for none."""
    buttons = [
        InlineKeyboardButton(
            f"✖️ {_button_label(kind, text)}", callback_data=encode_follow(kind, key)
        )
        for kind, key, text in items
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def _button_label(kind: str, text: str) -> str:
    label = text if len(text) <= 30 else text[:29] + "…"
    if kind == "author":
        return f"👤 {label}"
    return label if kind == "mute_tag" else f"«{label}»"


# --- numbered buttons under digest messages -----------------------------------------------------

_FEEDBACK_PREFIX = "fb"
_SUGGESTED_MARK = "s"
# Telegram clients show at most 8 inline buttons in a row.
MAX_ROW = 8
# Room under a message for the numbers, after the row of one paper's actions.
MAX_NUMBERS = 100 - 4
# Paper ids are arXiv ids: "2412.13871", "cs/0112017"; the column holds 32 characters.
_PAPER_ID = re.compile(r"[A-Za-z0-9._/-]{1,32}")

FEEDBACK_CALLBACK_PATTERN = rf"^{_FEEDBACK_PREFIX}:"
"""What the digest buttons handler answers."""


class Feedback(enum.StrEnum):
    """What a button under a digest message does."""

    OPEN = "o"  # a paper's number: show its actions
    LIKE = "+"
    DISLIKE = "-"
    SIMILAR = "m"  # «Похожие»
    CLOSE = "x"  # back to the numbers alone


@dataclass(frozen=True, slots=True)
class DigestItem:
    """A paper of a digest message: its number in the text, and whether it was a suggestion."""

    number: int
    paper_id: str
    suggested: bool = False


@dataclass(frozen=True, slots=True)
class FeedbackCallback:
    """A decoded press on a digest button; ``item`` is None for «back»."""

    action: Feedback
    item: DigestItem | None


def encode_feedback(action: Feedback, item: DigestItem | None = None) -> str:
    """Callback data of a digest button: "fb:o:3:2412.13871:s", at most 45 bytes."""
    if item is None:
        return f"{_FEEDBACK_PREFIX}:{action.value}"
    data = f"{_FEEDBACK_PREFIX}:{action.value}:{item.number}:{item.paper_id}"
    return f"{data}:{_SUGGESTED_MARK}" if item.suggested else data


def decode_feedback(data: str | None) -> FeedbackCallback | None:
    """Parse a digest button's data; anything we did not make gives None."""
    parts = (data or "").split(":")
    if len(parts) < 2 or parts[0] != _FEEDBACK_PREFIX:
        return None
    try:
        action = Feedback(parts[1])
    except ValueError:
        return None
    if action is Feedback.CLOSE:
        return FeedbackCallback(action, None) if len(parts) == 2 else None
    suggested = len(parts) == 5 and parts[4] == _SUGGESTED_MARK
    if len(parts) != 4 and not suggested:
        return None
    number, paper_id = parts[2], parts[3]
    if not (number.isascii() and number.isdigit() and 0 < int(number) <= 999):
        return None
    if not _PAPER_ID.fullmatch(paper_id):
        return None
    return FeedbackCallback(action, DigestItem(int(number), paper_id, suggested))


def digest_items(markup: InlineKeyboardMarkup | None) -> list[DigestItem]:
    """The papers a digest message's keyboard numbers, read back from its number buttons."""
    items: list[DigestItem] = []
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            data = button.callback_data if isinstance(button.callback_data, str) else None
            pressed = decode_feedback(data)
            if pressed is not None and pressed.action is Feedback.OPEN and pressed.item:
                items.append(pressed.item)
    return items


_VOTE_MARKS = {1: "👍", -1: "👎"}


def digest_keyboard(
    items: Sequence[DigestItem],
    *,
    opened: DigestItem | None = None,
    votes: Mapping[str, int] | None = None,
) -> InlineKeyboardMarkup | None:
    """The numbers of a digest message's papers; with ``opened``, that paper's actions too.

    A number carries the chat's vote on its paper (``votes``), so a reader who never rates
    sees bare numbers, and one who did sees what they chose.
    """
    items = list(items)[:MAX_NUMBERS]
    if not items:
        return None
    votes = votes or {}
    numbers = []
    for item in items:
        mark = _VOTE_MARKS.get(votes.get(item.paper_id, 0))
        label = f"{item.number} {mark}" if mark else str(item.number)
        if item == opened:
            label = f"· {label} ·"
        numbers.append(
            InlineKeyboardButton(label, callback_data=encode_feedback(Feedback.OPEN, item))
        )
    # Rows as even as they can be: 10 papers make two rows of five, not eight and two.
    per_row = -(-len(numbers) // -(-len(numbers) // MAX_ROW))
    rows = [numbers[i : i + per_row] for i in range(0, len(numbers), per_row)]
    if opened is not None:
        vote = votes.get(opened.paper_id, 0)
        rows.append(
            [
                InlineKeyboardButton(
                    "✅ 👍" if vote == 1 else "👍",
                    callback_data=encode_feedback(Feedback.LIKE, opened),
                ),
                InlineKeyboardButton(
                    "✅ 👎" if vote == -1 else "👎",
                    callback_data=encode_feedback(Feedback.DISLIKE, opened),
                ),
                InlineKeyboardButton(
                    "Похожие", callback_data=encode_feedback(Feedback.SIMILAR, opened)
                ),
                InlineKeyboardButton("◀", callback_data=encode_feedback(Feedback.CLOSE)),
            ]
        )
    return InlineKeyboardMarkup(rows)
