"""When a chat's next digest is due: local wall-clock time converted to UTC.

Also the chat settings behind it: parsing a delivery time and a timezone as users type them.
A chat's timezone is stored as a string: an IANA name (``Europe/Moscow``, ``Etc/GMT-3`` for a
whole-hour offset) or, for offsets IANA has no zone for, the canonical form ``UTC+05:30``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo, available_timezones

_UTC = dt.UTC


def next_digest_at(
    now: dt.datetime, tz: dt.tzinfo, at: dt.time, weekday: int | None = None
) -> dt.datetime:
    """Return the first UTC moment after ``now`` when the local clock in ``tz`` shows ``at``.

    With ``weekday`` (Monday is 0, as ``date.weekday()``), only that local weekday counts.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_now = now.astimezone(tz)
    day = local_now.date()
    # Each local day is converted on its own, so a DST change within the week moves nothing.
    for offset in range(9):
        date = day + dt.timedelta(days=offset)
        if weekday is not None and date.weekday() != weekday:
            continue
        candidate = _local_moment(date, at, tz)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a local time recurs every week")  # pragma: no cover


def latest_occurrence(
    now: dt.datetime, tz: dt.tzinfo, times: Sequence[dt.time]
) -> dt.datetime | None:
    """Return the latest UTC moment at or before ``now`` when the clock in ``tz`` showed a time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(tz).date()
    moments = [
        _local_moment(today - dt.timedelta(days=back), at, tz) for back in range(3) for at in times
    ]
    return max((moment for moment in moments if moment <= now), default=None)


def _local_moment(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    # Round-tripping through UTC resolves DST gaps (02:30 on a spring-forward day
    # becomes 03:30) and picks the first of two ambiguous autumn moments (fold=0).
    naive = dt.datetime.combine(day, at.replace(tzinfo=None))
    return naive.replace(tzinfo=tz).astimezone(_UTC)


# --- delivery time ---------------------------------------------------------------------------

# "8:30", "08.30", "8-30", "8 30", "8ч30"; "9" and "09" are whole hours; "0930"/"930" compact.
_TIME_SEPARATED = re.compile(r"(\d{1,2})\s*[:.\-hч ]\s*(\d{2})")
_TIME_COMPACT = re.compile(r"(\d{1,2}?)(\d{2})?")


def parse_time(text: str) -> dt.time | None:
    """Parse a delivery time as people type it: ``08:30``, ``8:30``, ``08.30``, ``9``, ``0930``."""
    raw = text.strip().lower()
    match = _TIME_SEPARATED.fullmatch(raw) or (
        _TIME_COMPACT.fullmatch(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else None
    )
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


# --- weekly rhythm ---------------------------------------------------------------------------

# Each weekday as people type it: Russian nominative, accusative ("в пятницу"), dative plural
# ("по пятницам") and short forms, English full and short; ё is folded to е first.
_WEEKDAY_WORDS: tuple[tuple[str, ...], ...] = (
    ("понедельник", "понедельникам", "пн", "monday", "mon"),
    ("вторник", "вторникам", "вт", "tuesday", "tue", "tues"),
    ("среда", "среду", "средам", "ср", "wednesday", "wed"),
    ("четверг", "четвергам", "чт", "thursday", "thu", "thur", "thurs"),
    ("пятница", "пятницу", "пятницам", "пт", "friday", "fri"),
    ("суббота", "субботу", "субботам", "сб", "saturday", "sat"),
    ("воскресенье", "воскресеньям", "вс", "sunday", "sun"),
)
WEEKDAYS: dict[str, int] = {
    word: number for number, words in enumerate(_WEEKDAY_WORDS) for word in words
}
# "в пятницу", "во вторник", "по пятницам": the preposition is dropped.
_WEEKDAY_PREFIX = re.compile(r"^(?:в|во|по|on)\s+")


def parse_weekday(text: str) -> int | None:
    """A weekday as typed (``пятница``, ``пт``, ``в пятницу``, ``Friday``): Monday is 0."""
    word = text.strip().lower().replace("ё", "е").rstrip(".")
    if len(word) > _MAX_INPUT:
        return None
    return WEEKDAYS.get(_WEEKDAY_PREFIX.sub("", word, count=1))


# --- timezones -------------------------------------------------------------------------------

# The stored form of an offset IANA has no zone for; also what zone() recognises.
_FIXED = re.compile(r"UTC([+-])(\d{2}):(\d{2})")
# "+3", "-5", "UTC+03:00", "GMT+3", "utc+5:30", "+0530", "UTC 3"; spaces are removed first.
_OFFSET = re.compile(r"(?:utc|gmt)?([+-])?(\d{1,2})(?:[:.]?(\d{2}))?")
# Real offsets run from UTC-12 to UTC+14 in quarter hours (Nepal is +05:45).
_MIN_OFFSET = dt.timedelta(hours=-12)
_MAX_OFFSET = dt.timedelta(hours=14)
_MOSCOW = dt.timedelta(hours=3)
# "МСК+7", how Russians name their zones relative to Moscow (no DST there since 2014).
_MSK = re.compile(r"(?:мск|msk)(?:([+-])(\d{1,2}))?")
# Users mistype long names; nothing sensible is longer than this.
_MAX_INPUT = 64

# Russian city names, lowercase with ё → е and hyphens as spaces (see _normalise).
CITIES_RU: dict[str, str] = {
    "москва": "Europe/Moscow",
    "санкт петербург": "Europe/Moscow",
    "петербург": "Europe/Moscow",
    "питер": "Europe/Moscow",
    "спб": "Europe/Moscow",
    "казань": "Europe/Moscow",
    "нижний новгород": "Europe/Moscow",
    "калининград": "Europe/Kaliningrad",
    "самара": "Europe/Samara",
    "ижевск": "Europe/Samara",
    "волгоград": "Europe/Volgograd",
    "саратов": "Europe/Saratov",
    "ульяновск": "Europe/Ulyanovsk",
    "астрахань": "Europe/Astrakhan",
    "екатеринбург": "Asia/Yekaterinburg",
    "челябинск": "Asia/Yekaterinburg",
    "пермь": "Asia/Yekaterinburg",
    "уфа": "Asia/Yekaterinburg",
    "тюмень": "Asia/Yekaterinburg",
    "омск": "Asia/Omsk",
    "новосибирск": "Asia/Novosibirsk",
    "томск": "Asia/Tomsk",
    "барнаул": "Asia/Barnaul",
    "новокузнецк": "Asia/Novokuznetsk",
    "кемерово": "Asia/Novokuznetsk",
    "красноярск": "Asia/Krasnoyarsk",
    "иркутск": "Asia/Irkutsk",
    "чита": "Asia/Chita",
    "якутск": "Asia/Yakutsk",
    "владивосток": "Asia/Vladivostok",
    "хабаровск": "Asia/Vladivostok",
    "южно сахалинск": "Asia/Sakhalin",
    "сахалин": "Asia/Sakhalin",
    "магадан": "Asia/Magadan",
    "камчатка": "Asia/Kamchatka",
    "петропавловск камчатский": "Asia/Kamchatka",
    "минск": "Europe/Minsk",
    "киев": "Europe/Kyiv",
    "алматы": "Asia/Almaty",
    "астана": "Asia/Almaty",
    "ташкент": "Asia/Tashkent",
    "тбилиси": "Asia/Tbilisi",
    "ереван": "Asia/Yerevan",
    "баку": "Asia/Baku",
    "бишкек": "Asia/Bishkek",
}

# Region prefixes whose last segment is a city a user may type alone ("Vladivostok").
_CITY_REGIONS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)


@functools.cache
def _iana_names() -> tuple[dict[str, str], dict[str, str]]:
    # Built once: lowercase full name → name, and unambiguous lowercase city → name.
    names = sorted(available_timezones() - {"Factory", "localtime", "posixrules"})
    full = {name.lower(): name for name in names}
    by_city: dict[str, str | None] = {}
    for name in names:
        region, _, city = name.partition("/")
        if region in _CITY_REGIONS and city:
            key = city.rsplit("/", 1)[-1].lower()
            by_city[key] = None if key in by_city else name
    return full, {key: name for key, name in by_city.items() if name is not None}


def _normalise(text: str) -> str:
    folded = text.strip().lower().replace("ё", "е")
    return " ".join(folded.replace("-", " ").split())


def parse_timezone(text: str) -> str | None:
    """The canonical stored name for a timezone as typed, or None if it is not one.

    Accepts IANA names in any case (``europe/moscow``), a city alone (``Vladivostok``),
    Russian city names (``Владивосток``), ``UTC``, offsets (``+3``, ``UTC+03:00``,
    ``GMT-5``, ``UTC+5:30``) and ``МСК+7``. A whole-hour offset becomes ``Etc/GMT-3``
    (POSIX inverts the sign); any other offset becomes ``UTC+05:30``.
    """
    raw = text.strip()
    if not raw or len(raw) > _MAX_INPUT:
        return None
    words = _normalise(raw)
    if words in CITIES_RU:
        return CITIES_RU[words]
    # Offsets keep their sign, so they are read from the raw text, not the hyphenless words.
    compact = "".join(raw.lower().split()).replace("−", "-").replace("–", "-")
    if compact in {"utc", "gmt", "z", "utc0", "gmt0", "+0", "-0", "±0"}:
        return "UTC"
    msk = _MSK.fullmatch(compact)
    if msk is not None:
        if msk[2] is None:
            return "Europe/Moscow"
        return _offset_name(_MOSCOW + _signed(msk[1], int(msk[2]), 0))
    offset = _OFFSET.fullmatch(compact)
    # A bare "3" is more likely a slip for /time than an offset, so a sign or prefix is needed.
    if offset is not None and (offset[1] is not None or compact.startswith(("utc", "gmt"))):
        minutes = int(offset[3] or 0)
        if minutes >= 60 or minutes % 15 != 0:
            return None
        return _offset_name(_signed(offset[1], int(offset[2]), minutes))
    full, by_city = _iana_names()
    key = raw.lower().replace(" ", "_")
    return full.get(key) or by_city.get(key)


def _signed(sign: str | None, hours: int, minutes: int) -> dt.timedelta:
    size = dt.timedelta(hours=hours, minutes=minutes)
    return -size if sign == "-" else size


def _offset_name(offset: dt.timedelta) -> str | None:
    if not _MIN_OFFSET <= offset <= _MAX_OFFSET:
        return None
    if not offset:
        return "UTC"
    whole_hours, rest = divmod(offset, dt.timedelta(hours=1))
    if not rest:
        # POSIX-style Etc names count west as positive: UTC+3 is "Etc/GMT-3".
        return f"Etc/GMT{-whole_hours:+d}"
    sign = "-" if offset < dt.timedelta(0) else "+"
    hours, minutes = divmod(abs(offset) // dt.timedelta(minutes=1), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def zone(name: str) -> dt.tzinfo:
    """The tzinfo for a stored timezone name: a ZoneInfo, or a fixed offset for ``UTC±HH:MM``."""
    fixed = _FIXED.fullmatch(name)
    if fixed is None:
        return ZoneInfo(name)
    return dt.timezone(_signed(fixed[1], int(fixed[2]), int(fixed[3])), name)


def offset_label(offset: dt.timedelta) -> str:
    """An offset as people write it: ``UTC+3``, ``UTC-5``, ``UTC+5:30``, ``UTC``."""
    if not offset:
        return "UTC"
    sign = "-" if offset < dt.timedelta(0) else "+"
    hours, minutes = divmod(abs(offset) // dt.timedelta(minutes=1), 60)
    return f"UTC{sign}{hours}:{minutes:02d}" if minutes else f"UTC{sign}{hours}"


def zone_label(name: str, at: dt.datetime) -> str:
    """A stored timezone for people, with its offset at ``at``: ``Europe/Moscow, UTC+3``.

    Offset-only zones show just the offset: ``Etc/GMT-3`` would read as the wrong sign.
    """
    offset = at.astimezone(zone(name)).utcoffset() or dt.timedelta(0)
    label = offset_label(offset)
    if _FIXED.fullmatch(name) or name.startswith("Etc/") or name == label:
        return label
    return f"{name}, {label}"
