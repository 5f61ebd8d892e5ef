"""Times: parsing and normalising them in the site's zone, and formatting them for people
(Babel, in the site's language). Nothing here reads the clock."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

from blogtool.i18n import _

# The names [tips] weekday takes (Monday == 0, as datetime.weekday()). Names for people come from
# CLDR in their language (``weekday_name``), so "torsdag" is accepted too.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday_name(weekday: int, locale: str = "sv") -> str:
    """``torsdag``: the weekday in ``locale``."""
    names = NAMES.get(locale)
    if names is not None:
        return names[0][weekday]
    from babel.dates import get_day_names

    return str(get_day_names("wide", locale=locale)[weekday])


def parse_weekday(value: str) -> int:
    """A weekday in English or Swedish, any case. Raises ValueError."""
    v = value.strip().lower()
    if v in WEEKDAYS:
        return WEEKDAYS.index(v)
    for weekday in range(7):
        if v == weekday_name(weekday, "sv").lower():
            return weekday
    raise ValueError(_("expected a weekday such as 'thursday', got {value!r}").format(value=value))


def localize(naive: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Attach ``tz`` to a wall-clock time.

    A time in the spring gap (02:30 on the day clocks go forward) does not exist; the round trip
    through UTC moves it forward to the matching real time, as a wall clock would.
    """
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(dt.UTC).astimezone(tz)


FIRST_YEAR, LAST_YEAR = 1900, 9000


_WRITTEN = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ]\s*(?P<h>\d{1,2})(?::(?P<mi>\d{2}))?(?::(?P<s>\d{2})(?:\.\d+)?)?)?"
    r"\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?"
)


def _written(text: str, default_time: dt.time) -> dt.datetime:
    """A date as people write it: ISO 8601, a space for the T, a one-digit hour
    ("2026-12-10 9:00"). Raises ValueError naming the part that is wrong, or (without a
    message) for text that is not such a date at all."""
    m = _WRITTEN.fullmatch(text)
    if m is None:
        return dt.datetime.fromisoformat(text)  # the other ISO 8601 forms (20261210, weeks)
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    if not 1 <= month <= 12:
        raise DateError(
            _("{text}: month {month} does not exist (1 to 12)").format(text=text, month=month)
        )
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise DateError(
            _(
                "{text}: day {day} does not exist in {year}-{month:02d}, which has {days} days"
            ).format(text=text, day=day, year=year, month=month, days=days)
        )
    if m["h"] is None:
        return dt.datetime.combine(dt.date(year, month, day), default_time)
    hour, minute, second = int(m["h"]), int(m["mi"] or 0), int(m["s"] or 0)
    for name, number, top in (
        (_("hour"), hour, 23),
        (_("minute"), minute, 59),
        (_("second"), second, 59),
    ):
        if number > top:
            raise DateError(
                _("{text}: {part} {number} does not exist (0 to {top})").format(
                    text=text, part=name, number=number, top=top
                )
            )
    tz: dt.tzinfo | None = None
    if m["z"]:
        zone = m["z"]
        if zone == "Z":
            tz = dt.UTC
        else:
            digits = zone[1:].replace(":", "")
            offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            if offset >= dt.timedelta(hours=24):
                raise DateError(
                    _("{text}: the offset {zone} does not exist").format(text=text, zone=zone)
                )
            tz = dt.timezone(-offset if zone[0] == "-" else offset)
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)


class DateError(ValueError):
    """A date whose form is right and one of whose parts does not exist."""


def parse_when(
    value: object,
    tz: ZoneInfo,
    default_time: dt.time = dt.time(0, 0),
    notes: list[str] | None = None,
) -> dt.datetime:
    """A front-matter or command-line date as an aware datetime in ``tz``.

    Accepts ISO 8601 strings (with or without offset), and the ``date`` and ``datetime`` objects
    YAML makes of unquoted timestamps. No offset means the site's time zone; a date alone means
    ``default_time`` on that day. Raises ValueError with what was expected. A time that does not
    exist (in the spring gap) moves forward, and ``notes`` gets a line that says so.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, default_time)
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = _written(text, default_time)
        except DateError:
            raise
        except ValueError:
            raise ValueError(
                _(
                    "expected an ISO 8601 date such as 2027-03-04 or "
                    "2027-03-04T08:00+01:00, got {value!r}"
                ).format(value=value)
            ) from None
    else:
        raise ValueError(
            _("expected an ISO 8601 date, got {type} {value!r}").format(
                type=type(value).__name__, value=value
            )
        )
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        # Far from any blog, and near the calendar's ends a time zone's offset runs over them.
        raise ValueError(
            _("expected a year between {FIRST_YEAR} and {LAST_YEAR}, got {value!r}").format(
                FIRST_YEAR=FIRST_YEAR, LAST_YEAR=LAST_YEAR, value=value
            )
        )
    if parsed.tzinfo is None:
        aware = localize(parsed, tz)
        if notes is not None and aware.replace(tzinfo=None) != parsed:
            notes.append(
                _(
                    "{given} does not exist in {zone} (the clocks go forward); stored {stored}, "
                    "the time a clock shows then"
                ).format(
                    given=f"{parsed:%Y-%m-%d %H:%M}",
                    zone=tz.key,
                    stored=aware.isoformat(timespec="minutes"),
                )
            )
        return aware
    return parsed.astimezone(tz)


def parse_now(value: str) -> dt.datetime:
    """``BLOGTOOL_NOW``: ISO 8601 with an explicit offset, so a rehearsal is unambiguous."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            _(
                "BLOGTOOL_NOW: expected ISO 8601 with offset, e.g. "
                "2027-03-04T08:00:00+01:00, got {value!r}"
            ).format(value=value)
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(
            _("BLOGTOOL_NOW: expected an offset such as +01:00 or Z, got {value!r}").format(
                value=value
            )
        )
    return parsed


def next_weekday_at(after: dt.datetime, weekday: int, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The first ``weekday`` at ``at`` local time that is at or after ``after``."""
    local = after.astimezone(tz)
    day = local.date() + dt.timedelta(days=(weekday - local.weekday()) % 7)
    candidate = localize(dt.datetime.combine(day, at), tz)
    if candidate < after:
        candidate = localize(dt.datetime.combine(day + dt.timedelta(days=7), at), tz)
    return candidate


# --- for people -------------------------------------------------------------------------------

# Babel patterns (CLDR): "torsdag 16 mars 2017", "tors 16 mars 2017 08:00".
LONG_DATE = "EEEE d MMMM y"
SHORT_DATETIME = "EEE d MMM y HH:mm"


# CLDR's names in the languages blogtool's catalogues speak, exactly as Babel gives them
# (tests/test_timeutil.py compares): weekdays from Monday (format, wide), months (format, wide),
# months (stand-alone, wide). A build shows dates on most pages, and Babel's first look at a
# locale loads all of its CLDR data, 20 to 40 ms of a build that changed one post. Other
# languages go through Babel.
_SV_MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # (In both languages a month is named alike alone and in a date.)
    "sv": (
        ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
        _SV_MONTHS,
        _SV_MONTHS,
    ),
    "en": (
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        _EN_MONTHS,
        _EN_MONTHS,
    ),
}


def _own_fields(value: dt.datetime | dt.date) -> bool:
    """Babel formats an aware datetime in its own zone and a date as it is; a naive datetime
    it takes for UTC. The first two need nothing from Babel but the names."""
    return not isinstance(value, dt.datetime) or value.tzinfo is not None


def long_date(value: dt.datetime | dt.date, locale: str = "sv") -> str:
    """``torsdag 16 mars 2017``"""
    names = NAMES.get(locale)
    if names is not None and _own_fields(value):  # LONG_DATE, spelled out
        return f"{names[0][value.weekday()]} {value.day} {names[1][value.month - 1]} {value.year}"
    return _babel(value, _zone(value), LONG_DATE, locale)


def day_month_year(value: dt.date, locale: str = "sv") -> str:
    """``16 mars 2017``: a date without its weekday."""
    names = NAMES.get(locale)
    if names is not None:
        return f"{value.day} {names[1][value.month - 1]} {value.year}"
    return _babel(value, None, "d MMMM y", locale)


def short_datetime(value: dt.datetime, locale: str = "sv") -> str:
    """``tors 16 mars 2017 08:00``, in the value's own time zone."""
    return _babel(value, _zone(value), SHORT_DATETIME, locale)


def month_year(value: dt.datetime | dt.date, locale: str = "sv") -> str:
    """``mars 2017``"""
    names = NAMES.get(locale)
    if names is not None:  # "LLLL y"; a date's own fields, as Babel's format_date takes them
        return f"{names[2][value.month - 1]} {value.year}"
    return _babel(value, _zone(value), "LLLL y", locale)


def _zone(value: dt.datetime | dt.date) -> object:
    """Part of the cache key: two aware datetimes of one instant are equal (and hash alike)
    whatever their zones, but they are written as different local times."""
    return value.tzinfo if isinstance(value, dt.datetime) else None


@lru_cache(maxsize=65536)  # a big site formats each date on several pages
def _babel(value: dt.datetime | dt.date, _zone: object, pattern: str, locale: str) -> str:
    from babel.dates import format_date, format_datetime

    if isinstance(value, dt.datetime) and pattern != "LLLL y":
        return format_datetime(value, pattern, tzinfo=value.tzinfo, locale=locale)
    return format_date(value, pattern, locale=locale)
