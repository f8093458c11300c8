"""`kill -9` in the middle of the morning broadcast, then a restart: every digest arrives."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from storage.db import create_engine, create_sessionmaker
from storage.models import Delivery
from tests.broadcast import papers_by_tag_set, papers_in, seed_due_chats, tally
from tests.fake_llm import FakeLLM
from tests.fake_sources import FakeSources
from tests.fake_telegram import FakeTelegram, RateLimit, SentMessage
from tests.harness import TOKEN
from tests.test_cli import bot_env, run_cli, stop

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
CHATS = range(30_000, 31_000)
FLOOD_LIMITS = RateLimit(global_per_second=30, per_chat_per_second=1, per_chat_burst=3)
LEASE_SECONDS = 3


async def start_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    # The log goes to a file: a pipe nobody reads would stall the bot once full.
    with (cwd / "bot.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=cwd, env=env, stderr=log
        )


def delivered(messages: Iterable[SentMessage]) -> set[tuple[int, str]]:
    """(chat, paper) pairs these messages carried."""
    return {(m.chat_id, paper) for m in messages for paper in papers_in(m)}


async def test_kill_9_mid_broadcast_repeats_at_most_the_messages_in_flight(
    db_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[dt.date(2024, 12, 19)] = FIXTURE.read_bytes()
        env = bot_env(
            telegram,
            db_url,
            HF_API_URL=sources.hf_url,
            LLM_BASE_URL=llm.url,
            DELIVERY_LEASE=f"PT{LEASE_SECONDS}S",
            LOG_LEVEL="WARNING",
        )
        code, _, err = await run_cli("ingest", "--date", "2024-12-19", cwd=tmp_path, env=env)
        assert code == 0, err

        engine = create_engine(db_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            # A thousand chats whose digest fell due a minute ago, on the real clock.
            due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            await seed_due_chats(sessionmaker, CHATS, due_at=due)
            owed = await papers_by_tag_set(sessionmaker)
            telegram.rate_limit = FLOOD_LIMITS

            bot = await start_bot(env, tmp_path)
            try:
                await telegram.wait_until(lambda: len(telegram.sent) >= 300, timeout=60)
            finally:
                bot.kill()  # SIGKILL: no shutdown code runs
                await bot.wait()

            # In flight at the kill: accepted by Telegram, not yet recorded as delivered.
            before_kill = list(telegram.sent)
            async with sessionmaker() as session:
                rows = await session.execute(select(Delivery.chat_id, Delivery.paper_id))
                recorded = {(chat_id, paper_id) for chat_id, paper_id in rows.all()}
            in_flight = [m for m in before_kill if not delivered([m]) <= recorded]
            received_before = delivered(before_kill)

            # Restart once the dead process's claims have expired.
            await asyncio.sleep(LEASE_SECONDS + 0.5)
            bot = await start_bot(env, tmp_path)
            try:
                await telegram.wait_until(
                    lambda: tally(telegram, CHATS, owed).complete == len(CHATS), timeout=90
                )
            finally:
                await stop(bot)
        finally:
            await engine.dispose()

        result = tally(telegram, CHATS, owed)
        assert (result.complete, result.lost) == (len(CHATS), 0), result.line()
        after_restart = telegram.sent[len(before_kill) :]
        repeats = [m for m in after_restart if delivered([m]) & received_before]
        assert len(repeats) <= len(in_flight), (len(repeats), len(in_flight), result.line())
        print(
            f"kill -9 after {len(before_kill)} messages: {len(in_flight)} in flight, "
            f"{len(repeats)} repeated; {result.line()}"
        )
