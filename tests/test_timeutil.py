"""Dates for people: blogtool's own names table gives what Babel gives, for every day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime, get_day_names, get_month_names

from blogtool import timeutil
from blogtool.timeutil import (
    LONG_DATE,
    NAMES,
    long_date,
    month_year,
    short_datetime,
    weekday_name,
)

ZONES = [ZoneInfo("Europe/Stockholm"), dt.UTC, dt.timezone(dt.timedelta(hours=14)),
         ZoneInfo("America/Los_Angeles")]  # fmt: skip
# Every day of four years (with a leap day), at an hour near midnight in UTC, where a zone's
# own date differs from UTC's.
DAYS = [dt.date(2027, 1, 1) + dt.timedelta(days=n) for n in range(4 * 366)]


@pytest.mark.parametrize("locale", sorted(NAMES))
def test_the_names_are_babels(locale: str) -> None:
    """A Babel with newer CLDR data fails this test: copy its names into ``NAMES``."""
    days, months, standalone = NAMES[locale]
    assert days == tuple(get_day_names("wide", locale=locale)[d] for d in range(7))
    assert months == tuple(get_month_names("wide", locale=locale)[m] for m in range(1, 13))
    assert standalone == tuple(
        get_month_names("wide", context="stand-alone", locale=locale)[m] for m in range(1, 13)
    )


@pytest.mark.parametrize("locale", sorted(NAMES))
def test_long_date_and_month_year_as_babel_formats_them(locale: str) -> None:
    for day in DAYS:
        assert long_date(day, locale) == format_date(day, LONG_DATE, locale=locale)
        assert month_year(day, locale) == format_date(day, "LLLL y", locale=locale)
        for zone in ZONES:
            at = dt.datetime.combine(day, dt.time(23, 30), dt.UTC).astimezone(zone)
            expected = format_datetime(at, LONG_DATE, tzinfo=at.tzinfo, locale=locale)
            assert long_date(at, locale) == expected, at
            assert month_year(at, locale) == format_date(at, "LLLL y", locale=locale), at
    for weekday in range(7):
        assert weekday_name(weekday, locale) == get_day_names("wide", locale=locale)[weekday]


def test_a_naive_time_and_other_languages_go_through_babel() -> None:
    naive = dt.datetime(2027, 3, 4, 23, 30)
    assert long_date(naive, "sv") == format_datetime(naive, LONG_DATE, locale="sv")
    assert long_date(dt.date(2027, 3, 4), "fi") == "torstaina 4 maaliskuuta 2027"
    assert month_year(dt.date(2027, 3, 4), "fi") == "maaliskuu 2027"
    assert weekday_name(3, "de") == "Donnerstag"
    assert "fi" not in timeutil.NAMES


def test_one_instant_in_two_zones_is_two_local_times() -> None:
    """Aware datetimes of one instant are equal; the cache must not hand one zone's text to
    the other."""
    at = dt.datetime(2027, 3, 4, 23, 30, tzinfo=dt.UTC)
    there = at.astimezone(ZoneInfo("Europe/Stockholm"))
    assert at == there
    assert short_datetime(at, "sv") == "tors 4 mars 2027 23:30"
    assert short_datetime(there, "sv") == "fre 5 mars 2027 00:30"
    assert long_date(at, "fi") == "torstaina 4 maaliskuuta 2027"
    assert long_date(there, "fi") == "perjantaina 5 maaliskuuta 2027"
