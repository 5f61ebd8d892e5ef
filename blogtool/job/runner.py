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
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blogtool.config import Config
from blogtool.content.model import Site, Status
from blogtool.errors import LockedError
from blogtool.mail.issues import (
    Issue,
    default_since,
    render_issue,
    save_issue,
    unfinished_issue,
    unmailed_items,
)
from blogtool.mail.queue import count, next_attempt, uncertain_rows
from blogtool.mail.sending import SendReport
from blogtool.site.build import BuildResult, holds_preview
from blogtool.site.templates import fingerprint
from blogtool.store import get_state, set_state, transaction, utc_now_iso
from blogtool.timeutil import localize

LATE_AFTER = dt.timedelta(minutes=30)


@dataclass
class RunResult:
    log: list[tuple[str, str]] = field(default_factory=list)  # (level, message)
    built: BuildResult | None = None
    sent: list[tuple[int, SendReport]] = field(default_factory=list)
    failed: bool = False

    def info(self, message: str) -> None:
        self.log.append(("info", message))

    def warning(self, message: str) -> None:
        self.log.append(("warning", message))

    def error(self, message: str) -> None:
        self.log.append(("error", message))
        self.failed = True


def site_fingerprint(site: Site, now: dt.datetime) -> str:
    """Everything the public site is made of at ``now``: templates, config, blogtool's version
    and every published item. Equal fingerprints mean an identical site."""
    published = sorted((i.slug, i.digest("published")) for i in site.items if i.is_published(now))
    h = hashlib.sha256(fingerprint(site.config, "drafts=False", "future=False").encode())
    h.update(json.dumps(published).encode())
    return h.hexdigest()


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
) -> RunResult:
    """One pass of the scheduled job: publish under the site's build lock, then mail under its
    send lock, so a long send (a manual one, or a run's own) never holds up publishing, and a
    new issue is made and sent by one process only. ``send`` is None when sending cannot work
    (no secret); the run then only publishes, and says why it did not send."""
    result = RunResult()
    try:
        with lock("build"):
            _publish(result, site, db, now, output, build)
    except LockedError as exc:
        result.info(f"{exc}; the build is left to it")
    if send is None:
        if unfinished_issue(db) or ready_for_newsletter(site, db, now):
            result.error("the newsletter is due but cannot be sent: BLOGTOOL_SECRET is not set")
        return result
    try:
        with lock("send"):
            _mail(result, site, db, now, send)
    except LockedError as exc:
        result.info(f"{exc}; the newsletter is left to it")
    return result


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
        result.warning(f"{output} holds a preview with drafts or scheduled items; rebuilding it")
    elif current == get_state(db, "build.fingerprint") and (output / "index.html").is_file():
        result.info("site up to date; nothing to build")
        return
    built = build()
    result.built = built
    with transaction(db):
        set_state(db, "build.fingerprint", current, now)
        set_state(db, "build.at", utc_now_iso(now), now)
        set_state(db, "build.summary", built.summary(), now)
    result.info(built.summary())


def _mail(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    send: Callable[[Issue], SendReport],
) -> None:
    """First finish an interrupted send, then send what has become due."""
    resumed = unfinished_issue(db)
    if resumed is not None:
        if count(db, resumed.id, "queued") or resumed.frozen_at is None:
            result.info(f"resuming the unfinished send of issue {resumed.id}")
            report = _send(result, db, resumed, send, now)
            if report.remaining:
                return  # the server is away; the next run carries on
        if uncertain_rows(db, resumed.id):
            result.error(
                f"issue {resumed.id} has deliveries an interrupted run left unconfirmed; they "
                "may or may not have arrived. Resend them with "
                f"'blogtool newsletter send {resumed.id} --resend-uncertain', or leave them"
            )
    items = ready_for_newsletter(site, db, now)
    if not items:
        if resumed is None:
            result.info("no new tip to mail")
        return
    config = site.config
    due_at = max(send_slot(config, i.date) for i in items if i.date is not None)
    if now - due_at > LATE_AFTER:
        late = now - due_at
        hours, minutes = divmod(int(late.total_seconds()) // 60, 60)
        result.warning(
            f"sending late: the newsletter was due "
            f"{due_at.astimezone(config.site.timezone).isoformat()}, "
            f"{hours} h {minutes} min ago (was the machine off?)"
        )
    # The issue carries exactly the items whose send time has come.
    issue = save_issue(db, render_issue(site, items, default_since(db, now), now), now)
    result.info(f"issue {issue.id} built: {issue.subject} ({len(issue.items)} items)")
    report = _send(result, db, issue, send, now)
    if report.uncertain:
        result.error(f"issue {issue.id}: {len(report.uncertain)} deliveries unconfirmed")


def record_run(db: sqlite3.Connection, result: RunResult, now: dt.datetime) -> None:
    """What ``status`` shows about the last run: when, and its errors."""
    with transaction(db):
        set_state(db, "run.at", utc_now_iso(now), now)
        set_state(db, "run.error", "\n".join(m for lv, m in result.log if lv == "error"), now)


def record_error(db: sqlite3.Connection, message: str, now: dt.datetime) -> None:
    """A run that stopped before it could decide anything: still a run, with its time."""
    with transaction(db):
        set_state(db, "run.at", utc_now_iso(now), now)
        set_state(db, "run.error", message, now)


def _send(
    result: RunResult,
    db: sqlite3.Connection,
    issue: Issue,
    send: Callable[[Issue], SendReport],
    now: dt.datetime,
) -> SendReport:
    report = send(issue)
    result.sent.append((issue.id, report))
    with transaction(db):
        set_state(db, "send.at", utc_now_iso(now), now)
        set_state(db, "send.issue", str(issue.id), now)
        set_state(db, "send.summary", report.summary(), now)
    message = f"issue {issue.id} sent: {report.summary()}"
    for address, error in report.failures:
        result.error(f"issue {issue.id}: delivery to {address} failed: {error}")
    if report.failed or report.remaining or report.stopped:
        result.error(message)
    else:
        result.info(message)
    return report


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
    if ready_for_newsletter(site, db, now):
        return now
    candidates = []
    for item in site.items:
        if item.date is None or item.status(now) is not Status.SCHEDULED:
            continue
        candidates.append(item.date)
        if item.kind.value == "tip" or config.newsletter.include_posts:
            candidates.append(send_slot(config, item.date))
    pending_mail = [
        send_slot(config, i.date)
        for i in unmailed_items(site, db, default_since(db, now), now)
        if i.date is not None and send_slot(config, i.date) > now
    ]
    candidates.extend(pending_mail)
    return min(candidates) if candidates else None
