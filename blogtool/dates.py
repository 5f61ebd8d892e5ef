"""Dates for people: formatted in the site's language with Babel (Swedish by default)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from babel.dates import format_date, format_datetime

# Babel patterns (CLDR): "torsdag 16 mars 2017", "tors 16 mars 2017 08:00".
LONG_DATE = "EEEE d MMMM y"
SHORT_DATETIME = "EEE d MMM y HH:mm"


@lru_cache(maxsize=65536)  # a big site formats each date on several pages
def long_date(value: dt.datetime | dt.date, locale: str = "sv") -> str:
    """``torsdag 16 mars 2017``"""
    if isinstance(value, dt.datetime):
        return format_datetime(value, LONG_DATE, tzinfo=value.tzinfo, locale=locale)
    return format_date(value, LONG_DATE, locale=locale)


@lru_cache(maxsize=65536)
def short_datetime(value: dt.datetime, locale: str = "sv") -> str:
    """``tors 16 mars 2017 08:00``, in the value's own time zone."""
    return format_datetime(value, SHORT_DATETIME, tzinfo=value.tzinfo, locale=locale)


def month_year(value: dt.datetime | dt.date, locale: str = "sv") -> str:
    """``mars 2017``"""
    return format_date(value, "LLLL y", locale=locale)
