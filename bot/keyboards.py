"""Inline keyboards and the callback-data codec (always ≤ 64 bytes)."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from content import taxonomy

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
