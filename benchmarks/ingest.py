"""Ingest throughput: 1,000 papers through parse, links, tags, storage and a zero-latency LLM.

A fake HF server lists one day of 1,000 papers (built from the real-format fixture), a fake
OpenAI-compatible server in its own process answers at once, and the database is SQLite.
Figures: seconds for a first run, LLM calls against new papers, and seconds for a re-run
(which must call nothing).
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

from bot.ingest import Ingestor  # noqa: E402
from bot.settings import Settings  # noqa: E402
from content.models import Source  # noqa: E402
from storage.db import create_engine, create_sessionmaker, upgrade_async  # noqa: E402
from tests.fake_sources import FakeSources  # noqa: E402

PAPERS = 1000
DAY = dt.date(2024, 12, 19)
LLM_PORT = 18082


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    row = {"benchmark": "ingest", "metric": metric, "value": round(value, 3), "unit": unit}
    print(json.dumps({**row, **extra}))


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


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
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
    emit("first_run_seconds", first, "s", target="<= 5", papers=report.papers)
    emit("llm_calls", calls, "calls", new_papers=report.new, equal=calls == report.new)
    emit("rerun_seconds", second, "s", llm_calls=again.llm_calls, new_papers=again.new)


if __name__ == "__main__":
    asyncio.run(main())
