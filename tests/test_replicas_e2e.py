"""Replicas on one database share the work, survive a kill, and never send a digest twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import DigestApp, build_application
from bot.delivery import Deliverer
from bot.settings import Settings
from content.models import Source
from storage.db import create_engine, create_sessionmaker
from storage.models import Paper
from tests.broadcast import delivered, papers_by_tag_set, recorded, seed_due_chats, tally
from tests.fake_llm import FakeLLM
from tests.fake_sources import HF_PATH, FakeSources
from tests.fake_telegram import FakeTelegram, RateLimit
from tests.harness import TOKEN, WEBHOOK_SECRET, free_port, make_settings
from tests.test_cli import bot_env, stop

FIXTURE = Path(__file__).parent / "fixtures" / "hf_daily_2024-12-19.json"
FIRST, SECOND = range(40_000, 40_300), range(41_000, 41_300)
LEASE_SECONDS = 4


async def test_two_replicas_send_each_digest_once_ingest_once_and_cover_for_a_killed_one(
    db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("several replicas need PostgreSQL; SQLite is the single-process default")
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        today = dt.datetime.now(dt.UTC).date()
        sources.hf_days[today] = FIXTURE.read_bytes()

        def replica_env() -> dict[str, str]:
            # Replicas take updates by webhook: two pollers would knock each other off.
            return bot_env(
                telegram,
                db_url,
                HF_API_URL=sources.hf_url,
                LLM_BASE_URL=llm.url,
                WEBHOOK_URL="https://bot.example.org/telegram/updates",
                WEBHOOK_SECRET=WEBHOOK_SECRET,
                WEBHOOK_LISTEN="127.0.0.1",
                WEBHOOK_PORT=str(free_port()),
                INGEST_ON_START="true",
                DELIVERY_INTERVAL="PT2S",
                DELIVERY_LEASE=f"PT{LEASE_SECONDS}S",
                LOG_LEVEL="WARNING",
            )

        async def start(name: str) -> asyncio.subprocess.Process:
            # The log goes to a file: a pipe nobody reads would stall a replica once full.
            with (tmp_path / f"{name}.log").open("wb") as log:
                return await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run",
                    cwd=tmp_path, env=replica_env(), stderr=log,
                )  # fmt: skip

        engine = create_engine(db_url)
        sessionmaker = create_sessionmaker(engine)
        replicas = [await start("first"), await start("second")]
        try:
            # Both replicas start with the day's ingest to catch up on; one of them runs it.
            async def papers() -> int:
                async with sessionmaker() as session:
                    return await session.scalar(select(func.count()).select_from(Paper)) or 0

            for _ in range(300):
                if await papers() >= 10:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # past both replicas' catch-up
            assert len(sources.requests_to(HF_PATH)) == 2  # one ingest: yesterday and today
            assert await papers() == 10
            owed = await papers_by_tag_set(sessionmaker)
            telegram.rate_limit = RateLimit()

            # 300 chats fall due in the same minute: each gets one digest, from either replica.
            due = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
            await seed_due_chats(sessionmaker, FIRST, due_at=due)
            await telegram.wait_until(lambda: tally(telegram, FIRST, owed).complete == 300, 60)
            first = tally(telegram, FIRST, owed)
            assert (first.lost, first.repeated) == (0, 0), first.line()

            # 300 more fall due; one replica is killed in the middle of their broadcast.
            count = len(telegram.sent)
            await seed_due_chats(sessionmaker, SECOND, due_at=due)
            await telegram.wait_until(lambda: len(telegram.sent) >= count + 100, 60)
            replicas[0].kill()
            await replicas[0].wait()
            at_kill = list(telegram.sent)
            # Read once, right after the kill: read per message, the later reads would come
            # after the survivor had resent (and recorded) what the killed one had in flight.
            done = await recorded(sessionmaker)
            in_flight = [m for m in at_kill if not delivered([m]) <= done]

            await telegram.wait_until(lambda: tally(telegram, SECOND, owed).complete == 300, 90)
            second = tally(telegram, SECOND, owed)
            assert second.lost == 0, second.line()
            before = delivered(at_kill)
            repeats = [m for m in telegram.sent[len(at_kill) :] if delivered([m]) & before]
            assert len(repeats) <= len(in_flight), (len(repeats), len(in_flight), second.line())
            print(f"two replicas: {first.line()}; killed one: {len(in_flight)} in flight, "
                  f"{len(repeats)} repeated; {second.line()}")  # fmt: skip
        finally:
            try:
                for replica in replicas:
                    if replica.returncode is None:
                        await stop(replica)
            finally:
                for replica in replicas:  # one that would not stop must not outlive the test
                    if replica.returncode is None:
                        replica.kill()
                        await replica.wait()
                await engine.dispose()
        assert len(sources.requests_to(HF_PATH)) == 2


@asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[DigestApp]:
    """A second application on the same database, whose delivery ticks the test runs."""
    app = build_application(settings)
    await app.initialize()
    try:
        yield app
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def test_a_digest_held_up_by_flood_control_longer_than_the_lease_is_sent_once(
    db_url: str,
) -> None:
    # Telegram answers 429 "retry after 3" three times to some chats: their first message
    # takes over 9 s, four 2 s leases, while the other replica ticks every half second.
    chats = range(42_000, 42_008)
    slowed = (42_000, 42_001)
    async with FakeTelegram(TOKEN) as telegram, FakeSources() as sources, FakeLLM() as llm:
        sources.hf_days[dt.date(2024, 12, 19)] = FIXTURE.read_bytes()
        settings = make_settings(
            telegram,
            db_url,
            hf_api_url=sources.hf_url,
            llm_base_url=llm.url,
            delivery_lease=dt.timedelta(seconds=2),
        )
        async with replica(settings) as first, replica(settings) as second:
            await first.bot_data.services.ingestor.run([dt.date(2024, 12, 19)], [Source.HF])
            sessionmaker = first.bot_data.services.sessionmaker
            await seed_due_chats(
                sessionmaker, chats, due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            )
            owed = await papers_by_tag_set(sessionmaker)
            for chat in slowed:
                telegram.fail_next(
                    "sendMessage",
                    error_code=429,
                    description="Too Many Requests: retry after 3",
                    chat_id=chat,
                    times=3,
                )

            sending = asyncio.create_task(Deliverer(first.bot_data.services, first.bot).tick())
            while not sending.done():
                await Deliverer(second.bot_data.services, second.bot).tick()
                await asyncio.sleep(0.5)
            report = await sending
            await Deliverer(second.bot_data.services, second.bot).tick()

    result = tally(telegram, chats, owed)
    assert (result.complete, result.lost, result.repeated) == (len(chats), 0, 0), result.line()
    assert report.errors == []
    assert telegram.too_many_requests == 6
