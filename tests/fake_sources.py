"""A fake HF Daily Papers API and arXiv API for tests: a real HTTP server on 127.0.0.1.

Point the bot at it with ``HF_API_URL=fake.hf_url`` and ``ARXIV_API_URL=fake.arxiv_url``::

    async with FakeSources() as fake:
        fake.hf_days[date(2024, 12, 19)] = (FIXTURES / "hf_daily_2024-12-19.json").read_bytes()
        fake.arxiv_response = (FIXTURES / "arxiv_cs_sample.xml").read_bytes()
        fake.fail_next(HF_PATH, 503)               # the next HF request gets a 503
        fake.always_status[ARXIV_PATH] = 429       # every arXiv request gets a 429
        fake.delay[HF_PATH] = 2.0                  # HF answers after 2 s (client timeouts)
        ...
        assert fake.requests_to(ARXIV_PATH)[0].user_agent.startswith("ai-digest-bot/")

What it serves:

- ``GET /api/daily_papers?date=YYYY-MM-DD``: ``hf_days[date]``; bytes are sent verbatim (use
  them for invalid JSON), anything else as JSON. A day not in ``hf_days`` is an empty list; a
  malformed date is a 400, as on HF.
- ``GET /api/query?start=S&max_results=N``: the entries S … S+N of ``arxiv_response``, with the
  feed's header and opensearch indices kept, as the arXiv API pages. A body without entries
  (an empty feed, broken XML) is sent verbatim.

Every request is logged in ``requests`` with monotonic start and finish times, so tests can
assert pacing, concurrency (``max_in_flight``) and headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_server import FakeServer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HF_PATH = "/api/daily_papers"
# One item of HF's daily_papers answer, as JSON.
JSONItem = dict[str, Any]
ARXIV_PATH = "/api/query"

EMPTY_ARXIV_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=&amp;id_list=&amp;start=0&amp;max_results=10</title>
  <id>http://arxiv.org/api/empty</id>
  <updated>2024-12-19T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">10</opensearch:itemsPerPage>
</feed>
"""

_ENTRY = re.compile(rb"<entry>.*?</entry>\s*", re.DOTALL)
_START_INDEX = re.compile(rb"(<opensearch:startIndex[^>]*>)\d+(</opensearch:startIndex>)")
_PER_PAGE = re.compile(rb"(<opensearch:itemsPerPage[^>]*>)\d+(</opensearch:itemsPerPage>)")

_FAULT_BODIES = {
    429: b"Rate exceeded.",
    503: b"<html><body><h1>503 Service Unavailable</h1>Retry later.</body></html>",
}


@dataclass
class RecordedRequest:
    """One request the fake received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    started: float  # time.monotonic() when it arrived
    finished: float | None = None  # time.monotonic() when the answer was ready
    status: int | None = None

    @property
    def user_agent(self) -> str:
        """The User-Agent header, or ""."""
        return self.headers.get("User-Agent", "")


class FakeSources(FakeServer):
    """The fake HF and arXiv APIs; see the module docstring.

    ``url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.hf_days: dict[dt.date, bytes | object] = {}
        """What ``daily_papers`` serves per date: bytes verbatim, anything else as JSON."""
        self.arxiv_response: bytes = EMPTY_ARXIV_FEED
        """The whole arXiv listing, newest first; served page by page."""
        self.always_status: dict[str, int] = {}
        """A status every request to a path gets (e.g. ``{ARXIV_PATH: 503}``)."""
        self.delay: dict[str, float] = {}
        """Seconds to wait before answering requests to a path."""
        self.requests: list[RecordedRequest] = []
        self.max_in_flight: Counter[str] = Counter()
        """The most requests to a path that were being served at once."""
        self._next_statuses: defaultdict[str, deque[int]] = defaultdict(deque)
        self._in_flight: Counter[str] = Counter()
        self._stopping: asyncio.Event | None = None

    def _on_start(self) -> None:
        # Events bind to the running loop on first use; tests get a fresh loop each.
        self._stopping = asyncio.Event()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get(HF_PATH, self._daily_papers)
        app.router.add_get(ARXIV_PATH, self._arxiv_query)

    def _on_stop(self) -> None:
        # Cut pending delays short, so shutdown does not wait for them.
        if self._stopping is not None:
            self._stopping.set()

    @property
    def hf_url(self) -> str:
        """The HF_API_URL for the bot (``…/api``)."""
        return f"{self.url}/api"

    @property
    def arxiv_url(self) -> str:
        """The ARXIV_API_URL for the bot (``…/api/query``)."""
        return f"{self.url}{ARXIV_PATH}"

    def fail_next(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with these statuses, one each, then normally."""
        self._next_statuses[path].extend(statuses)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The logged requests to `path`, oldest first."""
        return [r for r in self.requests if r.path == path]

    # --- handlers ---------------------------------------------------------------------------

    async def _daily_papers(self, request: web.Request) -> web.Response:
        async with self._serving(request) as record:
            if fault := self._fault(HF_PATH):
                return _finish(record, fault)
            try:
                day = dt.date.fromisoformat(request.query.get("date", ""))
            except ValueError:
                return _finish(record, web.json_response({"error": "Invalid date"}, status=400))
            payload = self.hf_days.get(day, [])
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            return _finish(record, web.Response(body=body, content_type="application/json"))

    async def _arxiv_query(self, request: web.Request) -> web.Response:
        async with self._serving(request) as record:
            if fault := self._fault(ARXIV_PATH):
                return _finish(record, fault)
            start = int(request.query.get("start", "0"))
            size = int(request.query.get("max_results", "10"))
            body = _arxiv_page(self.arxiv_response, start, size)
            return _finish(record, web.Response(body=body, content_type="application/atom+xml"))

    @contextlib.asynccontextmanager
    async def _serving(self, request: web.Request) -> AsyncIterator[RecordedRequest]:
        record = RecordedRequest(
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            started=time.monotonic(),
        )
        self.requests.append(record)
        self._in_flight[request.path] += 1
        self.max_in_flight[request.path] = max(
            self.max_in_flight[request.path], self._in_flight[request.path]
        )
        try:
            if delay := self.delay.get(request.path, 0.0):
                assert self._stopping is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
            yield record
        finally:
            self._in_flight[request.path] -= 1
            record.finished = time.monotonic()

    def _fault(self, path: str) -> web.Response | None:
        queued = self._next_statuses[path]
        status = queued.popleft() if queued else self.always_status.get(path)
        if status is None:
            return None
        return web.Response(status=status, body=_FAULT_BODIES.get(status, b"error"))


def _finish(record: RecordedRequest, response: web.Response) -> web.Response:
    record.status = response.status
    return response


def _arxiv_page(feed: bytes, start: int, size: int) -> bytes:
    entries = list(_ENTRY.finditer(feed))
    if not entries:
        return feed
    head, tail = feed[: entries[0].start()], feed[entries[-1].end() :]
    head = _START_INDEX.sub(rb"\g<1>%d\g<2>" % start, head)
    head = _PER_PAGE.sub(rb"\g<1>%d\g<2>" % size, head)
    return head + b"".join(m.group() for m in entries[start : start + size]) + tail


def hf_day(titles: Sequence[str], *, first_id: str, abstract: str | None = None) -> list[JSONItem]:
    """A day of HF Daily Papers items in HF's response format, one per title, best first.

    Each is a copy of the real fixture's first item with its own arXiv id (``first_id`` counted
    up, e.g. "2412.30000"), title and, if given, abstract; upvotes fall in the given order.
    """
    item = json.loads((FIXTURES / "hf_daily_2024-12-19.json").read_text("utf-8"))[0]
    prefix, number = first_id.split(".")
    papers = []
    for n, title in enumerate(titles):
        paper = copy.deepcopy(item)
        paper["paper"]["id"] = f"{prefix}.{int(number) + n}"
        paper["paper"]["title"] = paper["title"] = title
        if abstract is not None:
            paper["paper"]["summary"] = paper["summary"] = abstract
        paper["paper"]["upvotes"] = len(titles) - n
        papers.append(paper)
    return papers
