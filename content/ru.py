"""Russian language helpers: plural forms and dates."""

from __future__ import annotations

import datetime as dt

_MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def plural(n: int, one: str, few: str, many: str) -> str:
    """Pick the Russian plural form for ``n``: 1 статья, 2 статьи, 5 статей."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def count(n: int, one: str, few: str, many: str) -> str:
    """Format ``n`` with its noun in the right plural form, e.g. "21 статья"."""
    return f"{n} {plural(n, one, few, many)}"


def date_ru(day: dt.date) -> str:
    """Format a date the Russian way: "10 декабря"."""
    return f"{day.day} {_MONTHS_GENITIVE[day.month - 1]}"


def date_range_ru(first: dt.date, last: dt.date) -> str:
    """Format a span of days the Russian way: "13–19 декабря", "28 ноября – 4 декабря"."""
    if first == last:
        return date_ru(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{date_ru(last)}"
    return f"{date_ru(first)} – {date_ru(last)}"
