"""Atom feeds of a tag: its latest papers in, the feed document's bytes out (RFC 4287)."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from feedgen.feed import FeedGenerator

from content.render import repo_label, safe_url
from content.taxonomy import Tag, hashtag

FEED_PAPERS: Final[int] = 50
"""Papers in a tag's feed, the latest first."""

MEDIA_TYPE: Final[str] = "application/atom+xml; charset=utf-8"

# Collaborations list hundreds of authors; a feed reader shows a line of them.
_MAX_AUTHORS: Final[int] = 10
# XML 1.0 forbids these characters, and lxml refuses a whole string with any of them in it.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Atom requires a date even for an empty feed; a fixed one keeps the bytes, and so the ETag,
# the same on every replica.
_NEVER: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class FeedPaper:
    """What a feed entry shows of one paper."""

    id: str
    title: str
    title_ru: str | None
    summary_ru: str | None
    url: str
    code_url: str | None
    project_url: str | None
    authors: tuple[str, ...]
    listed_on: dt.date
    updated_at: dt.datetime


def feed_path(tag_id: str) -> str:
    """The path a tag's feed is served at."""
    return f"/feeds/{tag_id}.atom"


def build_feed(
    tag: Tag,
    papers: Sequence[FeedPaper],
    *,
    home_url: str,
    publisher: str,
    self_url: str | None = None,
) -> bytes:
    """The tag's Atom feed, papers in the order given, under their Russian titles.

    ``home_url`` identifies the feed and is its alternate link (where a reader subscribes in
    Telegram); ``self_url`` is where the feed itself is served, when that is known.
    """
    feed = FeedGenerator()
    feed.id(home_url)
    feed.title(f"{hashtag(tag.id)} · {tag.name_ru}")
    feed.subtitle(tag.description_ru)
    feed.language("ru")
    feed.author(name=publisher)
    feed.link(href=home_url, rel="alternate")
    if self_url:
        feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.category(term=tag.id, label=tag.name_ru)
    feed.updated(max((paper.updated_at for paper in papers), default=_NEVER))
    for paper in papers:
        _add_entry(feed, paper)
    return bytes(feed.atom_str(pretty=True))


def _add_entry(feed: FeedGenerator, paper: FeedPaper) -> None:
    # The arXiv id names the paper whichever source listed it.
    canonical = f"https://arxiv.org/abs/{paper.id}"
    link = safe_url(paper.url) or canonical
    code = safe_url(paper.code_url)
    entry = feed.add_entry(order="append")
    entry.id(canonical)
    entry.title(_xml(paper.title_ru or paper.title))
    # Only one link: feedgen 1.0 writes an entry's links without their rel (its issue #135),
    # so a related code link would read as a second alternate, which Atom forbids. The code
    # link is in the content instead.
    entry.link(href=link, rel="alternate")
    entry.updated(paper.updated_at)
    entry.published(dt.datetime.combine(paper.listed_on, dt.time(), dt.UTC))
    authors = [{"name": _xml(name)} for name in paper.authors[:_MAX_AUTHORS] if name.strip()]
    if authors:
        entry.author(authors)
    if paper.summary_ru:
        entry.summary(_xml(paper.summary_ru))
    entry.content(_xml(_content_html(paper, link, code)), type="html")


def _content_html(paper: FeedPaper, link: str, code: str | None) -> str:
    """The entry's body: the summary, the original title and the links."""
    esc = html.escape
    parts = []
    if paper.summary_ru:
        parts.append(f"<p>{esc(paper.summary_ru)}</p>")
    if paper.title_ru and paper.title_ru != paper.title:
        parts.append(f"<p><i>{esc(paper.title)}</i></p>")
    links = [f'<a href="{esc(link)}">Статья</a>']
    if code:
        links.append(f'💻 <a href="{esc(code)}">{esc(repo_label(code))}</a>')
    project = safe_url(paper.project_url)
    if project and project != code:
        links.append(f'🌐 <a href="{esc(project)}">проект</a>')
    parts.append(f"<p>{' · '.join(links)}</p>")
    return "".join(parts)


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)
