"""The message budget replicas share: a token bucket in one row of the database."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import RateBudget
from storage.ratebudget import Grant, take_tokens

Sessions = async_sessionmaker[AsyncSession]


async def take(
    sessionmaker: Sessions, want: int, *, rate: float = 10, capacity: float = 3, owed: int = 0
) -> Grant:
    async with sessionmaker() as session, session.begin():
        return await take_tokens(
            session=session, want=want, rate=rate, capacity=capacity, owed=owed
        )


async def test_a_fresh_budget_grants_at_most_its_capacity_then_nothing_until_it_refills(
    sessionmaker: Sessions,
) -> None:
    first = await take(sessionmaker, 5, rate=0.001, capacity=3)
    assert first.granted == 3
    empty = await take(sessionmaker, 1, rate=0.001, capacity=3)
    assert empty.granted == 0
    assert 0 <= empty.left < 1  # the taker waits (1 - left) / rate for the next token


async def test_time_refills_the_budget_at_its_rate_up_to_its_capacity(
    sessionmaker: Sessions,
) -> None:
    assert (await take(sessionmaker, 5, rate=100, capacity=5)).granted == 5
    await asyncio.sleep(0.2)  # 20 tokens' worth of time, but the bucket holds 5
    assert (await take(sessionmaker, 50, rate=100, capacity=5)).granted == 5


async def test_owed_tokens_are_paid_first_and_may_leave_the_budget_in_debt(
    sessionmaker: Sessions,
) -> None:
    # Replies sent on credit are paid even when the bucket holds less: the debt holds the
    # next takers back until time has paid it off.
    paid = await take(sessionmaker, 0, rate=0.001, capacity=3, owed=5)
    assert paid.granted == 0
    assert -2.01 < paid.left < -1.99
    after = await take(sessionmaker, 1, rate=0.001, capacity=3)
    assert after.granted == 0
    assert after.left < -1.99


async def test_takers_at_once_never_get_more_than_the_budget_holds(
    sessionmaker: Sessions,
) -> None:
    rate, capacity = 50.0, 4.0
    began = time.monotonic()
    granted = 0

    async def taker() -> None:
        nonlocal granted
        for _ in range(15):
            # Not "granted += (await ...)": that reads the total before the await, and the
            # takers running meanwhile would have their grants overwritten.
            grant = await take(sessionmaker, 2, rate=rate, capacity=capacity)
            granted += grant.granted

    await asyncio.gather(*(taker() for _ in range(8)))
    elapsed = time.monotonic() - began
    assert 0 < granted <= capacity + rate * elapsed + 1


async def test_a_budget_row_gone_missing_comes_back_full(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(RateBudget))
    assert (await take(sessionmaker, 2, rate=0.001, capacity=3)).granted == 2
