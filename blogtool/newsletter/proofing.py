"""Proofing before sending: the coming issue as it will go out, proofs to the editors, and
approval when the site asks for it.

The coming issue is what the next scheduled send will mail: the items not yet in any issue
whose send time comes first, rendered for that send time, scheduled ones included. Its
``digest`` names its content: a proof is sent again, and an approval no longer counts, when
the digest changes. What was proofed and approved is kept in the state database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from blogtool import i18n
from blogtool.config import Config
from blogtool.content.model import Item, Kind, Site
from blogtool.i18n import N_
from blogtool.newsletter.issues import (
    Draft,
    Issue,
    already_mailed,
    default_since,
    render_issue,
    send_slot,
)
from blogtool.store import get_state, set_state, transaction, utc_now_iso
from blogtool.timeutil import long_date

# Subject prefixes of a proof copy, translated in the site's language where the mail is made.
PROOF_PREFIX = N_("[Proof] ")
CHANGED_PROOF_PREFIX = N_("[Proof, changed] ")


@dataclass(frozen=True)
class Coming:
    send_at: dt.datetime
    items: tuple[Item, ...]
    draft: Draft
    list_key: str | None = None  # None: the series' issue; else a letter of posts to this list

    @property
    def digest(self) -> str:
        return self.draft.digest

    @property
    def key(self) -> str:
        """The send this issue is for, as the state database names it (a list's letter with
        the list's name: it may share its send time with the series' issue)."""
        when = self.send_at.astimezone(dt.UTC).isoformat(timespec="minutes")
        return f"{self.list_key}:{when}" if self.list_key else when

    def as_issue(self) -> Issue:
        """The draft in the shape the mail composer takes (id 0: never stored)."""
        d = self.draft
        return Issue(
            0,
            "",
            d.period_start.isoformat(),
            d.period_end.isoformat(),
            d.subject,
            d.preheader,
            d.html,
            d.text,
            tuple(str(i.path) for i in d.items),
            None,
            None,
            self.list_key,
        )


def coming_issue(site: Site, db: sqlite3.Connection, now: dt.datetime) -> Coming | None:
    """The issue the next scheduled send will mail, or None if nothing is waiting for one."""
    config = site.config
    kinds = {Kind.TIP, Kind.POST} if config.newsletter.include_posts else {Kind.TIP}
    since = default_since(db, now)
    mailed = already_mailed(db)
    candidates = [
        i
        for i in site.items
        if i.kind in kinds
        and not i.draft
        and i.date is not None
        and i.date > since
        and str(i.path) not in mailed
    ]
    if not candidates:
        return None
    slots = {i.path: send_slot(config, i.date) for i in candidates if i.date is not None}
    # Everything already due goes in one issue (a run after downtime sends one, late);
    # otherwise the earliest send to come.
    due = [when for when in slots.values() if when <= now]
    send_at = max(due) if due else min(slots.values())
    items = [i for i in candidates if slots[i.path] <= send_at]
    return Coming(send_at, tuple(items), render_issue(site, items, since, now, send_at))


# --- what was proofed and approved ------------------------------------------------------------


def proofed(db: sqlite3.Connection, coming: Coming) -> tuple[str, str] | None:
    """(digest, when) of the last proof of this send, if one went."""
    value = get_state(db, f"proof.{coming.key}")
    if not value:
        return None
    digest, _sep, at = value.partition(" ")
    return digest, at


def record_proof(db: sqlite3.Connection, coming: Coming, now: dt.datetime) -> None:
    with transaction(db):
        set_state(db, f"proof.{coming.key}", f"{coming.digest} {utc_now_iso(now)}", now)


def approved_at(db: sqlite3.Connection, digest: str) -> str | None:
    """When the issue with this content was approved (UTC, ISO 8601), if it was."""
    return get_state(db, f"approved.{digest}")


def approve(db: sqlite3.Connection, digest: str, now: dt.datetime) -> None:
    with transaction(db):
        if approved_at(db, digest) is None:
            set_state(db, f"approved.{digest}", utc_now_iso(now), now)


def hold(db: sqlite3.Connection, coming: Coming, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """When this send was first held for approval (recorded now if it was not yet), and
    whether that is now."""
    key = f"held.{coming.key}"
    value = get_state(db, key)
    first = value is None
    if value is None:
        value = utc_now_iso(now)
        with transaction(db):
            set_state(db, key, value, now)
    return dt.datetime.fromisoformat(value), first


def held_since(db: sqlite3.Connection, coming: Coming) -> dt.datetime | None:
    value = get_state(db, f"held.{coming.key}")
    return dt.datetime.fromisoformat(value) if value else None


def proof_due(site: Site, coming: Coming, now: dt.datetime) -> bool:
    """Whether the proof window of this send has opened (and proofs are configured)."""
    news = site.config.newsletter
    return bool(news.proof_to) and now >= coming.send_at - news.proof_before


def proof_wanted(site: Site, db: sqlite3.Connection, coming: Coming, now: dt.datetime) -> bool:
    """Whether a proof of this send is of use: proofs are configured, and the issue has not
    gone yet, or it waits for approval (a late proof is then what the approver reads)."""
    news = site.config.newsletter
    waiting = news.approval and approved_at(db, coming.digest) is None
    return bool(news.proof_to) and (coming.send_at > now or waiting)


def proof_owed(site: Site, db: sqlite3.Connection, coming: Coming, now: dt.datetime) -> bool:
    """Whether a proof of ``coming`` should go now: wanted, its window open, and this version
    not proofed yet."""
    if not proof_wanted(site, db, coming, now) or not proof_due(site, coming, now):
        return False
    last = proofed(db, coming)
    return last is None or last[0] != coming.digest


def mail_proof(
    site: Site,
    db: sqlite3.Connection,
    coming: Coming,
    now: dt.datetime,
    proof: Callable[[Coming, str], None],
) -> bool | None:
    """Mail the editors a proof of ``coming`` if one is owed, and record it. None if none was;
    else whether it is of a changed version (its subject says so)."""
    if not proof_owed(site, db, coming, now):
        return None
    if site.config.check.links_before_proof:
        check_links(site, db, coming, now)  # what is broken goes into the proof
    last = proofed(db, coming)
    proof(coming, PROOF_PREFIX if last is None else CHANGED_PROOF_PREFIX)
    record_proof(db, coming, now)
    return last is not None


# --- the coming issue's links ------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    url: str
    reason: str
    where: tuple[str, ...]  # "tips/x.md:12", ...


def check_links(
    site: Site, db: sqlite3.Connection, coming: Coming, now: dt.datetime
) -> list[BrokenLink]:
    """Ask the coming issue's links to other sites (and its services' addresses) whether they
    still lead somewhere, before its proof goes; what is broken is kept for the proof and for
    ``status``."""
    from blogtool.content.links import LinkChecker, external_links

    config = site.config
    found = external_links(config, coming.items, services=False)
    checker = LinkChecker.for_site(config)
    verdicts, _remembered = checker.check(found, now)
    broken = [
        BrokenLink(
            url,
            verdict.reason,
            tuple(f"{p.path}:{p.line}" if p.line else str(p.path) for p in found[url]),
        )
        for url, verdict in sorted(verdicts.items())
        if not verdict.ok
    ]
    record = {
        "at": utc_now_iso(now),
        "checked": len(verdicts),
        "broken": [dataclasses.asdict(b) for b in broken],
    }
    with transaction(db):
        set_state(db, f"links.{coming.key}", json.dumps(record, ensure_ascii=False), now)
    return broken


def checked_links(
    db: sqlite3.Connection, coming: Coming
) -> tuple[dt.datetime, int, list[BrokenLink]] | None:
    """(when, how many, which are broken) of the last look at this send's links, if any."""
    value = get_state(db, f"links.{coming.key}")
    if value is None:
        return None
    record = json.loads(value)
    broken = [BrokenLink(b["url"], b["reason"], tuple(b["where"])) for b in record["broken"]]
    return dt.datetime.fromisoformat(record["at"]), int(record["checked"]), broken


# --- the proof's banner -----------------------------------------------------------------------

_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
BANNER_STYLE = (
    "margin:0 0 16px 0;padding:12px 16px;border:3px dashed #b00020;background:#fff4f4;"
    "color:#1a1a1a;font-family:Arial,sans-serif;font-size:15px;line-height:1.5"
)


def proof_banner(
    config: Config,
    coming: Coming,
    recipients: int,
    approval: bool,
    broken: list[BrokenLink] | None = None,
) -> tuple[str, list[str]]:
    """(the HTML banner, its plain-text lines) that mark a proof as one: when the issue goes,
    to how many, what lets it go, and which of its links lead nowhere. In the site's language,
    as the mail is."""
    words = i18n.reader(config.site.language)
    local = coming.send_at.astimezone(config.site.timezone)
    when = f"{long_date(local, config.site.language)} {local:%H:%M}"
    lines = [
        words.gettext("PROOF: not the newsletter itself, and only to the editors."),
        words.ngettext(
            "It goes on {when} to {n} subscriber.",
            "It goes on {when} to {n} subscribers.",
            recipients,
        ).format(when=when, n=recipients),
        words.gettext("It goes only when approved: blogtool newsletter approve")
        if approval
        else words.gettext("It goes by itself; no approval is asked for."),
    ]
    for link in broken or ():
        lines.append(
            words.gettext("Broken link: {url} ({reason}), in {where}").format(
                url=link.url, reason=link.reason, where=", ".join(link.where)
            )
        )
    html = (
        f'<div style="{BANNER_STYLE}" role="note">'
        f'<p style="margin:0;font-weight:bold">{escape(lines[0])}</p>'
        + "".join(f'<p style="margin:4px 0 0 0">{escape(line)}</p>' for line in lines[1:])
        + "</div>"
    )
    return html, lines


def as_proof(issue: Issue, banner: tuple[str, list[str]]) -> Issue:
    """``issue`` with the proof's banner above its content, in the HTML and in the text."""
    html, lines = banner
    marked = _BODY.sub(lambda m: m.group(0) + html, issue.html, count=1)
    if marked == issue.html:
        marked = html + issue.html
    rule = "=" * max(len(line) for line in lines)
    text = "\n".join([rule, *lines, rule, "", issue.text])
    return dataclasses.replace(issue, html=marked, text=text)
