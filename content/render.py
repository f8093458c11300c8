"""How papers read in a digest: the view of a paper and its text forms.

Telegram forms (``render_digest``, ``render_card``) are Bot API HTML for ``parse_mode=HTML``.
Every stored string is plain text and goes through :func:`html.escape` exactly once, when a
line is built; shortening happens on the plain text before that, so a cut can never fall
inside a tag or an entity.  Lengths are measured on the raw HTML in UTF-16 code units: that
bounds the visible text Telegram counts (tags vanish, entities shrink) from above.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, NamedTuple
from urllib.parse import urlsplit

from content.ru import count, date_range_ru, date_ru
from content.taxonomy import hashtag

MAX_MESSAGE_LENGTH: Final[int] = 4096
"""Telegram's limit for a message text."""

MAX_CARD_LENGTH: Final[int] = 1024
"""Limit for a card: it must also fit a media caption."""

HEADER_TAGS: Final[int] = 5
"""Hashtags named in a digest header; the rest become "и ещё N"."""

CARD_SUMMARY_CHARS: Final[int] = 200

_PARAGRAPH: Final[str] = "\n\n"
_ELLIPSIS: Final[str] = "…"
_NO_TITLE: Final[str] = "(без названия)"
_PROJECT_LABEL: Final[str] = "проект"
_MAX_URL: Final[int] = 2048
_MAX_TAG_CHARS: Final[int] = 32
_MAX_REPO_LABEL: Final[int] = 60
_MAX_WHY: Final[int] = 200
_WHY_MARK: Final[str] = "📌 "
# The compact format's fold (Bot API 7.4): the summary, collapsed until tapped.
_QUOTE_OPEN: Final[str] = "<blockquote expandable>"
_QUOTE_CLOSE: Final[str] = "</blockquote>"
# A shortened title in a block that does not fit even with its summary cut down.
_SHORT_TITLE: Final[int] = 300
# A summary cut below this is no longer worth showing; the block sheds other parts first.
_MIN_SUMMARY: Final[int] = 80

_SPACES: Final = re.compile(r"\s+")
# A sentence ends at . ! ? or … followed by a space; "т. е. так" is not an end (lower case).
_SENTENCE_END: Final = re.compile(r"[.!?…]+[)»\"']*(?=\s+[^a-zа-яё\s])")
_TRAILING_PUNCT: Final[str] = " .,;:!?…—–-(«\"'"


@dataclass(frozen=True, slots=True)
class PaperView:
    """What a reader sees of one paper."""

    id: str
    title: str  # Russian title, or the English one when there is no summary yet
    summary: str
    url: str
    code_url: str | None = None
    project_url: str | None = None
    upvotes: int = 0
    tags: tuple[str, ...] = ()
    # Why the paper came to this chat ("#mllm · «watermark»"), shown after 📌; "" for none.
    # Not part of equality: the cache of blocks then serves every chat, whatever its line.
    why: str = field(default="", compare=False)


SUGGESTIONS_HEADING: Final[str] = "Может быть интересно"
"""The heading of the papers suggested outside the chat's interests."""

SUGGESTION_WHY: Final[str] = "похоже на то, что вам понравилось"
"""The 📌 line of a suggested paper."""

MAX_SUGGESTIONS: Final[int] = 3

CODE_HEADING: Final[str] = "💻 Код появился"
"""The heading of the papers a chat received without code, whose code has appeared since."""

# A follow-up line is one unsplittable line: its parts are bounded so it always fits a message.
_FOLLOWUP_TITLE: Final[int] = 200
_FOLLOWUP_HREF: Final[int] = 1000


class DigestFormat(enum.StrEnum):
    """How a digest lays out a paper: the stored value of a chat's ``/format``."""

    FULL = "full"  # the summary in the open under its title
    COMPACT = "compact"  # the summary folded into an expandable quote


# What /format understands, by the word typed: lower case, "ё" as "е".
_FORMAT_WORDS: Final[dict[str, DigestFormat]] = {
    **dict.fromkeys(
        [
            "компактный",
            "компактно",
            "компакт",
            "кратко",
            "краткий",
            "коротко",
            "короткий",
            "свернутый",
            "свернуть",
            "compact",
            "short",
            "brief",
            "collapsed",
        ],
        DigestFormat.COMPACT,
    ),
    **dict.fromkeys(
        [
            "полный",
            "полностью",
            "подробно",
            "подробный",
            "развернутый",
            "развернуть",
            "обычный",
            "full",
            "long",
            "expanded",
            "default",
        ],
        DigestFormat.FULL,
    ),
}


def parse_format(raw: str) -> DigestFormat | None:
    """The digest format a user typed (``компактный``, ``кратко``, ``full``…), or None."""
    return _FORMAT_WORDS.get(raw.strip().lower().replace("ё", "е"))


def repo_label(code_url: str) -> str:
    """Short label of a code link: "owner/repo"."""
    return code_url.split("://", 1)[-1].split("/", 1)[-1].rstrip("/") or code_url


def render_plain(papers: Sequence[PaperView], *, tag: str, day: dt.date | None) -> str:
    """A digest as plain text, for the terminal preview."""
    when = f"на {date_ru(day)}" if day else "за всё время"
    header = (
        f"☀️ Дайджест {when} · {hashtag(tag)} · {count(len(papers), 'статья', 'статьи', 'статей')}"
    )
    blocks = [header]
    for number, paper in enumerate(papers, 1):
        lines = [f"{number}. {paper.title}", paper.summary, paper.url]
        extras = []
        if paper.code_url:
            extras.append(f"💻 {paper.code_url}")
        if paper.project_url:
            extras.append(f"🌐 {paper.project_url}")
        if paper.upvotes:
            extras.append(f"👍 {paper.upvotes}")
        if extras:
            lines.append(" · ".join(extras))
        if paper.tags:
            lines.append(" ".join(hashtag(t) for t in paper.tags))
        if paper.why:
            lines.append(_WHY_MARK + paper.why)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------------------------
# Telegram HTML
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One message of a digest and the papers it carries, so delivery can record them."""

    text: str
    paper_ids: tuple[str, ...]
    # Each paper's number in the digest text, in the order of paper_ids.
    numbers: tuple[int, ...] = ()
    # The papers of this message that came under "Может быть интересно".
    suggested: frozenset[str] = frozenset()
    # The papers whose late code this message tells, under "Код появился".
    code_ids: tuple[str, ...] = ()


def render_digest(
    papers: Sequence[PaperView],
    *,
    day: dt.date,
    tags: Sequence[str],
    more: int = 0,
    more_hint: str = "/digest",
    topics: Sequence[str] = (),
    digest_format: DigestFormat = DigestFormat.FULL,
    week_from: dt.date | None = None,
) -> list[str]:
    """A chat's morning digest as Telegram HTML messages, each within 4096 characters."""
    parts = render_digest_parts(
        papers,
        day=day,
        tags=tags,
        more=more,
        more_hint=more_hint,
        topics=topics,
        digest_format=digest_format,
        week_from=week_from,
    )
    return [part.text for part in parts]


def render_digest_parts(
    papers: Sequence[PaperView],
    *,
    day: dt.date,
    tags: Sequence[str],
    more: int = 0,
    more_hint: str = "/digest",
    topics: Sequence[str] = (),
    suggestions: Sequence[PaperView] = (),
    digest_format: DigestFormat = DigestFormat.FULL,
    week_from: dt.date | None = None,
    code_followups: Sequence[PaperView] = (),
) -> list[DigestPart]:
    """The digest's messages, each with the ids and numbers of the papers it holds.

    ``topics`` are the chat's followed words and authors as the header names them
    («watermark», Yann LeCun), after its tags. ``suggestions`` (at most three are shown)
    follow the chat's papers under a heading of their own, numbered on, each with its 📌 line.
    In the compact format each summary is folded into an expandable quote under its title.
    With ``week_from``, it is the week's digest, of the days from ``week_from`` to ``day``.
    ``code_followups`` (papers the chat received without code, with their code now) end the
    digest under «💻 Код появился», one line each; without papers they make the whole message.
    """
    followups = _code_section(code_followups)
    if not papers and not suggestions and followups:
        return _split([], followups)
    folded = digest_format is DigestFormat.COMPACT
    suggestions = [replace(p, why=SUGGESTION_WHY) for p in suggestions[:MAX_SUGGESTIONS]]
    header = _digest_header(papers, day=day, tags=tags, topics=topics, week_from=week_from)
    interests = len(set(tags)) + len(set(topics))
    more_line = _more_line(more, more_hint, topics=interests) if more > 0 else ""
    if not papers and not suggestions:
        return [DigestPart(_join(header, f"Новых статей {_where(interests)} нет.", more_line), ())]
    # Any block may share a message with the header and the more-line, so it is fitted to
    # what is left of the limit after both; only monstrous summaries ever lose text to this.
    room = MAX_MESSAGE_LENGTH - _len(header) - len(_PARAGRAPH)
    if more_line:
        room -= _len(more_line) + len(_PARAGRAPH)
    blocks: list[_Piece] = []
    if not papers:
        nothing = f"Новых статей {_where(interests)} нет."
        blocks.append(_Piece(nothing, _len(nothing)))
    blocks += [
        _Piece(*_block(paper, f"{n}. ", room, folded=folded), paper.id, n)
        for n, paper in enumerate(papers, 1)
    ]
    # The heading travels with the first suggestion, so it never ends a message alone.
    heading = f"<b>{_esc(SUGGESTIONS_HEADING)}</b>"
    for n, paper in enumerate(suggestions, len(papers) + 1):
        lead = heading + _PARAGRAPH if n == len(papers) + 1 else ""
        block, size = _block(paper, f"{n}. ", room - _len(lead), folded=folded)
        blocks.append(_Piece(lead + block, _len(lead) + size, paper.id, n, suggested=True))
    if more_line:
        blocks.append(_Piece(more_line, _len(more_line)))
    return _split([_Piece(header, _len(header)), *blocks], followups)


def _split(pieces: Sequence[_Piece], followups: Sequence[_Piece]) -> list[DigestPart]:
    """The pieces laid into as few messages as fit, in order, never splitting a piece."""
    messages: list[list[_Piece]] = [[]]
    # Lengths are added up rather than re-measured: UTF-16 lengths of joined strings add.
    size = 0
    for piece in [*pieces, *followups]:
        # Joiners are line breaks: one UTF-16 unit each.
        joined = size + len(piece.joiner) + piece.size if messages[-1] else piece.size
        if joined <= MAX_MESSAGE_LENGTH:
            messages[-1].append(piece)
            size = joined
        else:
            messages.append([piece])
            size = piece.size
    return [_part(message) for message in messages]


class _Piece(NamedTuple):
    """A block of a digest message: a paper's, or a line of the digest's own."""

    # A named tuple, not a frozen dataclass: a digest makes a score of them, and a frozen
    # dataclass's __init__ costs several times as much.

    text: str
    size: int
    paper_id: str | None = None
    number: int = 0
    suggested: bool = False
    code_id: str | None = None  # the paper whose late code this line tells
    joiner: str = _PARAGRAPH  # what separates it from the piece before it in a message


def _part(pieces: Sequence[_Piece]) -> DigestPart:
    papers = [piece for piece in pieces if piece.paper_id is not None]
    text = "".join((piece.joiner if n else "") + piece.text for n, piece in enumerate(pieces))
    return DigestPart(
        text,
        tuple(piece.paper_id for piece in papers if piece.paper_id is not None),
        numbers=tuple(piece.number for piece in papers),
        suggested=frozenset(p.paper_id for p in papers if p.paper_id is not None and p.suggested),
        code_ids=tuple(piece.code_id for piece in pieces if piece.code_id is not None),
    )


def _code_section(papers: Sequence[PaperView]) -> list[_Piece]:
    """The «Код появился» lines; the heading travels with the first, lines share a paragraph."""
    heading = f"<b>{_esc(CODE_HEADING)}</b>\n"
    pieces: list[_Piece] = []
    for paper in papers:
        line = _code_line(paper)
        if line is None:
            continue
        if pieces:
            pieces.append(_Piece(line, _len(line), code_id=paper.id, joiner="\n"))
        else:
            pieces.append(_Piece(heading + line, _len(heading + line), code_id=paper.id))
    return pieces


def _code_line(paper: PaperView) -> str | None:
    """``• Title — 💻 owner/repo``, both linked; None when the code link is not a safe URL."""
    code = safe_url(paper.code_url)
    if code is None:
        return None
    title = _esc(_clip(_clean(paper.title) or _NO_TITLE, _FOLLOWUP_TITLE))
    href = safe_url(paper.url)
    if href and _len(_esc(href)) <= _FOLLOWUP_HREF:
        title = f'<a href="{_esc(href)}">{title}</a>'
    label = _esc(_clip(_clean(repo_label(code)), _MAX_REPO_LABEL))
    repo = f'<a href="{_esc(code)}">{label}</a>' if _len(_esc(code)) <= _FOLLOWUP_HREF else label
    return f"• {title} — 💻 {repo}"


def render_card(paper: PaperView) -> str:
    """A compact HTML card of one paper for /search and inline results, ≤ 1024 characters."""
    return _fit_block(paper, "", _card_summary(paper.summary), MAX_CARD_LENGTH, why=paper.why)


SEARCH_CARD_LENGTH: Final[int] = 700
"""Room for one result of a search page: five of them and a header fit in one message."""


def render_search_page(papers: Sequence[PaperView], *, header: str, first_number: int) -> str:
    """A page of search results: the (HTML) header and numbered compact cards, ≤ 4096."""
    blocks = [header]
    room = min(SEARCH_CARD_LENGTH, (MAX_MESSAGE_LENGTH - _len(header)) // max(len(papers), 1) - 2)
    for number, paper in enumerate(papers, first_number):
        summary = _card_summary(paper.summary)
        blocks.append(_fit_block(paper, f"{number}. ", summary, room, why=paper.why))
    return _PARAGRAPH.join(blocks)


def card_summary(paper: PaperView) -> str:
    """The one-line plain summary a card shows: the first sentence, at most 200 characters."""
    return _card_summary(paper.summary)


def _card_summary(summary: str) -> str:
    text = _first_sentence(_clean(summary))
    if len(text) > CARD_SUMMARY_CHARS:
        text = _shorten(text, lambda cut: len(cut) <= CARD_SUMMARY_CHARS)
    return text


def _digest_header(
    papers: Sequence[PaperView],
    *,
    day: dt.date,
    tags: Sequence[str],
    topics: Sequence[str],
    week_from: dt.date | None = None,
) -> str:
    """First line of a digest: date, the chat's topics, how many papers."""
    wanted = [tag for tag in dict.fromkeys(tags) if _hashtag(tag)]
    present = {tag for paper in papers for tag in paper.tags}
    # Name the topics this digest actually covers; if the papers carry none of them (tags
    # not known yet), the chat's own topics still say what the digest is about.
    shown = [_hashtag(tag) for tag in wanted if tag in present] or [_hashtag(t) for t in wanted]
    # Followed words and authors come after the tags, clipped: they are typed by users.
    shown += [_esc(_clip(_clean(topic), 40)) for topic in dict.fromkeys(topics) if _clean(topic)]
    if week_from is None:
        parts = [f"☀️ <b>Дайджест на {_esc(date_ru(day))}</b>"]
    else:
        parts = [f"☀️ <b>Дайджест недели: {_esc(date_range_ru(week_from, day))}</b>"]
    if shown:
        named = " ".join(shown[:HEADER_TAGS])
        if len(shown) > HEADER_TAGS:
            named += f" и ещё {len(shown) - HEADER_TAGS}"
        parts.append(named)
    parts.append(_esc(count(len(papers), "статья", "статьи", "статей")))
    return " · ".join(parts)


def _more_line(more: int, hint: str, *, topics: int) -> str:
    """The closing line: "Ещё 3 статьи по вашим темам — /digest"."""
    line = f"Ещё {count(more, 'статья', 'статьи', 'статей')} {_where(topics)}"
    hint = _clean(hint)
    return _esc(f"{line} — {hint}" if hint else line)


def _where(topics: int) -> str:
    """Where the papers come from: one topic of the chat or several."""
    return "по вашей теме" if topics == 1 else "по вашим темам"


@dataclass(frozen=True, slots=True)
class _Block:
    """The parts of a paper block other than its summary, ready to be laid out."""

    prefix: str  # "7. " in a digest, "" on a card
    title: str
    href: str | None
    extras: tuple[str, ...]  # HTML fragments of the links line, already escaped
    tags: tuple[str, ...]
    why: str = ""  # plain text of the 📌 line
    folded: bool = False  # the summary in an expandable quote (the compact format)

    def render(self, summary: str) -> str:
        """Lay the block out with this (plain) summary; an empty one leaves its line out."""
        title = _esc(self.title)
        if self.href:
            title = f'<a href="{_esc(self.href)}">{title}</a>'
        lines = [f"{_esc(self.prefix)}<b>{title}</b>"]
        if summary and self.folded:
            lines.append(_QUOTE_OPEN + _esc(summary) + _QUOTE_CLOSE)
        elif summary:
            lines.append(_esc(summary))
        if self.extras:
            lines.append(" · ".join(self.extras))
        hashtags = [tag for tag in map(_hashtag, self.tags) if tag]
        if hashtags:
            lines.append(" ".join(hashtags))
        if self.why:
            lines.append(_esc(_WHY_MARK + self.why))
        return "\n".join(lines)

    def summary_markup(self) -> int:
        """What a summary's line adds to the block besides its escaped text."""
        quote = _len(_QUOTE_OPEN + _QUOTE_CLOSE) if self.folded else 0
        return len("\n") + quote


def _block(paper: PaperView, prefix: str, limit: int, *, folded: bool = False) -> tuple[str, int]:
    """The paper's block and its length, shortened only if it would not fit in ``limit``."""
    # Nearly every block fits untouched; building (and measuring) it once per paper and
    # position serves a whole broadcast, whatever room each chat's header leaves.
    # The 📌 line differs between chats while the rest of the block does not: the block is
    # built once per paper and position, and the line added.
    block, size = _full_block(paper, prefix, folded)
    if paper.why:
        line, length = _why_line(paper.why)
        block, size = block + line, size + length
    if size <= limit:
        return block, size
    block = _fit_block(paper, prefix, paper.summary, limit, why=paper.why, folded=folded)
    return block, _len(block)


@functools.lru_cache(maxsize=16384)
def _why_line(why: str) -> tuple[str, int]:
    """The 📌 line as it ends a block, with its line break, and its length."""
    line = "\n" + _esc(_WHY_MARK + _clip(_clean(why), _MAX_WHY))
    return line, _len(line)


@functools.lru_cache(maxsize=16384)
def _full_block(paper: PaperView, prefix: str, folded: bool) -> tuple[str, int]:
    # Without the 📌 line, which is no part of the cache key.
    block = _fit_block(paper, prefix, paper.summary, MAX_MESSAGE_LENGTH, why="", folded=folded)
    return block, _len(block)


def _fit_block(
    paper: PaperView, prefix: str, summary: str, limit: int, *, why: str, folded: bool = False
) -> str:
    """A paper block of at most ``limit`` characters, shortening or shedding parts to fit."""
    title = _clean(paper.title) or _NO_TITLE
    summary = _clean(summary)
    links = _links(paper)
    upvotes = (f"👍 {paper.upvotes}",) if paper.upvotes > 0 else ()
    why = _clip(_clean(why), _MAX_WHY) if why else ""
    full = _Block(prefix, title, safe_url(paper.url), links + upvotes, paper.tags, why, folded)
    short = replace(full, title=_clip(title, _SHORT_TITLE))
    # From the full block to ever barer ones: the first that leaves room for the summary, or
    # at least for a worthwhile cut of it, wins.  Real papers stop at the first or second.
    variants = (
        full,
        short,
        replace(short, extras=upvotes),
        replace(short, extras=upvotes, tags=()),
        replace(short, extras=upvotes, tags=(), href=None),
    )
    for block in variants:
        bare = block.render("")
        room = limit - _len(bare) - block.summary_markup()
        if _len(_esc(summary)) <= room:
            return block.render(summary)
        if room >= _MIN_SUMMARY:
            return block.render(_shorten(summary, _escaped_within(room)))
    last = variants[-1]
    if _len(last.render("")) <= limit:
        return last.render("")
    # Only a title of thousands of escaped characters ("<<<…") gets here.
    room = limit - _len(replace(last, title="").render(""))
    return replace(last, title=_shorten(title, _escaped_within(room))).render("")


def _links(paper: PaperView) -> tuple[str, ...]:
    """Code and project links as HTML fragments; links that are not http(s) are dropped."""
    links: list[str] = []
    code = safe_url(paper.code_url)
    if code:
        label = _clip(_clean(repo_label(code)), _MAX_REPO_LABEL)
        links.append(f'💻 <a href="{_esc(code)}">{_esc(label)}</a>')
    project = safe_url(paper.project_url)
    if project and project != code:
        links.append(f'🌐 <a href="{_esc(project)}">{_PROJECT_LABEL}</a>')
    return tuple(links)


def _shorten(text: str, fits: Callable[[str], bool]) -> str:
    """The longest cut of text at a sentence or word end, marked with "…", that fits."""
    if fits(text):
        return text
    if not fits(_ELLIPSIS):
        return ""
    # Binary search for the longest prefix that fits with its "…": fits is monotonic, since
    # escaping a longer prefix never yields a shorter string.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle] + _ELLIPSIS):
            low = middle
        else:
            high = middle - 1
    cut = low
    # Back off to a sentence end, else a word end, unless that would lose over half the text.
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() <= low]
    space = text.rfind(" ", 0, low + 1)
    if sentence_ends and sentence_ends[-1] * 2 >= low:
        cut = sentence_ends[-1]
    elif space * 2 >= low:
        cut = space
    head = text[:cut]
    return (head.rstrip(_TRAILING_PUNCT) or head.rstrip()) + _ELLIPSIS


def _escaped_within(room: int) -> Callable[[str], bool]:
    """A test that plain text, once escaped, takes at most ``room`` characters."""
    return lambda text: _len(_esc(text)) <= room


def _clip(text: str, limit: int) -> str:
    """Text of at most ``limit`` characters, cut at a word end with "…" when longer."""
    return text if len(text) <= limit else _shorten(text, lambda cut: len(cut) <= limit)


def _first_sentence(text: str) -> str:
    """The first sentence of text, or all of it when it has one."""
    match = _SENTENCE_END.search(text)
    return text[: match.end()] if match else text


def _clean(text: str | None) -> str:
    """Text on one line: controls and line breaks become spaces, runs of spaces collapse.

    Blocks are laid out line by line and separated by blank lines, so a stored newline would
    fake a new paper; lone surrogates would make Telegram reject the whole message.
    """
    if not text:
        return ""
    if text.isprintable():
        # Nearly every stored text: no controls, breaks or surrogates to look at one by one.
        return _SPACES.sub(" ", text).strip()
    chars = [
        " " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char
        for char in text
        if unicodedata.category(char) != "Cs"
    ]
    return _SPACES.sub(" ", "".join(chars)).strip()


def safe_url(url: str | None) -> str | None:
    """The URL if it is an http(s) link Telegram keeps, else None (shown unlinked or dropped)."""
    if not url:
        return None
    url = url.strip()
    if len(url) > _MAX_URL or any(
        char.isspace() or unicodedata.category(char) in {"Cc", "Cs"} for char in url
    ):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port, which Telegram rejects
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"}:
        return None
    # Telegram drops links to hosts without a dot ("http://localhost"), IPv6 literals aside.
    if "." not in (parts.hostname or "") and "[" not in parts.netloc:
        return None
    return url


@functools.lru_cache(maxsize=4096)
def _hashtag(tag: str) -> str:
    """A tag as an escaped hashtag, "" for a blank one; clipped if unreasonably long."""
    # Cached: every digest header names its chat's few tags, out of a fixed taxonomy.
    clean = _clean(tag)
    return _esc(hashtag(_clip(clean, _MAX_TAG_CHARS))) if clean else ""


def _esc(text: str) -> str:
    """Escape plain text for Telegram HTML; quotes too, so it is safe in attributes."""
    return html.escape(text, quote=True)


def _len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _join(*parts: str) -> str:
    """Non-empty parts separated by blank lines."""
    return _PARAGRAPH.join(part for part in parts if part)
