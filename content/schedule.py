"""When a chat's next digest is due: local wall-clock time converted to UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

_UTC = dt.UTC


def next_digest_at(now: dt.datetime, tz: ZoneInfo, at: dt.time) -> dt.datetime:
    """Return the first UTC moment after ``now`` when the local clock in ``tz`` shows ``at``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_now = now.astimezone(tz)
    day = local_now.date()
    for offset in range(3):
        candidate = _local_moment(day + dt.timedelta(days=offset), at, tz)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a local time recurs every day")  # pragma: no cover


def _local_moment(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    # Round-tripping through UTC resolves DST gaps (02:30 on a spring-forward day
    # becomes 03:30) and picks the first of two ambiguous autumn moments (fold=0).
    naive = dt.datetime.combine(day, at.replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(_UTC)
