"""The arXiv API (Atom): the newest submissions in a few categories, politely.

arXiv asks for at most one request every 3 seconds over a single connection, and for
backing off when it answers 429 or 503. :class:`ArxivSource` keeps all three rules for every
request it sends, retries included; :func:`make_arxiv_client` builds a fitting client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final

import feedparser  # type: ignore[import-untyped]
import httpx
from aiolimiter import AsyncLimiter
from tenacity import wait_incrementing
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

ARXIV_ABS_URL: Final[str] = "https://arxiv.org/abs/"
DEFAULT_CATEGORIES: Final[tuple[str, ...]] = ("cs.CL", "cs.CV", "cs.LG")
REQUEST_PERIOD: Final[float] = 3.0
BACKOFF_STEP: Final[float] = 30.0
ATTEMPTS: Final[int] = 4
PAGE_SIZE: Final[int] = 200
MAX_RESULTS: Final[int] = 1000
WHAT: Final[str] = "arXiv API"


def default_backoff() -> WaitBaseT:
    """30 s × attempt between attempts, as arXiv asks."""
    return wait_incrementing(start=BACKOFF_STEP, increment=BACKOFF_STEP)


def make_arxiv_client(*, timeout: float = 60.0) -> httpx.AsyncClient:
    """An HTTP client for the arXiv API: one connection at most, the bot's User-Agent."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        headers={"User-Agent": USER_AGENT},
        timeout=timeout,
    )


def build_search_query(categories: Iterable[str]) -> str:
    """``cat:cs.CL OR cat:cs.CV …`` for the API's `search_query`."""
    return " OR ".join(f"cat:{category}" for category in categories)


class ArxivSource:
    """Reads the newest papers of some categories from the arXiv API, one paced request at a time.

    Share one instance per process: the pacing and the one-request-at-a-time rule hold
    across all of its calls.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        categories: Sequence[str] = DEFAULT_CATEGORIES,
        *,
        period: float = REQUEST_PERIOD,
        backoff: WaitBaseT | None = None,
        attempts: int = ATTEMPTS,
        page_size: int = PAGE_SIZE,
        max_results: int = MAX_RESULTS,
    ) -> None:
        if not categories:
            raise ValueError("ArxivSource needs at least one category")
        self._client = client
        self._url = base_url
        self._query = build_search_query(categories)
        self._limiter = AsyncLimiter(1, period)
        # The limiter spaces starts; the lock also keeps a slow response from overlapping the
        # next request, whatever connection limits the given client has.
        self._lock = asyncio.Lock()
        self._backoff = backoff if backoff is not None else default_backoff()
        self._attempts = attempts
        self._page_size = page_size
        self._max_results = max_results

    async def fetch_since(self, since: dt.date) -> list[Paper]:
        """Papers first published on `since` or later (UTC), newest first, up to the cap.

        Pages through the listing, newest first, until a page reaches back before `since`,
        the listing ends, or `max_results` entries have been read.
        """
        papers: list[Paper] = []
        seen: set[str] = set()
        start = 0
        while start < self._max_results:
            size = min(self._page_size, self._max_results - start)
            page = await self.fetch_page(start=start, max_results=size)
            for paper in page.papers:
                # Pages can shift while new submissions arrive; an entry may show up twice.
                if paper.listed_on >= since and paper.id not in seen:
                    seen.add(paper.id)
                    papers.append(paper)
            entries = len(page.papers) + len(page.skipped)
            oldest = min((p.listed_on for p in page.papers), default=None)
            if entries < size or (oldest is not None and oldest < since):
                break
            start += entries
        return papers

    async def fetch_page(self, *, start: int, max_results: int) -> ParseResult:
        """One page of the listing, newest submissions first."""
        params = {
            "search_query": self._query,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": str(start),
            "max_results": str(max_results),
        }
        async with self._lock:
            response = await get_with_retries(
                self._client,
                self._url,
                what=f"{WHAT} ({self._query}, start={start})",
                params=params,
                headers={"User-Agent": USER_AGENT},
                attempts=self._attempts,
                wait=self._backoff,
                retry_statuses={429, 503},
                limiter=self._limiter,
            )
        return parse_feed(response.content)


def parse_feed(body: bytes) -> ParseResult:
    """Papers of an arXiv API Atom response; SourceError when it is broken or an API error.

    A well-formed feed without entries is an empty result.
    """
    # Bytes, never str: feedparser would take a str for a URL or a file name to open.
    parsed: Any = feedparser.parse(bytes(body))
    if parsed.get("bozo") and not isinstance(
        parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride
    ):
        raise SourceError(f"{WHAT}: broken Atom XML ({parsed.get('bozo_exception')})")
    if not str(parsed.get("version", "")).startswith("atom"):
        raise SourceError(f"{WHAT}: the response is not an Atom feed")
    result = ParseResult()
    for index, entry in enumerate(parsed.get("entries", [])):
        raw_id = str(entry.get("id", ""))
        # The API reports a bad query as a feed with one entry whose id is an error URL.
        if "/api/errors" in raw_id:
            raise SourceError(f"{WHAT} error: {clean_text(entry.get('summary')) or raw_id}")
        paper = _parse_entry(entry)
        if isinstance(paper, str):
            result.skipped.append(Skipped(index=index, reason=paper, id=raw_id or None))
        else:
            result.papers.append(paper)
    return result


def _parse_entry(entry: Any) -> Paper | str:
    raw_id = entry.get("id")
    paper_id = normalize_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if paper_id is None:
        return f"id {raw_id!r} is not an arXiv id"
    title = clean_text(entry.get("title"))
    if title is None:
        return "missing title"
    abstract = clean_text(entry.get("summary"))
    if abstract is None:
        return "missing summary"
    published = entry.get("published_parsed")
    if published is None:
        return "missing published date"
    # feedparser gives published_parsed as a UTC struct_time.
    year, month, day, hour, minute, second = published[:6]
    published_at = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        listed_on=published_at.date(),
        source=Source.ARXIV,
        url=f"{ARXIV_ABS_URL}{paper_id}",
        authors=tuple(
            name for name in (clean_text(a.get("name")) for a in entry.get("authors", [])) if name
        ),
        published_at=published_at,
        comment=clean_text(entry.get("arxiv_comment")),
        categories=_categories(entry),
    )


def _categories(entry: Any) -> tuple[str, ...]:
    # The primary category first, then the cross-lists in feed order.
    terms = [(entry.get("arxiv_primary_category") or {}).get("term")]
    terms += [tag.get("term") for tag in entry.get("tags", [])]
    return tuple(dict.fromkeys(t.strip() for t in terms if isinstance(t, str) and t.strip()))
