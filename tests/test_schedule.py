"""When digests fall due, and how Russian numbers and dates read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from content.ru import count, date_range_ru, date_ru
from content.schedule import (
    CITIES_RU,
    latest_occurrence,
    next_digest_at,
    parse_time,
    parse_timezone,
    parse_weekday,
    zone,
    zone_label,
)

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


FRIDAY = 4


@pytest.mark.parametrize(
    "typed",
    [
        "пятница",
        "Пятница",
        "ПТ",
        "пт",
        "пт.",
        "friday",
        "Friday",
        "fri",
        "пятницу",
        "в пятницу",
        "по пятницам",
        "  пятница  ",
    ],
)
def test_friday_is_understood_however_it_is_typed(typed):
    assert parse_weekday(typed) == FRIDAY


@pytest.mark.parametrize(
    ("typed", "weekday"),
    [
        ("понедельник", 0),
        ("пн", 0),
        ("Monday", 0),
        ("во вторник", 1),
        ("вт", 1),
        ("среду", 2),
        ("СРЕДА", 2),
        ("wednesday", 2),
        ("четверг", 3),
        ("thu", 3),
        ("субботу", 5),
        ("сб", 5),
        ("Saturday", 5),
        ("воскресенье", 6),
        ("вс", 6),
        ("sunday", 6),
    ],
)
def test_every_weekday_is_understood_in_russian_and_english(typed, weekday):
    assert parse_weekday(typed) == weekday


@pytest.mark.parametrize("typed", ["", "пятн", "завтра", "8", "friday!", "п" * 100])
def test_words_that_are_no_weekday_are_refused(typed):
    assert parse_weekday(typed) is None


def test_a_weekly_chat_on_friday_subscribing_on_monday_gets_its_digest_that_friday():
    monday = dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
    when = next_digest_at(monday, ZoneInfo("Europe/Moscow"), NINE, FRIDAY)
    assert when == dt.datetime(2026, 12, 11, 6, 0, tzinfo=UTC)


def test_a_weekly_chat_before_its_time_on_its_weekday_gets_the_digest_that_day():
    friday_morning = dt.datetime(2026, 12, 11, 3, 0, tzinfo=UTC)  # 06:00 in Moscow
    when = next_digest_at(friday_morning, ZoneInfo("Europe/Moscow"), NINE, FRIDAY)
    assert when == dt.datetime(2026, 12, 11, 6, 0, tzinfo=UTC)


def test_after_its_friday_digest_the_next_weekly_one_is_a_week_later():
    just_after = dt.datetime(2026, 12, 11, 6, 0, tzinfo=UTC)  # 09:00 Friday in Moscow
    when = next_digest_at(just_after, ZoneInfo("Europe/Moscow"), NINE, FRIDAY)
    assert when == dt.datetime(2026, 12, 18, 6, 0, tzinfo=UTC)


def test_the_weekday_is_the_local_one_not_utcs():
    # 23:30 UTC Thursday is already 08:30 Friday in Tokyo: the digest is due at 09:00 there.
    late_thursday = dt.datetime(2026, 12, 10, 23, 30, tzinfo=UTC)
    when = next_digest_at(late_thursday, ZoneInfo("Asia/Tokyo"), NINE, FRIDAY)
    assert when == dt.datetime(2026, 12, 11, 0, 0, tzinfo=UTC)


def test_a_weekly_new_york_digest_keeps_nine_oclock_across_the_dst_change():
    ny = ZoneInfo("America/New_York")
    sunday = 6
    # The week before the spring change (EST, UTC-5), then its Sunday (EDT, UTC-4).
    before = next_digest_at(dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC), ny, NINE, sunday)
    after = next_digest_at(before, ny, NINE, sunday)
    autumn = next_digest_at(dt.datetime(2026, 10, 27, 15, 0, tzinfo=UTC), ny, NINE, sunday)
    assert before == dt.datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert after == dt.datetime(2026, 3, 15, 13, 0, tzinfo=UTC)
    assert autumn == dt.datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # EST again since 2am
    assert {w.astimezone(ny).time() for w in (before, after, autumn)} == {NINE}


def test_a_weekly_time_inside_the_spring_gap_still_falls_on_its_weekday():
    ny = ZoneInfo("America/New_York")
    when = next_digest_at(dt.datetime(2026, 3, 2, 5, 0, tzinfo=UTC), ny, dt.time(2, 30), 6)
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


def test_a_week_reads_as_a_span_of_russian_dates():
    assert date_range_ru(dt.date(2026, 12, 13), dt.date(2026, 12, 19)) == "13–19 декабря"
    assert date_range_ru(dt.date(2026, 11, 28), dt.date(2026, 12, 4)) == "28 ноября – 4 декабря"
    assert date_range_ru(dt.date(2026, 12, 13), dt.date(2026, 12, 13)) == "13 декабря"


# --- settings: delivery time and timezone ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:30", dt.time(8, 30)),
        ("8:30", dt.time(8, 30)),
        ("9:00", dt.time(9, 0)),
        ("09.00", dt.time(9, 0)),
        ("9", dt.time(9, 0)),
        ("09", dt.time(9, 0)),
        ("0900", dt.time(9, 0)),
        ("930", dt.time(9, 30)),
        ("21-15", dt.time(21, 15)),
        (" 7 05 ", dt.time(7, 5)),
        ("0", dt.time(0, 0)),
        ("23:59", dt.time(23, 59)),
    ],
)
def test_delivery_time_is_read_as_people_type_it(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text", ["", "24:00", "9:60", "9:5", "12345", "утром", "9 утра", "-1", "٩", "09:00:00"]
)
def test_nonsense_is_not_a_delivery_time(text):
    assert parse_time(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Moscow", "Europe/Moscow"),
        ("europe/moscow", "Europe/Moscow"),
        ("ASIA/VLADIVOSTOK", "Asia/Vladivostok"),
        ("America/New York", "America/New_York"),
        ("vladivostok", "Asia/Vladivostok"),
        ("+3", "Etc/GMT-3"),
        ("-5", "Etc/GMT+5"),
        ("\u22125", "Etc/GMT+5"),
        ("UTC+03:00", "Etc/GMT-3"),
        ("GMT+3", "Etc/GMT-3"),
        ("utc -3", "Etc/GMT+3"),
        ("+14", "Etc/GMT-14"),
        ("-12", "Etc/GMT+12"),
        ("UTC+5:30", "UTC+05:30"),
        ("UTC+05:30", "UTC+05:30"),
        ("+0545", "UTC+05:45"),
        ("UTC-03:30", "UTC-03:30"),
        ("UTC", "UTC"),
        ("gmt", "UTC"),
        ("+0", "UTC"),
        ("Москва", "Europe/Moscow"),
        ("владивосток", "Asia/Vladivostok"),
        ("Санкт-Петербург", "Europe/Moscow"),
        ("Петропавловск-Камчатский", "Asia/Kamchatka"),
        ("МСК", "Europe/Moscow"),
        ("МСК+7", "Etc/GMT-10"),
        ("мск-1", "Etc/GMT-2"),
        ("Etc/GMT-3", "Etc/GMT-3"),
    ],
)
def test_timezones_are_read_in_every_common_spelling(text, expected):
    assert parse_timezone(text) == expected


@pytest.mark.parametrize(
    "text", ["", "3", "Марс", "+15", "-13", "UTC+5:20", "UTC+5:75", "Europe/Nowhere", "x" * 500]
)
def test_nonsense_is_not_a_timezone(text):
    assert parse_timezone(text) is None


def test_every_russian_city_maps_to_a_loadable_zone():
    for name in CITIES_RU.values():
        assert isinstance(zone(name), ZoneInfo)


def test_a_whole_hour_offset_is_the_inverted_posix_etc_zone():
    # Etc/GMT-3 is three hours *ahead* of UTC: the classic sign trap.
    stored = parse_timezone("+3")
    assert stored is not None
    noon = dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    assert noon.astimezone(zone(stored)).hour == 15


def test_a_non_whole_offset_is_a_fixed_zone():
    tz = zone("UTC+05:30")
    assert isinstance(tz, dt.timezone)
    assert tz.utcoffset(None) == dt.timedelta(hours=5, minutes=30)
    assert zone("UTC-03:30").utcoffset(None) == -dt.timedelta(hours=3, minutes=30)


def test_fixed_offsets_schedule_digests_at_local_nine():
    now = dt.datetime(2026, 12, 10, 2, 0, tzinfo=UTC)  # 07:30 in India, 05:00 at UTC+3
    assert next_digest_at(now, zone("UTC+05:30"), NINE) == dt.datetime(
        2026, 12, 10, 3, 30, tzinfo=UTC
    )
    assert next_digest_at(now, zone("Etc/GMT-3"), NINE) == dt.datetime(
        2026, 12, 10, 6, 0, tzinfo=UTC
    )
    later = dt.datetime(2026, 12, 10, 4, 0, tzinfo=UTC)  # 09:30 in India: tomorrow
    assert next_digest_at(later, zone("UTC+05:30"), NINE) == dt.datetime(
        2026, 12, 11, 3, 30, tzinfo=UTC
    )


def test_a_fixed_offset_ignores_dst():
    summer = dt.datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    winter = dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    for now in (summer, winter):
        assert next_digest_at(now, zone("Etc/GMT+5"), NINE).hour == 14


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Europe/Moscow", "Europe/Moscow, UTC+3"),
        ("Asia/Vladivostok", "Asia/Vladivostok, UTC+10"),
        ("America/New_York", "America/New_York, UTC-5"),
        ("Etc/GMT-3", "UTC+3"),
        ("Etc/GMT+5", "UTC-5"),
        ("UTC+05:30", "UTC+5:30"),
        ("UTC-03:30", "UTC-3:30"),
        ("UTC", "UTC"),
    ],
)
def test_zones_are_labelled_with_their_offset(name, expected):
    assert zone_label(name, dt.datetime(2026, 12, 10, 12, 0, tzinfo=UTC)) == expected


def test_the_label_follows_dst():
    summer = dt.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert zone_label("America/New_York", summer) == "America/New_York, UTC-4"


def test_every_offset_parse_round_trips_through_its_stored_name():
    for hours in range(-12, 15):
        for minutes in (0, 30, 45):
            if abs(hours) in (12, 14) and minutes:
                continue
            sign = "-" if hours < 0 else "+"
            typed = f"UTC{sign}{abs(hours):02d}:{minutes:02d}"
            stored = parse_timezone(typed)
            assert stored is not None, typed
            expected = dt.timedelta(hours=abs(hours), minutes=minutes)
            offset = zone(stored).utcoffset(dt.datetime(2026, 1, 1))
            assert offset == (-expected if hours < 0 else expected), typed
            assert parse_timezone(stored) == stored


def test_latest_occurrence_is_the_last_scheduled_time_already_passed() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    times = [dt.time(5), dt.time(11), dt.time(17)]
    at = dt.datetime(2024, 12, 19, 9, 30, tzinfo=dt.UTC)  # 12:30 in Moscow
    assert latest_occurrence(at, moscow, times) == dt.datetime(2024, 12, 19, 8, 0, tzinfo=dt.UTC)
    early = dt.datetime(2024, 12, 19, 1, 0, tzinfo=dt.UTC)  # 04:00: yesterday's 17:00
    assert latest_occurrence(early, moscow, times) == dt.datetime(
        2024, 12, 18, 14, 0, tzinfo=dt.UTC
    )
    exactly = dt.datetime(2024, 12, 19, 2, 0, tzinfo=dt.UTC)  # 05:00 sharp
    assert latest_occurrence(exactly, moscow, times) == exactly
    assert latest_occurrence(at, moscow, []) is None
