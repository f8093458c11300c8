"""A replica's hand of the shared message budget: broadcasts wait for tokens, replies never do."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ratelimit import DatabaseBudget, SharedBudget
from storage.ratebudget import Grant, take_tokens

Sessions = async_sessionmaker[AsyncSession]


async def left_in_bucket(sessionmaker: Sessions) -> float:
    async with sessionmaker() as session, session.begin():
        return (await take_tokens(session=session, want=0, rate=0.001, capacity=1)).left


async def test_replies_never_wait_and_what_they_took_is_paid_into_the_budget(
    db_url: str, sessionmaker: Sessions
) -> None:
    budget = SharedBudget(DatabaseBudget(db_url), messages_per_second=0.001)
    for _ in range(5):
        budget.spend()  # no await: a reply goes out at once, on credit
    await budget.aclose()
    # A fresh bucket holds one token (its capacity at this rate); five were paid from it.
    assert -4.01 < await left_in_bucket(sessionmaker) < -3.99


async def test_two_replicas_together_take_no_more_than_the_rate(db_url: str) -> None:
    rate = 40.0
    replicas = [SharedBudget(DatabaseBudget(db_url), messages_per_second=rate) for _ in range(2)]
    taken = 0
    began = time.monotonic()
    stop = began + 1.0

    async def sender(budget: SharedBudget) -> None:
        nonlocal taken
        while time.monotonic() < stop:
            await budget.acquire()
            taken += 1

    await asyncio.gather(*(sender(budget) for budget in replicas for _ in range(4)))
    elapsed = time.monotonic() - began
    for budget in replicas:
        await budget.aclose()
    assert 0 < taken <= replicas[0].capacity + rate * elapsed


class CountedBudget(DatabaseBudget):
    """The database budget, remembering what each take got."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.takes: list[Grant] = []

    async def take(self, *, want: int, owed: int, rate: float, capacity: float) -> Grant:
        grant = await super().take(want=want, owed=owed, rate=rate, capacity=capacity)
        self.takes.append(grant)
        return grant


async def test_messages_waiting_together_take_as_many_tokens_as_they_need_in_one_go(
    db_url: str,
) -> None:
    source = CountedBudget(db_url)
    budget = SharedBudget(source, messages_per_second=29)
    # The first finds nothing at hand and asks for itself; the three that queue up behind it
    # meanwhile are served by the next take. Then the replica keeps half a second of its
    # pace at hand (4 a second: two tokens).
    await asyncio.gather(*(budget.acquire() for _ in range(4)))
    await budget.aclose()
    assert [take.granted for take in source.takes] == [1, 3, 2]
