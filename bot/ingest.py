"""Ingest: fetch the day's papers, find code, tag, store, and summarise each paper once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity.wait import WaitBaseT

from bot.settings import Settings
from bot.vectors import EmbeddingModel
from content.embeddings import (
    EmbeddingError,
    LocalModel,
    RemoteModel,
    embed_passages_locally,
    passage_text,
)
from content.links import find_code_url, find_project_url
from content.models import CatalogEntry, Paper, Source, SummaryStatus
from content.sources import hf_daily
from content.sources.arxiv import ArxivSource, make_arxiv_client
from content.sources.base import SourceError, merge_papers
from content.summarize import LLMConfig, Summarizer
from content.tagging import tag_paper
from content.vectors import Vector
from storage import papers as catalog
from storage import vectors as stored_vectors

log = logging.getLogger(__name__)

# The LLM's tags: with the quotes that show them, or bare ids from a server that gave none.
LlmVotes = Mapping[str, str] | tuple[str, ...]
_In = TypeVar("_In")
_Out = TypeVar("_Out")
# Batches of at least this many papers are tagged in the tagging process.
_WORKER_BATCH = 32

# Failed and fallback summaries are retried while the paper is this recent.
RETRY_WINDOW = dt.timedelta(days=3)
MAX_SUMMARY_ATTEMPTS = 10
# Summaries are saved in batches so a crash keeps most of the work already paid for.
SAVE_BATCH = 50
# Papers embedded and saved at a time: about 3 s of the worker's CPU with the embedded model.
EMBED_BATCH = 32
# At most this many papers are embedded by one run, newest first (about 3 minutes of CPU): a
# catalogue that predates embeddings fills up over a few runs, or at once with `reembed`.
EMBED_PER_RUN = 2000

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a run advances."""


@dataclass(slots=True)
class IngestReport:
    """What one ingest run did."""

    papers: int = 0
    new: int = 0
    updated: int = 0
    with_code: int = 0
    summarised: int = 0
    fallback: int = 0
    embedded: int = 0
    llm_calls: int = 0
    failed_sources: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every source could be read."""
        return not self.failed_sources

    def line(self) -> str:
        """One summary line, e.g. "23 papers: 5 new, 18 updated, 4 with code, ..."."""
        text = (
            f"{self.papers} papers: {self.new} new, {self.updated} updated, "
            f"{self.with_code} with code, {self.summarised} summarised, {self.fallback} fallback"
        )
        if self.embedded:
            text += f", {self.embedded} embedded"
        if self.failed_sources:
            text += f"; failed: {', '.join(self.failed_sources)}"
        return text


def llm_config(settings: Settings) -> LLMConfig | None:
    """The LLM settings, or None when no LLM is configured."""
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMConfig(
        base_url=settings.llm_base_url,
        api_key=key,
        model=settings.llm_model,
        concurrency=settings.llm_concurrency,
        max_tokens=settings.llm_max_tokens,
    )


class Ingestor:
    """Runs ingest; one per process, so arXiv pacing holds across runs."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], dt.datetime],
        summarizer: Summarizer | None = None,
        embedder: EmbeddingModel | None = None,
        arxiv: ArxivSource | None = None,
        source_wait: WaitBaseT | None = None,
        http_timeout: float = 30,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._source_wait = source_wait
        self._http = httpx.AsyncClient(timeout=http_timeout)
        self._arxiv_http: httpx.AsyncClient | None = None
        self._summarizer = summarizer or Summarizer(llm_config(settings))
        self._arxiv = arxiv
        self._embedder = embedder
        self._tagger: ProcessPoolExecutor | None = None

    @property
    def summarizer(self) -> Summarizer:
        """The summarizer, for its running totals."""
        return self._summarizer

    async def aclose(self) -> None:
        """Close the HTTP clients and the tagging process, each even when another fails to."""
        async with contextlib.AsyncExitStack() as resources:
            resources.push_async_callback(self._http.aclose)
            resources.push_async_callback(self._summarizer.aclose)
            if self._arxiv_http is not None:
                resources.push_async_callback(self._arxiv_http.aclose)
            if self._tagger is not None:
                tagger, self._tagger = self._tagger, None
                resources.push_async_callback(
                    asyncio.to_thread, tagger.shutdown, cancel_futures=True
                )

    async def run(
        self,
        days: Sequence[dt.date],
        sources: Sequence[Source],
        progress: Progress | None = None,
    ) -> IngestReport:
        """Fetch, enrich, store and summarise; a failing source never stops the others."""
        report = IngestReport()
        calls_before = self._summarizer.calls
        found = await self._fetch(days, sources, report)
        entries = await self._off_the_loop(enrich_all, found)
        report.papers = len(entries)
        report.with_code = sum(1 for e in entries if e.code_url)
        async with self._sessionmaker() as session, session.begin():
            result = await catalog.upsert_papers(
                session=session, entries=entries, now=self._clock()
            )
        report.new, report.updated = len(result.new), len(result.updated)
        report.embedded = await self.embed_missing(limit=EMBED_PER_RUN, progress=progress)
        await self._summarise(report, progress)
        report.llm_calls = self._summarizer.calls - calls_before
        log.info("ingest finished: %s", report.line())
        return report

    async def embed_missing(self, *, limit: int | None, progress: Progress | None = None) -> int:
        """Embed the papers that have no vector of the current model yet; how many were.

        Newest first, at most ``limit`` (all with None), saved batch by batch. A failing
        endpoint is logged and the rest waits for the next run: it never fails the ingest.
        """
        model = self._embedder
        if model is None:
            return 0
        async with self._sessionmaker() as session:
            total = await stored_vectors.count_without_vectors(session=session, model=model.name)
        total = min(total, limit) if limit is not None else total
        done = 0
        while done < total:
            async with self._sessionmaker() as session:
                papers = await stored_vectors.texts_without_vectors(
                    session=session, model=model.name, limit=min(EMBED_BATCH, total - done)
                )
            if not papers:
                break
            texts = [passage_text(title, abstract) for _, title, abstract in papers]
            try:
                matrix = await self._embed(model, texts)
            except (EmbeddingError, OSError) as exc:
                log.error("embedding failed, will retry at the next run: %s", exc)
                break
            async with self._sessionmaker() as session, session.begin():
                await stored_vectors.save_vectors(
                    session=session,
                    model=model.name,
                    vectors={pid: row for (pid, _, _), row in zip(papers, matrix, strict=True)},
                    now=self._clock(),
                )
            done += len(papers)
            if progress is not None:
                progress("embeddings", done, total)
        return done

    async def _embed(self, model: EmbeddingModel, texts: list[str]) -> Vector:
        if isinstance(model, RemoteModel):
            return await model.embed(texts)
        if not isinstance(model, LocalModel):  # pragma: no cover - the union has two members
            raise TypeError(model)
        # The embedded model costs about 90 ms of CPU a paper: always in the worker process,
        # which loads it once and keeps it for the next batches and runs.
        return await asyncio.get_running_loop().run_in_executor(
            self._worker(), embed_passages_locally, texts
        )

    def _worker(self) -> ProcessPoolExecutor:
        if self._tagger is None:
            self._tagger = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
        return self._tagger

    async def _off_the_loop(self, work: Callable[[list[_In]], _Out], items: list[_In]) -> _Out:
        """Run CPU-bound tagging where it cannot stall the bot's replies.

        Tagging costs milliseconds a paper. A thread would share the interpreter's lock with
        the event loop and slow every reply for the length of an ingest, so a real batch goes
        to a process of its own, started on first use and kept for the next runs. A handful
        of papers is not worth starting it for.
        """
        if len(items) < _WORKER_BATCH:
            return await asyncio.to_thread(work, items)
        return await asyncio.get_running_loop().run_in_executor(self._worker(), work, items)

    async def _fetch(
        self, days: Sequence[dt.date], sources: Sequence[Source], report: IngestReport
    ) -> list[Paper]:
        lists: list[list[Paper]] = []
        if Source.HF in sources:
            for day in days:
                try:
                    lists.append(
                        await hf_daily.fetch_day(
                            self._http, self._settings.hf_api_url, day, wait=self._source_wait
                        )
                    )
                except (SourceError, httpx.HTTPError) as exc:
                    log.error("source failed, will retry at the next run: %s", exc)
                    report.failed_sources.append(f"hf {day.isoformat()}")
        if Source.ARXIV in sources:
            try:
                lists.append(await self._arxiv_source().fetch_since(min(days)))
            except (SourceError, httpx.HTTPError) as exc:
                log.error("source failed, will retry at the next run: %s", exc)
                report.failed_sources.append("arxiv")
        return merge_papers(*lists)

    def _arxiv_source(self) -> ArxivSource:
        if self._arxiv is None:
            self._arxiv_http = make_arxiv_client()
            self._arxiv = ArxivSource(
                self._arxiv_http, self._settings.arxiv_api_url, self._settings.arxiv_categories
            )
        return self._arxiv

    async def _summarise(self, report: IngestReport, progress: Progress | None) -> None:
        now = self._clock()
        has_llm = self._summarizer.config is not None
        async with self._sessionmaker() as session, session.begin():
            todo = await catalog.needing_summary(
                session=session,
                retry_since=now - RETRY_WINDOW,
                max_attempts=MAX_SUMMARY_ATTEMPTS,
                upgrade_fallbacks=has_llm,
            )
        for start in range(0, len(todo), SAVE_BATCH):
            batch = todo[start : start + SAVE_BATCH]
            summaries = await self._summarizer.summarize_many(batch)
            updates: list[catalog.SummaryUpdate] = []
            for paper, summary in zip(batch, summaries, strict=True):
                done = summary.status is SummaryStatus.DONE
                # With an LLM configured, a fallback is provisional until the deadline
                # passes: the next run tries the LLM again.
                status = summary.status if done or not has_llm else SummaryStatus.FAILED
                updates.append(
                    catalog.SummaryUpdate(paper.id, summary.title_ru, summary.summary_ru, status)
                )
                report.summarised += done
                report.fallback += not done
            votes: list[tuple[Paper, LlmVotes]] = [
                (paper, dict(s.tag_quotes) or s.tags)
                for paper, s in zip(batch, summaries, strict=True)
                if s.tags
            ]
            llm_tags = await self._off_the_loop(retag_all, votes)
            async with self._sessionmaker() as session, session.begin():
                await catalog.save_summaries(session=session, updates=updates, now=now)
                await catalog.add_tags(session=session, tags=llm_tags)
            if progress is not None:
                progress("summaries", min(start + SAVE_BATCH, len(todo)), len(todo))
        async with self._sessionmaker() as session, session.begin():
            await catalog.expire_failed(
                session=session, before=now - self._settings.summary_deadline
            )


def enrich(paper: Paper) -> CatalogEntry:
    """Find the paper's code and project links and its tags."""
    texts = (paper.abstract, paper.comment)
    return CatalogEntry(
        paper=paper,
        code_url=find_code_url(github_repo=paper.github_repo, texts=texts),
        project_url=find_project_url(project_page=paper.project_page, texts=texts),
        tags=tag_paper(paper),
    )


def enrich_all(papers: list[Paper]) -> list[CatalogEntry]:
    """``enrich`` for each paper, in one call (for the tagging process)."""
    return [enrich(paper) for paper in papers]


def retag_all(
    votes: list[tuple[Paper, LlmVotes]],
) -> dict[str, tuple[str, ...]]:
    """Each paper's tags with the LLM's choice (and the quotes that show it) weighed in."""
    return {paper.id: tag_paper(paper, llm_tags=llm_tags) for paper, llm_tags in votes}


def days_to_cover(now: dt.datetime) -> list[dt.date]:
    """Today and yesterday in UTC: HF's lists keep filling up during the day."""
    today = now.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=1), today]
