"""The unattended job: publish what has become due and send the newsletter, each exactly once.

``run_once`` decides; the caller hands it the functions that build and send (they need files,
a transport and secrets). What has been done is recorded in the state database, so a run every
five minutes, two runs at the same moment (a lock lets one through) and a run after the machine
was off all do the right thing once: no second build of the same state, no second send, and
nothing missed. Every decision is a pure function of the site, the database and ``now``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from blogtool.config import Config
from blogtool.content.calendar import Slot, plan
from blogtool.content.model import Site, Status
from blogtool.delivery.outgoing import Drained
from blogtool.delivery.pacing import SendReport
from blogtool.delivery.queue import count, next_attempt, uncertain_rows
from blogtool.errors import BlogtoolError, LockedError
from blogtool.i18n import _, cli_language, items
from blogtool.job.letters import coming_letters, post_letters, tend_readers
from blogtool.job.result import RunResult, send_and_report
from blogtool.newsletter.issues import (
    Issue,
    default_since,
    save_issue,
    send_slot,
    unfinished_issue,
    unmailed_items,
)
from blogtool.newsletter.proofing import (
    Coming,
    approved_at,
    checked_links,
    coming_issue,
    hold,
    mail_proof,
    proof_owed,
    proof_wanted,
    proofed,
)
from blogtool.site.output import BuildResult, holds_preview
from blogtool.site.templates import fingerprint
from blogtool.store import get_state, set_state, transaction, utc_now_iso
from blogtool.timeutil import short_datetime

LATE_AFTER = dt.timedelta(minutes=30)


def site_fingerprint(site: Site, now: dt.datetime) -> str:
    """Everything the public site is made of at ``now``: templates, config, blogtool's version
    and every published item. Equal fingerprints mean an identical site."""
    published = sorted((i.slug, i.digest("published")) for i in site.items if i.is_published(now))
    h = hashlib.sha256(fingerprint(site.config, "drafts=False", "future=False").encode())
    h.update(json.dumps(published).encode())
    return h.hexdigest()


def ready_for_newsletter(site: Site, db: sqlite3.Connection, now: dt.datetime) -> list[Any]:
    """Items not yet in an issue whose send time has come."""
    return [
        i
        for i in unmailed_items(site, db, default_since(db, now), now)
        if i.date is not None and send_slot(site.config, i.date) <= now
    ]


def run_once(
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    *,
    output: Path,
    build: Callable[[], BuildResult],
    send: Callable[[Issue], SendReport] | None,
    lock: Callable[[str], AbstractContextManager[None]],
    proof: Callable[[Coming, str], None] | None = None,
    send_queued: Callable[[], Drained] | None = None,
    fetch_bounces: Callable[[], Counter[str]] | None = None,
    cannot_mail: str = "",
) -> RunResult:
    """One pass of the scheduled job: publish under the site's build lock, then mail under its
    send lock, so a long send (a manual one, or a run's own) never holds up publishing, and a
    new issue is made and sent by one process only. ``send`` is None when sending cannot work
    (no secret); the run then only publishes, and says why it did not send."""
    result = RunResult()
    if fetch_bounces is not None:
        _fetch_bounces(result, db, now, fetch_bounces)
    try:
        with lock("build"):
            _publish(result, site, db, now, output, build)
    except LockedError as exc:
        result.info(_("{exc}; the build is left to it").format(exc=exc))
    if send is None:
        why = cannot_mail or _("BLOGTOOL_SECRET is not set")
        if unfinished_issue(db) or ready_for_newsletter(site, db, now):
            result.error(_("the newsletter is due but cannot be sent: {why}").format(why=why))
        coming = coming_issue(site, db, now)
        letters = ([coming] if coming is not None else []) + coming_letters(site, db, now)
        for owed in (c for c in letters if proof_owed(site, db, c, now)):
            # A proof that is due and cannot go is an error too: the editors wait for it.
            result.error(
                _("the proof of the newsletter due {when} is due but cannot be sent: {why}").format(
                    when=short_datetime(owed.send_at, cli_language()), why=why
                )
            )
        return result
    try:
        with lock("send"):
            _mail(result, site, db, now, send, proof)
            post_letters(result, site, db, now, send, proof)
    except LockedError as exc:
        result.info(_("{exc}; the newsletter is left to it").format(exc=exc))
    _look_ahead(result, site, db, now)
    if site.config.web.base_url:
        tend_readers(result, site, db, now, send_queued)
    return result


def _fetch_bounces(
    result: RunResult,
    db: sqlite3.Connection,
    now: dt.datetime,
    fetch: Callable[[], Counter[str]],
) -> None:
    """Bounces first, so this run's issue skips whoever bounced. A mailbox that cannot be
    reached is one line, remembered for status, and stops nothing."""
    try:
        counts = fetch()
    except BlogtoolError as exc:
        result.warning(str(exc))
        with transaction(db):
            set_state(db, "bounces.error", str(exc), now)
        return
    with transaction(db):
        set_state(db, "bounces.error", "", now)
    if counts:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        result.info(_("bounce mailbox: {parts}").format(parts=parts))


def weeks_without_tip(site: Site, now: dt.datetime) -> list[tuple[Slot, str]]:
    """The coming series weekdays (``[tips] warn_weeks`` ahead) that no tip will go out on:
    none is planned, or only drafts. Each with what to say about it."""
    config = site.config
    found: list[tuple[Slot, str]] = []
    if not config.tips.enabled:
        return found
    for slot in plan(site, now, config.tips.warn_weeks, cli_language()):
        if slot.when <= now or any(t.status(now) is not Status.DRAFT for t in slot.tips):
            continue
        when = short_datetime(slot.when, cli_language())
        message = _("week {week} ({when}) has no {series} tip yet").format(
            week=slot.week, when=when, series=config.tips.title
        )
        if slot.tips:
            message += _("; only the draft {paths}").format(
                paths=", ".join(str(t.path) for t in slot.tips)
            )
        if slot.holiday:
            message += _(" (it is {holiday})").format(holiday=slot.holiday)
        found.append((slot, message))
    return found


def _look_ahead(result: RunResult, site: Site, db: sqlite3.Connection, now: dt.datetime) -> None:
    """Warn about empty weeks ahead; each one is marked as new the first time, so a quiet run
    under cron (which mails what it prints) brings it up once."""
    for slot, message in weeks_without_tip(site, now):
        year, week, _day = slot.when.isocalendar()
        key = f"warned.empty-week.{year}-{week:02d}"
        result.warning(message)
        if get_state(db, key) is None:
            result.first_time.add(message)
            with transaction(db):
                set_state(db, key, utc_now_iso(now), now)


def _publish(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    output: Path,
    build: Callable[[], BuildResult],
) -> None:
    """Rebuild when the public state differs from the last build's."""
    current = site_fingerprint(site, now)
    if holds_preview(site.config, output):
        result.warning(
            _("{output} holds a preview with drafts or scheduled items; rebuilding it").format(
                output=output
            )
        )
    elif current == get_state(db, "build.fingerprint") and (output / "index.html").is_file():
        result.info(_("site up to date; nothing to build"))
        return
    built = build()
    result.built = built
    with transaction(db):
        set_state(db, "build.fingerprint", current, now)
        set_state(db, "build.at", utc_now_iso(now), now)
        set_state(db, "build.summary", built.summary(), now)
    result.info(built.summary())


def _proof(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    coming: Coming,
    proof: Callable[[Coming, str], None],
) -> None:
    """Mail the editors a proof once the proof window opens, and again if it changes; not
    for an issue that goes out now anyway, unless it waits for approval."""
    news = site.config.newsletter
    again = mail_proof(site, db, coming, now, proof)
    if again is None:
        return
    changed = _(" (changed since the last proof)") if again else ""
    when = short_datetime(coming.send_at, cli_language())
    links = checked_links(db, coming)
    for link in links[2] if links is not None else []:
        # Once per proof, so --quiet shows it too (cron mails it): the editors fix it now.
        message = _(
            "a link in the newsletter due {when} is broken: {url} ({reason}), in {where}"
        ).format(when=when, url=link.url, reason=link.reason, where=", ".join(link.where))
        result.warning(message)
        result.first_time.add(message)
    result.info(
        _("proof of the newsletter due {when} sent to {count} editors{changed}").format(
            when=when, count=len(news.proof_to), changed=changed
        )
    )


def _waiting_for_approval(
    result: RunResult, config: Config, db: sqlite3.Connection, coming: Coming, now: dt.datetime
) -> None:
    """Hold the coming issue until someone approves it; say so (as new, the first time)."""
    since, first = hold(db, coming, now)
    message = _(
        "the newsletter due {when} ({subject}) is waiting for approval since {since}; "
        "'blogtool newsletter approve' lets it go at the next run"
    ).format(
        when=short_datetime(coming.send_at, cli_language()),
        subject=coming.draft.subject,
        since=short_datetime(since.astimezone(config.site.timezone), cli_language()),
    )
    result.warning(message)
    if first:
        result.first_time.add(message)


def _mail(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    send: Callable[[Issue], SendReport],
    proof: Callable[[Coming, str], None] | None = None,
) -> None:
    """First finish an interrupted send, then send what has become due."""
    resumed = unfinished_issue(db)
    if resumed is not None and resumed.frozen_at is None and _held(result, site, db, resumed):
        return
    if resumed is not None:
        if count(db, resumed.id, "queued") or resumed.frozen_at is None:
            result.info(_("resuming the unfinished send of issue {id}").format(id=resumed.id))
            report = send_and_report(result, db, resumed, send, now)
            if report.remaining:
                return  # the server is away; the next run carries on
        if uncertain_rows(db, resumed.id):
            result.error(
                _(
                    "issue {id} has deliveries an interrupted run left unconfirmed; they "
                    "may or may not have arrived. Resend them with 'blogtool newsletter "
                    "send {id} --resend-uncertain', or leave them"
                ).format(id=resumed.id)
            )
    coming = coming_issue(site, db, now)
    if coming is None:
        if resumed is None:
            result.info(_("no new tip to mail"))
        return
    config = site.config
    if proof is not None:
        _proof(result, site, db, now, coming, proof)
    due_at = coming.send_at
    if due_at > now:
        if resumed is None:
            when = short_datetime(due_at, cli_language())
            result.info(_("no new tip to mail; the next newsletter goes {when}").format(when=when))
        return
    if config.newsletter.approval and approved_at(db, coming.digest) is None:
        _waiting_for_approval(result, config, db, coming, now)
        return
    if now - due_at > LATE_AFTER:
        late = now - due_at
        hours, minutes = divmod(int(late.total_seconds()) // 60, 60)
        result.warning(
            _(
                "sending late: the newsletter was due {isoformat}, {hours} h {minutes} "
                "min ago (was the machine off?)"
            ).format(
                isoformat=short_datetime(due_at.astimezone(config.site.timezone), cli_language()),
                hours=hours,
                minutes=minutes,
            )
        )
    # The issue carries exactly the items whose send time has come: what was proofed.
    issue = save_issue(db, coming.draft, now)
    result.info(
        _("issue {id} built: {subject} ({items})").format(
            id=issue.id, subject=issue.subject, items=items(len(issue.items))
        )
    )
    report = send_and_report(result, db, issue, send, now)
    if report.uncertain:
        result.error(
            _("issue {id}: {count} deliveries unconfirmed").format(
                id=issue.id, count=len(report.uncertain)
            )
        )


def _held(result: RunResult, site: Site, db: sqlite3.Connection, issue: Issue) -> bool:
    """An issue made by hand ('newsletter build') and not sent yet waits for approval too."""
    if not site.config.newsletter.approval or approved_at(db, issue.digest) is not None:
        return False
    result.warning(
        _(
            "issue {id} ({subject}) is waiting for approval: 'blogtool newsletter "
            "approve {id}' lets it go at the next run"
        ).format(id=issue.id, subject=issue.subject)
    )
    return True


# --- what is due next, for `status` and `next` --------------------------------------------------


def next_due(site: Site, db: sqlite3.Connection, now: dt.datetime) -> dt.datetime | None:
    """The next moment `blogtool run` has something to do; ``now`` if it has work already."""
    config = site.config
    if site_fingerprint(site, now) != get_state(db, "build.fingerprint") or holds_preview(
        config, config.output_dir
    ):
        return now
    unfinished = unfinished_issue(db)
    if unfinished is not None:
        retry_at = next_attempt(db, unfinished.id)
        if retry_at is not None:
            return max(now, dt.datetime.fromtimestamp(retry_at, dt.UTC).astimezone(now.tzinfo))
        if unfinished.frozen_at is None:
            return now
    candidates = []
    coming = coming_issue(site, db, now)
    if coming is not None:
        news = config.newsletter
        waiting = news.approval and approved_at(db, coming.digest) is None
        if coming.send_at <= now and not waiting:
            return now
        last = proofed(db, coming)
        if proof_wanted(site, db, coming, now) and (last is None or last[0] != coming.digest):
            candidates.append(max(now, coming.send_at - news.proof_before))
    posts_letters = any(e.content == "posts" for e in config.lists.values())
    for item in site.items:
        if item.date is None or item.status(now) is not Status.SCHEDULED:
            continue
        candidates.append(item.date)
        if item.kind.value == "tip" or config.newsletter.include_posts:
            candidates.append(send_slot(config, item.date))
        if item.kind.value == "post" and posts_letters and config.newsletter.proof_to:
            # The proof of its letter (for a weekly letter, a little early: harmless).
            candidates.append(max(now, item.date - config.newsletter.proof_before))
    pending_mail = [
        send_slot(config, i.date)
        for i in unmailed_items(site, db, default_since(db, now), now)
        if i.date is not None and send_slot(config, i.date) > now
    ]
    candidates.extend(pending_mail)
    return min(candidates) if candidates else None
