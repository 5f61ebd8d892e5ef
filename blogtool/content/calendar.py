"""The plan of coming series weekdays: which week has a tip, which is empty, which collides,
which falls on a holiday. Pure functions of the site and ``now``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from blogtool.config import Config
from blogtool.content.model import Item, Site, Status
from blogtool.errors import ConfigError
from blogtool.i18n import _, label_of, reader
from blogtool.timeutil import localize, next_weekday_at


@dataclass(frozen=True)
class Slot:
    """One series weekday and what is planned in its ISO week."""

    when: dt.datetime
    tips: tuple[Item, ...]
    posts: tuple[Item, ...]
    holiday: str | None

    @property
    def week(self) -> int:
        return self.when.isocalendar().week

    @property
    def is_empty(self) -> bool:
        return not self.tips

    @property
    def is_collision(self) -> bool:
        return len(self.tips) > 1


@cache
def _holidays_for(year: int, country: str, language: str) -> dict[dt.date, str]:
    import holidays  # imported here: it is slow to import and only the plan needs it

    if country not in holidays.list_supported_countries():
        raise ConfigError(
            _("[tips] holidays: {code!r} is not a country code the holidays package knows").format(
                code=country
            )
        )
    named = holidays.list_localized_countries().get(country, [])
    names = next((n for n in named if n.split("_")[0] == language), None)
    found: dict[dt.date, str] = {}
    # Public holidays, and the de facto ones (julafton, nyårsafton, midsommarafton) on which
    # a municipality's offices are closed and nobody reads a newsletter.
    for category in ("public", "de_facto"):
        try:
            days = holidays.country_holidays(
                country, years=[year], language=names, categories=(category,)
            )
        except (NotImplementedError, ValueError):  # a country without that category
            continue
        for day, name in days.items():
            if name not in ("Söndag", "Sunday"):
                found.setdefault(day, name)
    return found


def holiday_on(day: dt.date, config: Config, language: str) -> str | None:
    """The holiday on ``day`` (Sundays aside) in ``[tips] holidays``' country, named in
    ``language`` when the holidays package can; None on other days or with holidays off."""
    if not config.tips.holidays:
        return None
    return _holidays_for(day.year, config.tips.holidays, language).get(day)


def _week_key(when: dt.datetime) -> tuple[int, int]:
    iso = when.isocalendar()
    return iso.year, iso.week


def plan(site: Site, now: dt.datetime, weeks: int = 12, language: str = "en") -> list[Slot]:
    """The coming ``weeks`` series weekdays, starting with today's if today is one; holidays
    named in ``language``."""
    config = site.config
    tz = config.site.timezone
    start_of_today = localize(dt.datetime.combine(now.astimezone(tz).date(), dt.time()), tz)
    first = next_weekday_at(start_of_today, config.tips.weekday, config.tips.time, tz)
    slots = []
    for n in range(weeks):
        day = first.date() + dt.timedelta(weeks=n)
        when = localize(dt.datetime.combine(day, config.tips.time), tz)
        key = _week_key(when)
        tips = tuple(
            i for i in site.tips if i.date is not None and _week_key(i.date.astimezone(tz)) == key
        )
        posts = tuple(
            i
            for i in site.posts
            if i.date is not None
            and i.status(now) is Status.SCHEDULED
            and _week_key(i.date.astimezone(tz)) == key
        )
        slots.append(Slot(when, tips, posts, holiday_on(day, config, language)))
    return slots


def next_free_slot(site: Site, now: dt.datetime) -> dt.datetime:
    """The first series weekday at or after ``now`` whose week has no tip (of any status)."""
    config = site.config
    tz = config.site.timezone
    taken = {_week_key(i.date.astimezone(tz)) for i in site.tips if i.date is not None}
    when = next_weekday_at(now, config.tips.weekday, config.tips.time, tz)
    while _week_key(when) in taken:
        when = localize(
            dt.datetime.combine(when.date() + dt.timedelta(weeks=1), config.tips.time), tz
        )
    return when


POST_TIME = dt.time(9, 0)


def next_free_morning(site: Site, now: dt.datetime) -> dt.datetime:
    """A suggestion for a post: the first working day's 09:00 after ``now`` (not a weekend or
    holiday) on which no other post is dated."""
    config = site.config
    tz = config.site.timezone
    taken = {i.date.astimezone(tz).date() for i in site.posts if i.date is not None}
    day = now.astimezone(tz).date()
    when = localize(dt.datetime.combine(day, POST_TIME), tz)
    for _n in range(366):
        if (
            when > now
            and when.weekday() < 5
            and when.date() not in taken
            and not holiday_on(when.date(), config, "en")
        ):
            return when
        day += dt.timedelta(days=1)
        when = localize(dt.datetime.combine(day, POST_TIME), tz)
    return when


def to_ics(slots: list[Slot], config: Config, now: dt.datetime) -> bytes:
    """The plan as an iCalendar file (RFC 5545) that Outlook and Google Calendar import.

    One event per series weekday, with a UID made from its date, so importing a newer plan
    updates the week instead of adding a second event; one event per scheduled post.
    """
    from icalendar import Calendar, Event

    # A calendar is shared with colleagues: it is in the site's language, not the terminal's.
    lang = config.site.language
    words = reader(lang)

    cal = Calendar()
    cal.add("prodid", "-//blogtool//plan//SV")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{config.site.title}: {config.tips.title}")
    cal.add("x-wr-timezone", config.site.timezone.key)
    domain = config.site.domain
    stamp = now.astimezone(dt.UTC)
    seen_posts: set[str] = set()
    for slot in slots:
        event = Event()
        event.add("uid", f"{config.tips.slug}-{slot.when.date().isoformat()}@{domain}")
        event.add("dtstamp", stamp)
        if slot.tips:
            titles = " + ".join(t.title for t in slot.tips)
            prefix = words.gettext("COLLISION: ") if slot.is_collision else ""
            start = slot.tips[0].date or slot.when
            summary = f"{prefix}{config.tips.title}: {titles}"
            lines = [
                f"{t.title} ({label_of(t.status(now).value, lang)}) {t.path}" for t in slot.tips
            ]
            for tip in slot.tips:
                service = config.services.get(tip.service or "")
                if service:
                    lines.append(
                        words.gettext("Service: {name} {url}").format(
                            name=service.name, url=service.url
                        )
                    )
        else:
            start = slot.when
            summary = words.gettext("{series}: no tip planned").format(series=config.tips.title)
            lines = [words.gettext("No tip is planned for this week.")]
        if slot.holiday:
            summary += f" ({slot.holiday})"
            lines.append(words.gettext("Holiday: {name}").format(name=slot.holiday))
        event.add("summary", summary)
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=30))
        event.add("description", "\n".join(lines))
        event.add("categories", [config.tips.title])
        cal.add_component(event)
        for post in slot.posts:
            if post.slug in seen_posts or post.date is None:
                continue
            seen_posts.add(post.slug)
            ev = Event()
            ev.add("uid", f"post-{post.slug}@{domain}")
            ev.add("dtstamp", stamp)
            ev.add("summary", words.gettext("Blog post: {title}").format(title=post.title))
            ev.add("dtstart", post.date)
            ev.add("dtend", post.date + dt.timedelta(minutes=30))
            ev.add(
                "description",
                f"{post.title} ({label_of(post.status(now).value, lang)}) {post.path}",
            )
            cal.add_component(ev)
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data
