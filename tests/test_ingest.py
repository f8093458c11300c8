"""Ingest turns a day of HF Daily Papers into a tagged, summarised catalogue."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tenacity import wait_none

from bot.ingest import Ingestor, llm_config
from bot.settings import Settings
from content.models import Source
from content.sources.arxiv import ArxivSource
from content.summarize import Summarizer
from storage.db import create_engine, create_sessionmaker
from storage.models import Paper, PaperTag
from tests.fake_llm import FakeLLM
from tests.fake_sources import HF_PATH, FakeSources
from tests.harness import LLM_API_KEY

FIXTURES = Path(__file__).parent / "fixtures"
DAY = dt.date(2024, 12, 19)
HF_DAY = FIXTURES / "hf_daily_2024-12-19.json"
SEED = {
    "2412.13871": "https://github.com/thunlp/LLaVA-UHD",
    "2412.09585": "https://github.com/SHI-Labs/OLA-VLM",
    "2411.15296": None,
    "2411.10442": None,
    "2411.10669": "https://github.com/MetabrainAGI/Awaker",
    "2411.02359": "https://github.com/yueyang130/DeeR-VLA",
}
NOW = dt.datetime(2024, 12, 19, 6, 0, tzinfo=dt.UTC)


def hf_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(HF_DAY.read_text(encoding="utf-8"))
    return items


def valid_ids() -> set[str]:
    return {
        item["paper"]["id"]
        for item in hf_items()
        if item.get("paper", {}).get("id") and item["paper"].get("summary")
    }


@pytest.fixture
async def sources() -> AsyncIterator[FakeSources]:
    async with FakeSources() as fake:
        fake.hf_days[DAY] = HF_DAY.read_bytes()
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as fake:
        yield fake


def settings_for(db_url: str, sources: FakeSources, llm: FakeLLM | None, **extra) -> Settings:
    return Settings(
        _env_file=None,
        database_url=db_url,
        hf_api_url=sources.hf_url,
        arxiv_api_url=sources.arxiv_url,
        llm_base_url=llm.url if llm else None,
        llm_api_key=LLM_API_KEY if llm else None,
        **extra,
    )


async def ingest(settings: Settings, *, now: dt.datetime = NOW):
    """One ingest run as the job runs it; the LLM client does not retry (no sleeping)."""
    engine = create_engine(settings.database_url)
    config = llm_config(settings)
    ingestor = Ingestor(
        settings=settings,
        sessionmaker=create_sessionmaker(engine),
        clock=lambda: now,
        summarizer=Summarizer(replace(config, timeout=0.3, max_retries=0) if config else None),
        source_wait=wait_none(),
        http_timeout=0.3,
    )
    try:
        return await ingestor.run([DAY], [Source.HF])
    finally:
        await ingestor.aclose()
        await engine.dispose()


async def stored(db_url: str) -> dict[str, Paper]:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.scalars(select(Paper))
            return {row.id: row for row in rows}
    finally:
        await engine.dispose()


async def stored_tags(db_url: str) -> dict[str, set[str]]:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            found: dict[str, set[str]] = {}
            for pid, tag in (await session.execute(select(PaperTag.paper_id, PaperTag.tag))).all():
                found.setdefault(pid, set()).add(tag)
            return found
    finally:
        await engine.dispose()


async def test_a_day_is_stored_with_tags_code_links_and_russian_summaries(db_url, sources, llm):
    report = await ingest(settings_for(db_url, sources, llm))
    papers = await stored(db_url)
    tags = await stored_tags(db_url)

    assert set(papers) == valid_ids()
    assert report.ok and report.new == len(papers) and report.summarised == len(papers)
    for paper in papers.values():
        assert paper.summary_status == "done"
        assert paper.title_ru and paper.summary_ru
        assert any("а" <= ch <= "я" for ch in paper.summary_ru.lower())
        assert tags.get(paper.id), f"{paper.id} has no tags"
    assert llm.calls == len(papers)


async def test_the_six_seed_papers_are_mllm_with_their_code(db_url, sources, llm):
    await ingest(settings_for(db_url, sources, llm))
    papers = await stored(db_url)
    tags = await stored_tags(db_url)
    for pid, code in SEED.items():
        assert "mllm" in tags[pid], (pid, tags[pid])
        assert papers[pid].code_url == code, pid
    assert "moe" in tags["2411.10669"]


async def test_a_second_run_asks_the_llm_nothing_and_changes_only_upvotes(db_url, sources, llm):
    settings = settings_for(db_url, sources, llm)
    await ingest(settings)
    before = await stored(db_url)
    calls = llm.calls

    items = hf_items()
    for item in items:
        if item.get("paper", {}).get("id") == "2411.10669":
            item["paper"]["upvotes"] = 999
    sources.hf_days[DAY] = items
    report = await ingest(settings, now=NOW + dt.timedelta(hours=2))
    after = await stored(db_url)

    assert llm.calls == calls
    assert report.new == 0 and report.updated == len(before)
    assert after["2411.10669"].upvotes == 999
    for pid, old in before.items():
        new = after[pid]
        assert (new.title_ru, new.summary_ru, new.code_url, new.ingested_at) == (
            old.title_ru,
            old.summary_ru,
            old.code_url,
            old.ingested_at,
        )


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("503", "HTTP 503"),
        ("timeout", "timed out"),
        ("invalid json", "invalid JSON"),
    ],
)
async def test_a_broken_source_leaves_no_rows_is_logged_and_retried_next_run(
    db_url, sources, llm, caplog, fault, message
):
    if fault == "503":
        sources.always_status[HF_PATH] = 503
    elif fault == "timeout":
        sources.delay[HF_PATH] = 1.0
    else:
        sources.hf_days[DAY] = b'[{"paper": {"id": "2412.13871", "title": "Trunc'
    with caplog.at_level(logging.ERROR):
        report = await ingest(settings_for(db_url, sources, llm))
    assert not report.ok and report.failed_sources == ["hf 2024-12-19"]
    assert await stored(db_url) == {}
    assert any(message in r.getMessage() for r in caplog.records)

    sources.always_status.pop(HF_PATH, None)
    sources.delay.pop(HF_PATH, None)
    sources.hf_days[DAY] = HF_DAY.read_bytes()
    report = await ingest(settings_for(db_url, sources, llm))
    assert report.ok and set(await stored(db_url)) == valid_ids()


async def test_an_empty_day_is_not_an_error(db_url, sources, llm):
    sources.hf_days[DAY] = []
    report = await ingest(settings_for(db_url, sources, llm))
    assert report.ok and report.papers == 0 and llm.calls == 0


async def test_items_without_id_or_abstract_are_skipped_and_the_rest_stored(db_url, sources, llm):
    report = await ingest(settings_for(db_url, sources, llm))
    assert report.papers == len(valid_ids()) < len(hf_items())


async def test_a_broken_hf_day_does_not_stop_arxiv(db_url, sources, llm):
    sources.always_status[HF_PATH] = 503
    sources.arxiv_response = (FIXTURES / "arxiv_cs_sample.xml").read_bytes()
    settings = settings_for(db_url, sources, llm)
    engine = create_engine(db_url)
    async with httpx.AsyncClient() as client:
        arxiv = ArxivSource(client, sources.arxiv_url, ["cs.CL"], period=0.01, backoff=wait_none())
        ingestor = Ingestor(
            settings=settings,
            sessionmaker=create_sessionmaker(engine),
            clock=lambda: NOW,
            arxiv=arxiv,
            source_wait=wait_none(),
        )
        try:
            report = await ingestor.run([dt.date(2000, 1, 1)], [Source.HF, Source.ARXIV])
        finally:
            await ingestor.aclose()
            await engine.dispose()
    assert report.failed_sources == ["hf 2000-01-01"]
    assert report.papers > 0 and len(await stored(db_url)) == report.papers


@pytest.mark.parametrize("fault", ["500", "timeout", "non-json", "english"])
async def test_llm_faults_end_in_a_fallback_that_is_upgraded_later(db_url, sources, llm, fault):
    answers = {
        "non-json": "Sorry, I cannot help with that.",
        "english": json.dumps(
            {"title_ru": "A title", "summary_ru": "This paper proposes a new model.", "tags": []}
        ),
    }
    for _ in range(200):
        if fault == "500":
            llm.fail_next(500, times=1)
        elif fault == "timeout":
            llm.delay_next(1.0, times=1)
        else:
            llm.respond_next(answers[fault], times=1)
    settings = settings_for(db_url, sources, llm, summary_deadline=dt.timedelta(0))
    report = await ingest(settings)
    papers = await stored(db_url)
    assert report.ok and report.fallback == len(papers) and report.summarised == 0
    for paper in papers.values():
        assert paper.summary_status == "fallback"
        assert paper.title_ru == paper.title
        assert paper.summary_ru and len(paper.summary_ru) <= 350
        assert paper.summary_ru[:40] in " ".join(paper.abstract.split())

    llm.reset()
    report = await ingest(settings, now=NOW + dt.timedelta(hours=2))
    papers = await stored(db_url)
    assert report.summarised == len(papers)
    assert all(p.summary_status == "done" for p in papers.values())


async def test_without_an_llm_every_paper_gets_a_fallback_at_once(db_url, sources):
    report = await ingest(settings_for(db_url, sources, None))
    papers = await stored(db_url)
    assert report.fallback == len(papers) > 0
    assert all(p.summary_status == "fallback" for p in papers.values())
    assert all(len(p.summary_ru or "") <= 350 for p in papers.values())


async def test_hostile_llm_answers_are_stored_as_plain_text(db_url, sources, llm):
    hostile = json.dumps(
        {
            "title_ru": "Модель <script>alert(1)</script> & компания",
            "summary_ru": "Авторы предлагают метод &amp; датасет <b>для</b> MLLM. "
            + "Результат заметно улучшен. " * 40,
            "tags": ["mllm", "nonsense"],
        },
        ensure_ascii=False,
    )
    llm.respond_next(hostile, times=100)
    await ingest(settings_for(db_url, sources, llm))
    for paper in (await stored(db_url)).values():
        title, summary = paper.title_ru or "", paper.summary_ru or ""
        assert paper.summary_status == "done"
        assert "<" not in title and "&amp;" not in summary
        assert "& компания" in title
        assert len(summary) <= 350 and summary.endswith(".")


async def test_closing_closes_every_client_even_when_one_fails(db_url, sources, llm):
    class BrokenClose(Summarizer):
        async def aclose(self) -> None:
            raise RuntimeError("connection pool broken")

    engine = create_engine(db_url)
    ingestor = Ingestor(
        settings=settings_for(db_url, sources, llm),
        sessionmaker=create_sessionmaker(engine),
        clock=lambda: NOW,
        summarizer=BrokenClose(None),
    )
    ingestor._arxiv_source()  # the arXiv client exists once arXiv was read

    with pytest.raises(RuntimeError, match="connection pool broken"):
        await ingestor.aclose()
    await engine.dispose()

    assert ingestor._http.is_closed
    assert ingestor._arxiv_http is not None and ingestor._arxiv_http.is_closed


async def test_the_cli_ingests_a_day_and_exits_non_zero_when_a_source_failed(
    tmp_path, sources, llm
):
    db_url = f"sqlite+aiosqlite:///{tmp_path}/digest.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "HF_", "DATABASE"))},
        "PYTHONPATH": str(Path(__file__).parent.parent),
        "DATABASE_URL": db_url,
        "HF_API_URL": sources.hf_url,
        "LLM_BASE_URL": llm.url,
        "LLM_API_KEY": LLM_API_KEY,
    }

    async def cli() -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "ingest", "--date", DAY.isoformat(),
            cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await cli()
    n = len(valid_ids())
    assert code == 0, err
    with_code = sum(1 for p in (await stored(db_url)).values() if p.code_url)
    assert with_code >= len([c for c in SEED.values() if c])
    assert out.strip() == (
        f"{n} papers: {n} new, 0 updated, {with_code} with code, {n} summarised, 0 fallback, "
        f"{n} embedded"
    )
    assert LLM_API_KEY not in err

    sources.hf_days[DAY] = b"not json"
    code, out, err = await cli()
    assert code == 1
    assert "invalid JSON" in err and "error: some sources failed" in err


async def test_preview_prints_a_tag_as_a_digest_shows_it(db_url, sources, llm):
    from bot.__main__ import _preview

    settings = settings_for(db_url, sources, llm)
    await ingest(settings)
    text = await _preview(settings, "mllm", DAY)
    assert text.startswith("☀️ Дайджест на 19 декабря · #mllm · ")
    assert "💻 https://github.com/MetabrainAGI/Awaker" in text
    assert "#moe" in text
    assert "Обзор: Awaker2.5-VL" in text


async def test_the_job_queue_ingests_at_the_configured_times(db_url, sources, llm):
    from bot.jobs import ingest_job
    from tests.fake_telegram import FakeTelegram
    from tests.harness import TOKEN, make_settings, running_bot

    async with FakeTelegram(TOKEN) as telegram:
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            ingest_times="05:00,17:30",
        )
        async with running_bot(settings, clock=lambda: NOW + dt.timedelta(hours=3)) as app:
            assert app.job_queue is not None
            scheduled = {job.name: job.next_t for job in app.job_queue.jobs()}
            moscow = settings.tz
            assert set(scheduled) == {"ingest 05:00", "ingest 17:30", "delivery"}
            evening = scheduled["ingest 17:30"]
            assert evening is not None and evening.astimezone(moscow).time() == dt.time(17, 30)

            app.job_queue.run_once(ingest_job, when=0)
            await telegram.wait_until(lambda: llm.calls >= len(valid_ids()), timeout=20)
    # NOW + 3 h is 2024-12-19 09:00 UTC: the job covers today and yesterday.
    days = {r.query.get("date") for r in sources.requests_to(HF_PATH)}
    assert days == {"2024-12-18", "2024-12-19"}
    await asyncio.sleep(0)
    assert set(await stored(db_url)) == valid_ids()
