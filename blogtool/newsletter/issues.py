"""Newsletter issues: the tips published since the last issue, compiled into a subject, an HTML
part (CSS inlined) and a real plain-text part, frozen in the state database.

The stored parts carry a placeholder where each recipient's own unsubscribe link goes.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from markupsafe import Markup

from blogtool.config import Config, MailingList
from blogtool.content.markdown import to_html
from blogtool.content.model import Item, Kind, Site
from blogtool.errors import UsageError
from blogtool.i18n import _
from blogtool.newsletter.plaintext import html_to_text
from blogtool.newsletter.subject import headlines, issue_context
from blogtool.pictures import markup, variants
from blogtool.site.render import link_sources, portable
from blogtool.site.templates import make_environment, render, words
from blogtool.site.urls import Urls
from blogtool.store import script, transaction, utc_now_iso
from blogtool.timeutil import localize

UNSUBSCRIBE_PLACEHOLDER = "@@BLOGTOOL-UNSUBSCRIBE-URL@@"
PREFERENCES_PLACEHOLDER = "@@BLOGTOOL-PREFERENCES-URL@@"


def with_sample_links(part: str, config: Config) -> str:
    """A stored part with example links where each reader's own go (for previews)."""
    sample = config.newsletter.unsubscribe_url + "?t=exempel"
    preferences = (config.web.base_url or "") + config.web_path("preferences") + "?t=exempel"
    return part.replace(UNSUBSCRIBE_PLACEHOLDER, sample).replace(
        PREFERENCES_PLACEHOLDER, preferences
    )


FIRST_ISSUE_LOOKBACK = dt.timedelta(days=7)


def content_digest(subject: str, preheader: str, html: str, text: str) -> str:
    """What a reader would get: changes when any word of an issue does. A proof and an
    approval are of this."""
    import hashlib

    h = hashlib.sha256()
    for part in (subject, preheader, html, text):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:20]


class IssueState(StrEnum):
    """One name for each state an issue can be in."""

    READY = "ready"  # built, recipients not fixed yet
    SENDING = "sending"  # recipients fixed, not everyone reached yet
    SENT = "sent"  # every delivery settled


def add_list_column(db: sqlite3.Connection) -> None:
    """Migration 004: which list an issue is for (NULL: the series' letter, as before)."""
    db.execute("ALTER TABLE issues ADD COLUMN list TEXT")


def create_tables(db: sqlite3.Connection) -> None:
    """Part of migration 001."""
    script(
        db,
        """
        CREATE TABLE issues (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            period_start TEXT NOT NULL,
            period_end TEXT NOT NULL,
            subject TEXT NOT NULL,
            preheader TEXT NOT NULL,
            html TEXT NOT NULL,                  -- with the unsubscribe placeholder
            text TEXT NOT NULL,
            items TEXT NOT NULL,                 -- JSON list of item paths
            frozen_at TEXT,                      -- recipients fixed at this time
            completed_at TEXT
        );
        """,
    )


@dataclass(frozen=True)
class Issue:
    id: int
    created_at: str
    period_start: str
    period_end: str
    subject: str
    preheader: str
    html: str
    text: str
    items: tuple[str, ...]
    frozen_at: str | None
    completed_at: str | None
    list_key: str | None = None  # None: the series' letter; else the list of posts it went to

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Issue:
        data = {k: row[k] for k in cls.__dataclass_fields__ if k not in ("items", "list_key")}
        return cls(items=tuple(json.loads(row["items"])), list_key=row["list"], **data)

    @property
    def digest(self) -> str:
        return content_digest(self.subject, self.preheader, self.html, self.text)

    @property
    def state(self) -> IssueState:
        if self.completed_at:
            return IssueState.SENT
        return IssueState.SENDING if self.frozen_at else IssueState.READY


@dataclass(frozen=True)
class Draft:
    period_start: dt.datetime
    period_end: dt.datetime
    items: tuple[Item, ...]
    subject: str
    preheader: str
    html: str
    text: str
    list_key: str | None = None  # the list of blog posts it is for; None: the series' letter

    @property
    def digest(self) -> str:
        return content_digest(self.subject, self.preheader, self.html, self.text)


def last_issue(db: sqlite3.Connection, list_key: str | bool | None = False) -> Issue | None:
    """The newest issue; of the series (``None``) or of one list (its key), if given."""
    if list_key is False:
        row = db.execute("SELECT * FROM issues ORDER BY id DESC LIMIT 1").fetchone()
    else:
        row = db.execute(
            "SELECT * FROM issues WHERE list IS ? ORDER BY id DESC LIMIT 1", (list_key,)
        ).fetchone()
    return Issue.from_row(row) if row else None


def get_issue(db: sqlite3.Connection, issue_id: int) -> Issue:
    row = db.execute("SELECT * FROM issues WHERE id = ?", (issue_id,)).fetchone()
    if row is None:
        known = [str(r[0]) for r in db.execute("SELECT id FROM issues ORDER BY id")]
        hint = (
            _("known issues: {ids}").format(ids=", ".join(known))
            if known
            else _("no issue has been built yet")
        )
        raise UsageError(
            _("no newsletter issue {issue_id}; {hint} (see 'blogtool newsletter list')").format(
                issue_id=issue_id, hint=hint
            )
        )
    return Issue.from_row(row)


def completed_issues(db: sqlite3.Connection) -> list[Issue]:
    """Every issue whose sending has ended, oldest first."""
    rows = db.execute("SELECT * FROM issues WHERE completed_at IS NOT NULL ORDER BY id")
    return [Issue.from_row(row) for row in rows]


def unfinished_issue(db: sqlite3.Connection) -> Issue | None:
    """The oldest issue that has not been sent to everyone yet."""
    row = db.execute(
        "SELECT * FROM issues WHERE completed_at IS NULL ORDER BY id LIMIT 1"
    ).fetchone()
    return Issue.from_row(row) if row else None


def due_items(site: Site, since: dt.datetime, now: dt.datetime) -> list[Item]:
    """Published tips (and posts, if configured) dated after ``since``, oldest first."""
    kinds = {Kind.TIP, Kind.POST} if site.config.newsletter.include_posts else {Kind.TIP}
    return [
        i
        for i in site.items
        if i.kind in kinds and i.date is not None and since < i.date <= now and i.is_published(now)
    ]


def send_slot(config: Config, when: dt.datetime) -> dt.datetime:
    """When the newsletter for an item dated ``when`` may go: the item's own time, or with
    ``[newsletter] send_time`` that time on the series weekday of the item's week."""
    send_time = config.newsletter.send_time
    if send_time is None:
        return when
    tz = config.site.timezone
    local = when.astimezone(tz)
    day = local.date() + dt.timedelta(days=config.tips.weekday - local.weekday())
    slot = localize(dt.datetime.combine(day, send_time), tz)
    return max(slot, when)


def default_since(db: sqlite3.Connection, now: dt.datetime) -> dt.datetime:
    """Where the next issue starts: the end of the last one, or one week back for the first."""
    previous = last_issue(db, None)
    if previous is not None:
        return dt.datetime.fromisoformat(previous.period_end)
    return now - FIRST_ISSUE_LOOKBACK


def unmailed_items(
    site: Site, db: sqlite3.Connection, since: dt.datetime, now: dt.datetime
) -> list[Item]:
    """``due_items`` that no earlier issue carried: a tip goes out once, whatever ``since``."""
    mailed = already_mailed(db)
    return [i for i in due_items(site, since, now) if str(i.path) not in mailed]


def compile_issue(
    site: Site, db: sqlite3.Connection, now: dt.datetime, since: dt.datetime | None = None
) -> Draft | None:
    """A new issue with everything published since the last one (or ``since``); None if
    nothing is new. The first issue looks back one week."""
    since = since or default_since(db, now)
    items = unmailed_items(site, db, since, now)
    if not items:
        return None
    return render_issue(site, items, since, now)


def already_mailed(db: sqlite3.Connection, list_key: str | None = None) -> set[str]:
    """Paths of every item some earlier issue of the series (or of the list ``list_key``)
    carried."""
    mailed: set[str] = set()
    for (items,) in db.execute("SELECT items FROM issues WHERE list IS ?", (list_key,)):
        mailed.update(json.loads(items))
    return mailed


def render_issue(
    site: Site,
    items: list[Item],
    since: dt.datetime,
    now: dt.datetime,
    send_at: dt.datetime | None = None,
    mailing_list: MailingList | None = None,
) -> Draft:
    """The issue that carries ``items``, made at ``now`` for the send time ``send_at`` (now,
    if not given). What it says depends on ``send_at`` only, never on when it is made, so a
    proof made the day before is the issue that goes out. ``mailing_list``: a letter of blog
    posts for that list, instead of the series' issue."""
    config = site.config
    urls = Urls(config)
    send_at = send_at or now
    ordered = sorted(items, key=lambda i: (i.date or send_at, i.slug), reverse=True)
    context = issue_context(config, ordered, send_at)
    env = make_environment(config)
    word = words(env, config)
    subject, preheader, heading, letter_name = headlines(config, word, context, mailing_list)
    links = urls.sources(i for i in site.items if i.date is not None and i.date <= send_at)
    lead = context["lead"]
    made, _failed = variants.prepare(config, markup.wanted(config, ordered), jobs=1)
    pics = markup.Pictures(config, made, urls.href, urls.absolute)
    entries: list[dict[str, Any]] = []
    for item in ordered:
        url = urls.absolute(urls.item(item))
        body = pics.embed(to_html(item.body, word("footnote_backlink")), item, "mail")
        body = link_sources(body, item.path, links, urls.href)
        html = portable(body, url)
        service = config.services.get(item.service or "")
        entries.append(
            {
                "item": item,
                "url": url,
                "html": Markup(html),
                "text": html_to_text(html, word("image_label")),
                "service": service,
                # Only the newest tip's service is "this week's"; the others are named.
                "featured": item is lead
                or any(i is lead and i.service == item.service for i in ordered),
                "image": _mail_picture(pics, item.image, item.image_alt, item),
                "service_image": _mail_picture(
                    pics,
                    service.image if service else None,
                    service.image_alt if service else "",
                    None,
                    120,
                ),
            }
        )
    # A service two tips feature gets its card once, after the last of them in the letter.
    last_of = {e["service"].key: n for n, e in enumerate(entries) if e["service"] is not None}
    for n, entry in enumerate(entries):
        if entry["service"] is not None and last_of[entry["service"].key] != n:
            entry["service"] = None
            entry["service_image"] = ""
    data = {
        "subject": subject,
        "preheader": preheader,
        "heading": heading,
        "letter_name": letter_name,
        "entries": entries,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
        # Each reader's own preferences page, when the site has the reader service.
        "preferences_url": PREFERENCES_PLACEHOLDER if config.web.base_url else "",
    }
    html = render(env, "email/newsletter.html", config, **data)
    import css_inline

    # Rules go inline; @media rules (dark mode) stay in a style element, where mail clients
    # that follow the reader's setting find them.
    html = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True).inline(html)
    text = render(env, "email/newsletter.txt", config, **data)
    # No trailing spaces, but the signature separator keeps its one (RFC 3676: "-- ").
    text_lines = [line.rstrip() for line in text.splitlines()]
    text = "\n".join("-- " if line == "--" else line for line in text_lines).strip() + "\n"
    key = mailing_list.key if mailing_list else None
    return Draft(since, now, tuple(items), subject, preheader, html, text, key)


def save_issue(db: sqlite3.Connection, draft: Draft, now: dt.datetime) -> Issue:
    with transaction(db):
        cursor = db.execute(
            "INSERT INTO issues (created_at, period_start, period_end, subject, preheader, html, "
            "text, items, list) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                utc_now_iso(now),
                draft.period_start.isoformat(),
                draft.period_end.isoformat(),
                draft.subject,
                draft.preheader,
                draft.html,
                draft.text,
                json.dumps([str(i.path) for i in draft.items]),
                draft.list_key,
            ),
        )
    assert cursor.lastrowid is not None
    return get_issue(db, cursor.lastrowid)


def issues(db: sqlite3.Connection) -> list[Issue]:
    return [Issue.from_row(r) for r in db.execute("SELECT * FROM issues ORDER BY id")]


def is_frozen(db: sqlite3.Connection, issue_id: int) -> bool:
    row = db.execute("SELECT frozen_at FROM issues WHERE id = ?", (issue_id,)).fetchone()
    return row is not None and row[0] is not None


def mark_frozen(db: sqlite3.Connection, issue_id: int, now: dt.datetime) -> None:
    db.execute("UPDATE issues SET frozen_at = ? WHERE id = ?", (utc_now_iso(now), issue_id))


def mark_completed(db: sqlite3.Connection, issue_id: int, now: dt.datetime) -> None:
    db.execute(
        "UPDATE issues SET completed_at = ? WHERE id = ? AND completed_at IS NULL",
        (utc_now_iso(now), issue_id),
    )


def _mail_picture(
    pics: markup.Pictures,
    ref: str | None,
    alt: str | None,
    item: Item | None,
    width: int = markup.MAIL_COLUMN,
) -> Markup:
    """A picture in the newsletter: absolute URL, made at twice its width, width and height
    set, its alt text."""
    pic = pics.find(ref, item)
    if pic is None:
        return Markup("")
    style = markup.MAIL_STYLE.replace("552px", f"{width}px")
    return Markup(pics.plain_html(pic, alt or "", width, style))
