"""The message budget every replica shares: a token bucket in one row, refilled by the clock.

A replica takes a few tokens at a time and hands them out locally (bot.ratelimit). The bucket
refills by the database's clock, the one clock all replicas share, so tokens a dead replica
took are simply never spent: nothing has to be given back, and nobody waits for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Double,
    Integer,
    case,
    cast,
    extract,
    func,
    literal,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name, insert_ignoring_conflicts, table_of
from storage.models import RateBudget

BUDGET_ID = 1
# Julian day of the Unix epoch, for SQLite's clock.
_UNIX_EPOCH_JULIAN_DAY = 2440587.5


@dataclass(frozen=True, slots=True)
class Grant:
    """What a take got: whole tokens, and the tokens left in the bucket after it."""

    granted: int
    # Below 1 when nothing more could be granted; below 0 while replies are owed.
    left: float


async def take_tokens(
    *, session: AsyncSession, want: int, rate: float, capacity: float, owed: int = 0
) -> Grant:
    """Pay ``owed`` tokens, then take up to ``want`` whole ones from the shared bucket.

    The bucket refills at ``rate`` tokens a second up to ``capacity``; owed tokens (messages
    already sent) are paid even into debt. One UPDATE refills, pays and takes, so takers
    running at once never get the same tokens, and the row stays locked only until commit.
    """
    name = dialect_name(session)
    budget = table_of(RateBudget)
    now = _clock(name)
    elapsed = _greatest(name, literal(0.0, Double), now - budget.c.stamp)
    refilled = _least(name, literal(capacity, Double), budget.c.tokens + rate * elapsed)
    available = refilled - owed
    granted = cast(
        case((available >= 1, _least(name, literal(want), _floor(name, available))), else_=0),
        Integer,
    )
    # Every SET expression reads the row as it was, so the grant is stored to be returned.
    statement = (
        update(budget)
        .where(budget.c.id == BUDGET_ID)
        .values(
            tokens=available - granted,
            stamp=_greatest(name, budget.c.stamp, now),
            granted=granted,
        )
        .returning(budget.c.granted, budget.c.tokens)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        # The migration creates the row; a database restored without it gets it back full.
        await session.execute(
            insert_ignoring_conflicts(session, RateBudget).values(
                id=BUDGET_ID, tokens=0.0, stamp=0.0, granted=0
            )
        )
        row = (await session.execute(statement)).one()
    return Grant(granted=int(row.granted), left=float(row.tokens))


def _clock(name: str) -> ColumnElement[float]:
    """Seconds since the epoch by the database server's clock."""
    if name == "postgresql":
        return cast(extract("epoch", func.clock_timestamp()), Double)
    if name == "sqlite":
        return (func.julianday("now") - _UNIX_EPOCH_JULIAN_DAY) * 86400.0
    raise NotImplementedError(f"unsupported database dialect: {name}")


def _least(name: str, *values: ColumnElement[float]) -> ColumnElement[float]:
    # SQLite's scalar min() of several arguments is PostgreSQL's least().
    return func.least(*values) if name == "postgresql" else func.min(*values)


def _greatest(name: str, *values: ColumnElement[float]) -> ColumnElement[float]:
    return func.greatest(*values) if name == "postgresql" else func.max(*values)


def _floor(name: str, value: ColumnElement[float]) -> ColumnElement[float]:
    # Only ever applied to a value of at least 1: SQLite's cast truncates it, as floor would
    # (its floor() needs the optional math functions).
    return func.floor(value) if name == "postgresql" else cast(value, Integer)
