"""Ingest of 1,000 papers: its throughput, and the commands the bot answers while it runs.

A fake HF server lists one day of 1,000 papers (built from the real-format fixture), the
database is SQLite.

Throughput: the Ingestor alone, with a zero-latency fake LLM in its own process (the LLM is
remote in production, and this leaves the other core to it). Figures: seconds for a first run,
LLM calls against new papers, and seconds for a re-run (which must call nothing).

Commands during an ingest: the real `digest-bot run` process ingests at start-up (its catch-up
ingest job) from the same day, while the fake LLM in this process answers each call after
2 s, as a hosted model does. LLM_CONCURRENCY=50 (one save batch at once, the default is 4)
packs the ingest's CPU work into about 40 s, the harder case for the event loop. Meanwhile
20 users send 20 commands a second between them (/subscribe and /unsubscribe in turn) from
the ingest's first request until it ends, which the bot's METRICS_PORT tells. The ingest
also embeds the 1,000 papers with the embedded model (in its worker process, about 80 ms of
CPU a paper), as `digest-bot run` does by default. Figures: update-to-reply p95 (target
<= 200 ms), p50 and max; the ingest's seconds, papers and papers embedded.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from benchmarks.common import (  # noqa: E402
    SHORT,
    commands_during,
    emit,
    emit_latencies,
    sqlite_url,
)
from bot.ingest import Ingestor, days_to_cover  # noqa: E402
from bot.settings import Settings  # noqa: E402
from content.models import Source  # noqa: E402
from storage.db import create_engine, create_sessionmaker, upgrade_async  # noqa: E402
from storage.models import PaperVector  # noqa: E402
from tests.fake_llm import FakeLLM  # noqa: E402
from tests.fake_sources import FakeSources  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402
from tests.harness import TOKEN  # noqa: E402

PAPERS = 100 if SHORT else 1000
DAY = dt.date(2024, 12, 19)
LLM_PORT = 18082
LLM_SECONDS = 2.0
LLM_CONCURRENCY = 50
COMMAND_CHATS = range(30_000, 30_020)
COMMANDS_PER_SECOND = 20
INGEST_DONE = "digest_last_ingest_timestamp_seconds"


def day_of_papers() -> list[dict[str, Any]]:
    fixture = json.loads((ROOT / "tests/fixtures/hf_daily_2024-12-19.json").read_text("utf-8"))
    usable = [i for i in fixture if i.get("paper", {}).get("id") and i["paper"].get("summary")]
    items = []
    for n in range(PAPERS):
        item = copy.deepcopy(usable[n % len(usable)])
        item["paper"]["id"] = f"2412.{10000 + n:05d}"
        item["paper"]["upvotes"] = n % 97
        items.append(item)
    return items


async def throughput(tmp: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp}/throughput.db"
    await upgrade_async(url)
    # The LLM is remote in production: run the fake in its own process, on its own core.
    llm_proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_llm", "--port", str(LLM_PORT),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert llm_proc.stdout is not None
    await llm_proc.stdout.readline()
    llm_url = f"http://127.0.0.1:{LLM_PORT}/v1"
    async with FakeSources() as sources:
        sources.hf_days[DAY] = day_of_papers()
        settings = Settings(
            _env_file=None,
            database_url=url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm_url,
            llm_concurrency=16,
        )
        engine = create_engine(url)
        ingestor = Ingestor(
            settings=settings,
            sessionmaker=create_sessionmaker(engine),
            clock=lambda: dt.datetime(2024, 12, 19, 6, tzinfo=dt.UTC),
        )
        try:
            started = time.perf_counter()
            report = await ingestor.run([DAY], [Source.HF])
            first = time.perf_counter() - started
            started = time.perf_counter()
            again = await ingestor.run([DAY], [Source.HF])
            second = time.perf_counter() - started
        finally:
            await ingestor.aclose()
            await engine.dispose()
            llm_proc.terminate()
            await llm_proc.wait()
    calls = report.llm_calls
    emit("ingest", "first_run_seconds", first, "s", target="<= 5", papers=report.papers)
    emit("ingest", "llm_calls", calls, "calls", new_papers=report.new, equal=calls == report.new)
    emit("ingest", "rerun_seconds", second, "s", llm_calls=again.llm_calls, new_papers=again.new)


async def commands_during_ingest(tmp: str) -> None:
    async with FakeSources() as sources, FakeLLM(latency=LLM_SECONDS) as llm:
        # The bot ingests yesterday and today (UTC); the papers are today's.
        sources.hf_days[days_to_cover(dt.datetime.now(dt.UTC))[-1]] = day_of_papers()
        env = {
            "INGEST_ON_START": "true",
            "HF_API_URL": sources.hf_url,
            "LLM_BASE_URL": llm.url,
            "LLM_CONCURRENCY": str(LLM_CONCURRENCY),
        }
        async with FakeTelegram(TOKEN) as telegram:
            latencies, samples = await commands_during(
                telegram,
                tmp,
                env=env,
                chats=COMMAND_CHATS,
                rate=COMMANDS_PER_SECOND,
                begun=lambda: bool(sources.requests),
                until_sample=INGEST_DONE,
            )
    emit_latencies(
        "ingest",
        "ingest_commands",
        latencies,
        "<= 200",
        commands_per_second=COMMANDS_PER_SECOND,
        papers=PAPERS,
    )
    emit(
        "ingest",
        "bot_ingest_seconds",
        samples["digest_ingest_duration_seconds_sum"],
        "s",
        new_papers=samples.get("digest_ingest_papers_total", 0),
        embedded=await vectors_stored(sqlite_url(tmp)),
        llm_calls=llm.calls,
        llm_seconds=LLM_SECONDS,
        llm_concurrency=LLM_CONCURRENCY,
    )


async def vectors_stored(url: str) -> int:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(PaperVector)) or 0)
    finally:
        await engine.dispose()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await throughput(tmp)
        await commands_during_ingest(tmp)


if __name__ == "__main__":
    asyncio.run(main())
