"""When digests fall due, and how Russian numbers and dates read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from content.ru import count, date_ru
from content.schedule import next_digest_at

UTC = dt.UTC
NINE = dt.time(9, 0)


def test_a_moscow_chat_subscribing_in_the_afternoon_gets_its_first_digest_tomorrow_at_nine():
    now = dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
    assert next_digest_at(now, ZoneInfo("Europe/Moscow"), NINE) == dt.datetime(
        2026, 12, 11, 6, 0, tzinfo=UTC
    )


def test_before_nine_the_digest_is_due_the_same_morning():
    now = dt.datetime(2026, 12, 10, 3, 0, tzinfo=UTC)  # 06:00 in Moscow
    assert next_digest_at(now, ZoneInfo("Europe/Moscow"), NINE) == dt.datetime(
        2026, 12, 10, 6, 0, tzinfo=UTC
    )


def test_new_york_nine_oclock_moves_in_utc_across_the_dst_change():
    ny = ZoneInfo("America/New_York")
    before = next_digest_at(dt.datetime(2026, 3, 7, 15, 0, tzinfo=UTC), ny, NINE)
    after = next_digest_at(dt.datetime(2026, 3, 8, 15, 0, tzinfo=UTC), ny, NINE)
    assert before == dt.datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT, DST began at 2am
    assert after == dt.datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert before.astimezone(ny).time() == NINE


def test_a_time_inside_the_spring_gap_still_gives_one_digest_that_day():
    ny = ZoneInfo("America/New_York")
    when = next_digest_at(dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC), ny, dt.time(2, 30))
    assert when.astimezone(ny).date() == dt.date(2026, 3, 8)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        next_digest_at(dt.datetime(2026, 1, 1), ZoneInfo("UTC"), NINE)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 статья"),
        (2, "2 статьи"),
        (5, "5 статей"),
        (11, "11 статей"),
        (21, "21 статья"),
        (22, "22 статьи"),
        (112, "112 статей"),
        (0, "0 статей"),
    ],
)
def test_russian_plurals(n, expected):
    assert count(n, "статья", "статьи", "статей") == expected


def test_dates_read_in_russian():
    assert date_ru(dt.date(2024, 12, 10)) == "10 декабря"
    assert date_ru(dt.date(2024, 5, 1)) == "1 мая"
