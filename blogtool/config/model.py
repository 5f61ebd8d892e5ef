"""The configuration: one frozen dataclass per ``blogtool.toml`` section, each key declared once
with its type, default, check and documentation (see ``schema.key``).

A default of None followed by "derived" in the doc is worked out from other keys when the site
is loaded (``load.py``), and ``blogtool config`` shows the value it came to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from blogtool.config import schema as s
from blogtool.config.mailmodel import (
    BouncesConfig,
    MailingList,
    NewsletterConfig,
    SmtpConfig,
    WebConfig,
)
from blogtool.errors import Problem
from blogtool.files import link_path
from blogtool.timeutil import WEEKDAYS, parse_weekday


@dataclass(frozen=True)
class SiteConfig:
    """[site]: what the site is called, where it lives, its language and time zone."""

    title: str = s.key(
        str, doc="The site's name, in page titles, feeds and mail.", convert=s.nonempty
    )
    base_url: str = s.key(
        str,
        doc="Where the site is published, such as https://blogg.example.se/ (a final / is added).",
        convert=s.base_url,
    )
    language: str = s.key(
        str, "sv", "Language of pages, feeds and mail (sv, en, ...).", convert=s.language
    )
    timezone: ZoneInfo = s.key(
        str,
        "Europe/Stockholm",
        "IANA time zone that decides what 'Thursday 08:00' means, across daylight saving.",
        convert=s.timezone,
        dump=lambda zone: zone.key,
    )
    author: str = s.key(str, "", "Author of posts and tips that name none.")
    organisation: str = s.key(
        str,
        None,
        "The public body that publishes the site, as the accessibility statement and the "
        "records archive name it; derived from author, else title.",
        convert=s.nonempty,
    )
    image: str | None = s.key(
        str,
        None,
        "The picture a shared link shows when an item has none (og:image); a file "
        "in media/ or the site.",
    )
    image_alt: str = s.key(str, "", "What the site's picture shows.")
    logo: str | None = s.key(
        str, None, "The site's logo in the page header (an SVG or PNG in media/ or the site)."
    )
    intro: str = s.key(str, "", "A sentence or two under the title on the home page.")
    allow_hosts: tuple[str, ...] = s.key(
        list,
        [],
        "Other hosts a page may load something from (a map, a video); check names any other. "
        "Empty: nothing is loaded from another host.",
        convert=s.hosts,
        dump=list,
    )

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).hostname or "localhost"


@dataclass(frozen=True)
class TipsConfig:
    """[tips]: the weekly tip series."""

    enabled: bool = s.key(
        bool,
        True,
        "false: a blog without the weekly series (no series page, feed, letter, navigation "
        "link or empty-week warnings).",
    )
    title: str = s.key(
        str,
        None,
        "The series' name; derived from [site] language (Torsdagstips, Thursday tips).",
        convert=s.nonempty,
    )
    slug: str = s.key(
        str, None, "Address of the series' pages; derived from the title.", convert=s.address_word
    )
    weekday: int = s.key(
        str,
        "thursday",
        "The day the series goes out (English or Swedish).",
        convert=parse_weekday,
        dump=lambda day: WEEKDAYS[day],
    )
    time: dt.time = s.key(
        str,
        "08:00",
        "When a tip goes out (HH:MM, the site's zone).",
        convert=s.clock,
        dump=s.clock_text,
    )
    holidays: str | None = s.key(
        str,
        None,
        "Whose public holidays the calendar notes: a country code of the holidays "
        'package (SE, GB, ...); derived from [site] language; "" turns holiday notes off.',
        convert=s.country,
    )
    warn_weeks: int = s.key(
        int,
        3,
        "status and run warn about series weeks without a tip this many weeks ahead (0: never).",
        convert=s.non_negative,
    )

    @property
    def weekday_name(self) -> str:
        return WEEKDAYS[self.weekday]


@dataclass(frozen=True)
class Service:
    """[services.KEY]: a municipal service a tip can feature."""

    key: str  # the table's name, e.g. "naturkartan"
    name: str = s.key(str, doc="The service's name.", convert=s.nonempty)
    url: str | None = s.key(
        str,
        None,
        "Its web address: the card's button. A tip cannot go out for a service without one.",
        convert=s.http_url,
    )
    description: str = s.key(str, doc="One sentence about it.", convert=s.nonempty)
    app_store: str | None = s.key(str, None, "Its app in Apple's App Store.", convert=s.http_url)
    google_play: str | None = s.key(str, None, "Its app on Google Play.", convert=s.http_url)
    image: str | None = s.key(str, None, "An image for its card.")
    image_alt: str | None = s.key(str, None, "What the image shows (required with image).")


@dataclass(frozen=True)
class CheckConfig:
    """[check]: what 'blogtool check' warns about."""

    lix_limit: float = s.key(
        (int, float), 50, "Readability (LIX) above which a text gets a warning.", convert=float
    )
    link_timeout: float = s.key(
        (int, float),
        10,
        "Seconds 'check --links' waits for a site's answer before it calls the link broken.",
        convert=s.positive_float,
    )
    link_hosts: int = s.key(
        int,
        4,
        "How many sites 'check --links' asks at once (each one request at a time).",
        convert=s.positive,
    )
    links_before_proof: bool = s.key(
        bool,
        True,
        "run checks the coming newsletter's links before its proof goes, and the proof and "
        "status show what is broken (false: a machine that cannot reach the internet).",
    )


@dataclass(frozen=True)
class BuildConfig:
    """[build]: the static site."""

    output: str = s.key(str, "public", "Output directory, inside the site.", convert=s.relative_dir)
    feed_limit: int = s.key(int, 20, "Items in each feed.", convert=s.positive)
    per_page: int = s.key(int, 10, "Items on each page of the home page.", convert=s.positive)
    search: bool = s.key(
        bool,
        True,
        "Make the Pagefind search index after each build that changed a page (in parts of "
        "about 6 MB of pages; a changed post makes its part again, about a second).",
    )
    search_background: int = s.key(
        int,
        1000,
        "From this many pages on, 'blogtool build' returns as soon as the changed pages are "
        "live and the search index follows in a process of its own (0: never; 'run' and "
        "'build --wait' always wait for it).",
        convert=s.non_negative_int,
    )


@dataclass(frozen=True)
class ImagesConfig:
    """[images]: how pictures are prepared for the web (Pillow)."""

    widths: tuple[int, ...] = s.key(
        list,
        [480, 960, 1600],
        "The widths each picture is made in, in pixels (never wider than the original).",
        convert=s.widths,
        dump=list,
    )
    max_size: float = s.key(
        (int, float),
        10,
        "An original over this many megabytes gets a warning.",
        convert=s.non_negative_float,
    )
    quality: int = s.key(int, 82, "JPEG and WebP quality (1-95).", convert=s.percent_quality)


@dataclass(frozen=True)
class UrlsConfig:
    """[urls]: the words in the site's addresses; each derived from [site] language. Renaming
    one on a live site makes the next build write redirects from the old addresses."""

    tag: str = s.word_key("Topic pages (tagg, tag).")
    archive: str = s.word_key("The archive (arkiv, archive).")
    service: str = s.word_key("Service pages (tjanst, service).")
    page: str = s.word_key("Older pages of the home page (sida, page).")
    search: str = s.word_key("The search page (sok, search).")
    pictures: str = s.word_key("Made pictures (bilder, images).")
    subscribe: str = s.word_key("Reader service: sign-up (prenumerera, subscribe).")
    confirm: str = s.word_key("Reader service: confirm (bekrafta, confirm).")
    unsubscribe: str = s.word_key("Reader service: unsubscribe (avregistrera, unsubscribe).")
    preferences: str = s.word_key("Reader service: what I get (installningar, settings).")
    my_data: str = s.word_key("Reader service: my data (mina-uppgifter, my-data).")
    erase: str = s.word_key("Reader service: erase, below my data (radera, erase).")
    accessibility: str = s.word_key(
        "The accessibility statement, and its report form on the reader service "
        "(tillganglighet, accessibility)."
    )


COMPLIANCE = ("full", "partial", "not")


@dataclass(frozen=True)
class AccessibilityConfig:
    """[accessibility]: the accessibility statement that the law on digital public services
    (DOS-lagen, the EU Web Accessibility Directive) asks of a public body's site, in the form
    of DIGG's model; published at tillganglighet/ (accessibility/) and linked from every page
    and letter."""

    enabled: bool = s.key(
        bool, True, "Publish the statement (false only for a site the law does not cover)."
    )
    compliance: str = s.key(
        str,
        "partial",
        "How far the site meets the requirements: full, partial or not.",
        convert=s.one_of(*COMPLIANCE),
    )
    shortcomings: tuple[str, ...] = s.key(
        list,
        [],
        "What is not accessible and why, one sentence each (name the WCAG criterion).",
        convert=s.sentences,
        dump=list,
    )
    burden: tuple[str, ...] = s.key(
        list,
        [],
        "What is exempt as a disproportionate burden (12 §), each with the reason.",
        convert=s.sentences,
        dump=list,
    )
    out_of_scope: tuple[str, ...] = s.key(
        list,
        [],
        "What the law does not cover (9 §), such as files published before 23 September 2018.",
        convert=s.sentences,
        dump=list,
    )
    method: str = s.key(
        str,
        "self",
        "How the site was assessed: self (a self-assessment) or external (by an outside party).",
        convert=s.one_of("self", "external"),
    )
    report_url: str | None = s.key(
        str, None, "The assessment's report, when it is published.", convert=s.http_url
    )
    assessed: dt.date | None = s.key(
        (str, dt.date),
        None,
        "When the site was last assessed (2026-11-02).",
        convert=s.day,
        dump=s.day_text,
    )
    reviewed: dt.date | None = s.key(
        (str, dt.date),
        None,
        "When the statement was last reviewed and brought up to date; check warns once it is "
        "more than a year old.",
        convert=s.day,
        dump=s.day_text,
    )
    published: dt.date | None = s.key(
        (str, dt.date), None, "When the site was first published.", convert=s.day, dump=s.day_text
    )
    contact: str | None = s.key(
        str,
        None,
        "Where readers' reports of what they cannot use go: the statement's form mails them "
        "here (with [web] base_url), or the statement shows the address.",
        convert=s.mailbox,
    )
    axe_results: str | None = s.key(
        str,
        None,
        "axe-core's results (JSON: one page's, or a list of pages'), a file inside the site; "
        "the statement then says what axe found and when.",
        convert=s.relative_file,
    )
    response_days: int = s.key(
        int,
        0,
        "Within how many working days a report is answered (0: not said).",
        convert=s.non_negative,
    )


@dataclass(frozen=True)
class RunConfig:
    """[run]: the scheduled job."""

    log_file: str | None = s.key(
        str, None, "Also log each action to this file, inside the site.", convert=s.relative_file
    )


ROLES = ("writer", "publisher")


def people(value: dict[str, object]) -> Mapping[str, str]:
    """[studio.people]: each person (as the sign-on proxy or --user names them) and their
    role."""
    from blogtool.i18n import _

    out: dict[str, str] = {}
    for person, role in value.items():
        if not person.strip() or any(c.isspace() or ord(c) < 32 for c in person):
            raise ValueError(
                _("expected a person's name without spaces, got {person!r}").format(person=person)
            )
        if role not in ROLES:
            raise ValueError(
                _("{person}: expected 'writer' or 'publisher', got {role!r}").format(
                    person=person, role=role
                )
            )
        out[person] = str(role)
    return MappingProxyType(out)


@dataclass(frozen=True)
class StudioConfig:
    """[studio]: the editor in the browser (blogtool studio)."""

    people: Mapping[str, str] = s.key(
        dict,
        {},
        "Who may use the studio, as a table of person = role: 'writer' (writes and edits "
        "drafts) or 'publisher' (also schedules, unschedules, approves the newsletter and "
        "sends a test). A person who is an e-mail address gets their test letters there.",
        convert=people,
        dump=dict,
    )
    user_header: str | None = s.key(
        str,
        None,
        "Behind a single sign-on proxy: the request header that names the person, e.g. "
        "X-Forwarded-User. Believed only from trusted_proxy.",
        convert=s.nonempty,
    )
    trusted_proxy: str | None = s.key(
        str,
        None,
        "The sign-on proxy's address (e.g. 127.0.0.1); only its requests may name a person "
        "in user_header.",
    )
    session: dt.timedelta = s.key(
        str,
        "12h",
        "How long a login lasts in the browser.",
        convert=s.duration,
        dump=s.duration_text,
    )
    max_upload: int = s.key(
        int,
        10,
        "The largest picture the studio takes, in megabytes.",
        convert=s.positive,
    )
    git_commit: bool = s.key(
        bool,
        False,
        "In a git checkout, also commit every change made in the studio, with the person as "
        "its author.",
    )


SECTIONS: dict[str, type] = {
    "site": SiteConfig,
    "tips": TipsConfig,
    "check": CheckConfig,
    "build": BuildConfig,
    "images": ImagesConfig,
    "newsletter": NewsletterConfig,
    "run": RunConfig,
    "urls": UrlsConfig,
    "smtp": SmtpConfig,
    "web": WebConfig,
    "bounces": BouncesConfig,
    "accessibility": AccessibilityConfig,
    "studio": StudioConfig,
}
OPTIONAL_SECTIONS = {"smtp"}  # present only when the site has one
# Tables of named sub-tables.
TABLES: dict[str, type] = {"services": Service, "lists": MailingList}


@dataclass(frozen=True)
class Config:
    root: Path
    path: Path
    site: SiteConfig
    tips: TipsConfig
    services: Mapping[str, Service]
    check: CheckConfig
    build: BuildConfig
    images: ImagesConfig
    newsletter: NewsletterConfig
    smtp: SmtpConfig | None
    run: RunConfig
    urls: UrlsConfig
    web: WebConfig
    bounces: BouncesConfig
    accessibility: AccessibilityConfig
    studio: StudioConfig
    lists: Mapping[str, MailingList]  # never empty: the defaults when blogtool.toml has none
    # What was wrong in a config loaded leniently (for `check`); empty otherwise.
    problems: tuple[Problem, ...] = ()
    posts_dir: Path = field(init=False)
    tips_dir: Path = field(init=False)
    templates_dir: Path = field(init=False)
    media_dir: Path = field(init=False)
    state_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "posts_dir", self.root / "posts")
        object.__setattr__(self, "tips_dir", self.root / "tips")
        object.__setattr__(self, "templates_dir", self.root / "templates")
        object.__setattr__(self, "media_dir", self.root / "media")
        object.__setattr__(self, "state_dir", self.root / ".blogtool")

    @property
    def output_dir(self) -> Path:
        return link_path(self.root / self.build.output)  # a link to the live release

    @property
    def state_path(self) -> Path:
        return (self.root / self.newsletter.state).resolve()

    @property
    def outbox_dir(self) -> Path:
        return (self.root / self.newsletter.outbox).resolve()

    def web_path(self, route: str) -> str:
        """Where a page of the reader service is, below [web] base_url: ``web_path("my_data")``
        is "mina-uppgifter" on a Swedish site. Routes: home, subscribe, confirm, preferences,
        unsubscribe, my_data, erase."""
        if route == "home":
            return ""
        if route == "erase":
            return f"{self.urls.my_data}/{self.urls.erase}"
        return str(getattr(self.urls, route))

    @property
    def log_path(self) -> Path | None:
        return (self.root / self.run.log_file).resolve() if self.run.log_file else None
