"""Replicas share one message budget: together they keep to Telegram's limit, killed or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import create_engine, create_sessionmaker
from tests.broadcast import delivered, ingest_day, make_due, recorded, tally
from tests.fake_telegram import FakeTelegram, RateLimit
from tests.harness import TOKEN
from tests.replicas import replicas

FIRST, SECOND = range(50_000, 50_150), range(51_000, 51_150)
LEASE_SECONDS = 4


async def test_three_replicas_with_no_rate_setting_keep_together_to_telegrams_limit_even_when_one_is_killed(  # noqa: E501
    db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("several replicas need PostgreSQL; SQLite is the single-process default")
    owed = await ingest_day(db_url)
    engine = create_engine(db_url)
    sessionmaker = create_sessionmaker(engine)
    # Telegram's flood limits: 30 messages a second per bot, about 1 a second per chat.
    limits = RateLimit(global_per_second=30, per_chat_per_second=1)
    try:
        async with (
            FakeTelegram(TOKEN, rate_limit=limits) as telegram,
            replicas(
                telegram, db_url, tmp_path, 3, env={"DELIVERY_LEASE": f"PT{LEASE_SECONDS}S"}
            ) as running,
        ):
            # 150 chats fall due in the same minute; three replicas split them.
            await make_due(db_url, FIRST)
            await telegram.wait_until(lambda: tally(telegram, FIRST, owed).complete == 150, 60)
            first = tally(telegram, FIRST, owed)
            assert (first.lost, first.repeated) == (0, 0), first.line()
            assert first.too_many_requests <= 0.01 * first.messages, first.line()

            # 150 more; one replica is killed in the middle of their broadcast, holding
            # claims and tokens. The other two finish, still within the limit.
            count = len(telegram.sent)
            await make_due(db_url, SECOND)
            await telegram.wait_until(lambda: len(telegram.sent) >= count + 40, 60)
            running.kill(0)
            await running.processes[0].wait()
            at_kill = list(telegram.sent)
            done = await recorded(sessionmaker)
            in_flight = [m for m in at_kill if not delivered([m]) <= done]

            await telegram.wait_until(
                lambda: tally(telegram, SECOND, owed).complete == 150, 30 + LEASE_SECONDS
            )
            second = tally(telegram, SECOND, owed)
            assert second.lost == 0, second.line()
            # Only what was in flight when the replica died may arrive twice.
            before = delivered(at_kill)
            repeats = [m for m in telegram.sent[len(at_kill) :] if delivered([m]) & before]
            assert len(repeats) <= len(in_flight), (len(repeats), len(in_flight), second.line())
            assert second.too_many_requests <= 0.01 * second.messages, second.line()
            print(f"three replicas: {first.line()}; one killed: {second.line()}")
    finally:
        await engine.dispose()
