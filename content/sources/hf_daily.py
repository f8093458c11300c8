"""Hugging Face Daily Papers: ``GET {HF_API_URL}/daily_papers?date=YYYY-MM-DD``.

The endpoint returns a JSON list. Items have changed shape over the years, and all of them
occur: 2024 items (an outer item around a ``paper`` object, no ``githubRepo`` or ``ai_*``),
2026 items (``githubRepo``, ``projectPage``, ``ai_keywords``, ``ai_summary``,
``organization``), and bare ``paper`` objects. Any field may be null or missing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Final

import httpx
from tenacity import wait_exponential
from tenacity.wait import WaitBaseT

from content.models import Paper, Source
from content.sources.base import (
    USER_AGENT,
    ParseResult,
    Skipped,
    SourceError,
    clean_text,
    get_with_retries,
    normalize_arxiv_id,
)

log = logging.getLogger(__name__)

HF_PAPER_URL: Final[str] = "https://huggingface.co/papers/"
# The endpoint pages at 50 items by default, and busy days list more; one request per day
# is the etiquette, so ask for the most it serves at once.
PAGE_LIMIT: Final[int] = 100
ATTEMPTS: Final[int] = 4


class _Skip(Exception):
    def __init__(self, reason: str, raw_id: str | None = None) -> None:
        super().__init__(reason)
        self.raw_id = raw_id


def default_wait() -> WaitBaseT:
    """Exponential backoff between attempts: 1 s, 2 s, 4 s … up to 30 s."""
    return wait_exponential(multiplier=1, min=1, max=30)


async def fetch_day(
    client: httpx.AsyncClient,
    base_url: str,
    day: dt.date,
    *,
    attempts: int = ATTEMPTS,
    wait: WaitBaseT | None = None,
) -> list[Paper]:
    """The papers HF listed on `day`; SourceError when the list cannot be had.

    `base_url` is ``HF_API_URL`` (``https://huggingface.co/api``). Throttling (429), server
    errors and timeouts are retried `attempts` times with `wait` between attempts; items
    that cannot become a Paper are skipped and logged.
    """
    what = _what(day)
    response = await get_with_retries(
        client,
        f"{base_url.rstrip('/')}/daily_papers",
        what=what,
        params={"date": day.isoformat(), "limit": str(PAGE_LIMIT)},
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        attempts=attempts,
        wait=wait if wait is not None else default_wait(),
    )
    try:
        payload: object = json.loads(response.content)
    except ValueError as exc:
        raise SourceError(f"{what}: invalid JSON ({exc})") from exc
    result = parse_daily_papers(payload, day)
    for skipped in result.skipped:
        log.warning(
            "%s: skipped item %d (id %s): %s", what, skipped.index, skipped.id, skipped.reason
        )
    return result.papers


def parse_daily_papers(payload: object, day: dt.date) -> ParseResult:
    """Papers of a decoded ``daily_papers`` response listed on `day`, and the items skipped.

    Never raises on an odd item: it is skipped with the reason. A payload that is not a list
    is not a daily list at all, and raises SourceError.
    """
    if not isinstance(payload, list):
        raise SourceError(
            f"{_what(day)}: expected a JSON list of items, got {type(payload).__name__}"
        )
    result = ParseResult()
    seen: set[str] = set()
    for index, item in enumerate(payload):
        try:
            paper = _parse_item(item, day)
        except _Skip as skip:
            result.skipped.append(Skipped(index=index, reason=str(skip), id=skip.raw_id))
            continue
        if paper.id in seen:
            result.skipped.append(Skipped(index=index, reason="listed twice", id=paper.id))
            continue
        seen.add(paper.id)
        result.papers.append(paper)
    return result


def _what(day: dt.date) -> str:
    return f"HF daily papers for {day.isoformat()}"


def _parse_item(item: object, day: dt.date) -> Paper:
    if not isinstance(item, Mapping):
        raise _Skip(f"item is {type(item).__name__}, not an object")
    inner = item.get("paper")
    # A bare paper object (the /api/papers shape) carries its fields at the top level.
    paper: Mapping[str, object] = inner if isinstance(inner, Mapping) else item

    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise _Skip("missing paper.id")
    paper_id = normalize_arxiv_id(raw_id)
    if paper_id is None:
        raise _Skip(f"paper.id {raw_id!r} is not an arXiv id", raw_id)

    # The inner paper is the paper itself; the outer item is HF's post about it.
    title = clean_text(paper.get("title")) or clean_text(item.get("title"))
    if title is None:
        raise _Skip("missing title", raw_id)
    abstract = clean_text(paper.get("summary")) or clean_text(item.get("summary"))
    if abstract is None:
        raise _Skip("missing abstract (summary)", raw_id)

    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        listed_on=day,
        source=Source.HF,
        url=f"{HF_PAPER_URL}{paper_id}",
        authors=_authors(paper.get("authors")),
        published_at=_timestamp(paper.get("publishedAt")),
        upvotes=_count(paper.get("upvotes")),
        github_repo=_url(paper.get("githubRepo")) or _url(item.get("githubRepo")),
        project_page=_url(paper.get("projectPage")) or _url(item.get("projectPage")),
        ai_keywords=_keywords(paper.get("ai_keywords")) or _keywords(item.get("ai_keywords")),
    )


def _authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = []
    for author in value:
        # HF hides authors it matched wrongly; its page does not show them, nor do we.
        if isinstance(author, Mapping) and author.get("hidden") is not True:
            name = clean_text(author.get("name"))
            if name:
                names.append(name)
    return tuple(names)


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _keywords(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(word for word in (clean_text(v) for v in value) if word)
