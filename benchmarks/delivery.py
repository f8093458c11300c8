"""How close the morning broadcast comes to Telegram's flood limit.

1,000 private chats are due in the same minute, on SQLite; the fake Telegram server enforces
30 messages/s overall and about 1/s per chat after a burst of 3, answering 429 beyond that.
One delivery tick of the real Application sends every digest.

Figures: messages per second and its share of the 30/s limit (target >= 0.95), the run's
time against 1.15 x messages / 30 (the acceptance bound), and 429 answers as a share of the
messages sent (target <= 1%).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content.models import Source  # noqa: E402
from storage.db import upgrade_async  # noqa: E402
from tests.broadcast import papers_by_tag_set, seed_due_chats, tally  # noqa: E402
from tests.fake_llm import FakeLLM  # noqa: E402
from tests.fake_sources import FakeSources  # noqa: E402
from tests.fake_telegram import FakeTelegram, RateLimit  # noqa: E402
from tests.harness import TOKEN, Clock, make_settings, running_bot, tick  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "hf_daily_2024-12-19.json"
DAY = dt.date(2024, 12, 19)
NINE_MOSCOW = dt.datetime(2024, 12, 19, 6, 0, tzinfo=dt.UTC)
CHATS = range(20_000, 21_000)
LIMIT = 30.0


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    row = {"benchmark": "delivery", "db": "sqlite", "metric": metric, "value": round(value, 3)}
    print(json.dumps({**row, "unit": unit, **extra}), flush=True)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/digest.db"
        await upgrade_async(db_url)
        clock = Clock(NINE_MOSCOW - dt.timedelta(hours=3))
        async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
            sources.hf_days[DAY] = FIXTURE.read_bytes()
            settings = make_settings(
                telegram, db_url, hf_api_url=sources.hf_url, llm_base_url=llm.url
            )
            async with running_bot(settings, clock=clock) as app:
                services = app.bot_data.services
                await services.ingestor.run([DAY], [Source.HF])
                await seed_due_chats(services.sessionmaker, CHATS, due_at=NINE_MOSCOW)
                owed = await papers_by_tag_set(services.sessionmaker)
                telegram.rate_limit = RateLimit(
                    global_per_second=LIMIT, per_chat_per_second=1, per_chat_burst=3
                )
                clock.now = NINE_MOSCOW + dt.timedelta(seconds=5)
                started = time.perf_counter()
                await tick(app)
                seconds = time.perf_counter() - started
                result = tally(telegram, CHATS, owed)

    rate = result.messages / seconds
    bound = 1.15 * result.messages / LIMIT
    emit("chats", result.chats, "chats", complete=result.complete, lost=result.lost)
    emit("repeated", result.repeated, "papers")
    emit("messages", result.messages, "messages")
    emit("seconds", seconds, "s", bound_s=round(bound, 2), within_bound=seconds <= bound)
    emit("messages_per_second", rate, "msg/s", limit=LIMIT)
    emit("share_of_limit", rate / LIMIT, "ratio", target=0.95)
    emit(
        "too_many_requests",
        result.too_many_requests / max(result.messages, 1),
        "ratio",
        count=result.too_many_requests,
        target=0.01,
    )


if __name__ == "__main__":
    asyncio.run(main())
