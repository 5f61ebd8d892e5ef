"""The job's upkeep beyond the series' issue: letters of new blog posts to the lists that want
them, and the reader service's pending sign-ups and queued mails."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable

from blogtool.config import Config
from blogtool.content.model import Site
from blogtool.delivery import outgoing
from blogtool.delivery.outgoing import Drained
from blogtool.delivery.pacing import SendReport
from blogtool.i18n import _
from blogtool.job.result import RunResult, send_and_report
from blogtool.newsletter.issues import Issue, already_mailed, render_issue, save_issue
from blogtool.store import get_state, set_state, transaction
from blogtool.subscribers import lists, signups
from blogtool.timeutil import localize


def post_letters(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    send: Callable[[Issue], SendReport],
) -> None:
    """The letters of new blog posts, for each [lists] entry with content = posts: a mail per
    post when it is published (cadence each), or one on the series day with the week's posts
    (weekly). A list starts with the posts published after it first appeared: nobody gets the
    archive."""
    config = site.config
    for key, entry in config.lists.items():
        if entry.content != "posts":
            continue
        started = get_state(db, f"list.{key}.since")
        if started is None:
            with transaction(db):
                set_state(db, f"list.{key}.since", now.isoformat(), now)
            continue
        since = dt.datetime.fromisoformat(started)
        due = weekly_slot(config, now) if entry.cadence == "weekly" else now
        if not lists.has_members(db, config, key):
            # Nobody to write to: start the list anew, so a first reader gets no backlog.
            with transaction(db):
                set_state(db, f"list.{key}.since", max(since, due).isoformat(), now)
            continue
        mailed = already_mailed(db, key)
        posts = [
            i
            for i in site.posts
            if i.date is not None and since < i.date <= due and str(i.path) not in mailed
        ]
        batches = [[p] for p in posts] if entry.cadence == "each" else [posts] if posts else []
        for batch in batches:
            send_at = batch[-1].date if entry.cadence == "each" else due
            draft = render_issue(site, batch, since, now, send_at, mailing_list=entry)
            issue = save_issue(db, draft, now)
            result.info(
                _("issue {id} ({name}) built: {subject}").format(
                    id=issue.id, name=entry.name, subject=issue.subject
                )
            )
            report = send_and_report(result, db, issue, send, now)
            if report.remaining or report.stopped:
                return


def weekly_slot(config: Config, now: dt.datetime) -> dt.datetime:
    """The latest series weekday at [tips] time that is not after ``now``."""
    tz = config.site.timezone
    local = now.astimezone(tz)
    day = local.date() - dt.timedelta(days=(local.weekday() - config.tips.weekday) % 7)
    slot = localize(dt.datetime.combine(day, config.tips.time), tz)
    return slot if slot <= now else slot - dt.timedelta(days=7)


def tend_readers(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    send_queued: Callable[[], Drained] | None,
) -> None:
    """The reader service's upkeep: drop sign-ups whose link has expired, and send the
    one-off mails it queued that are still waiting (the service sends them at once; this
    catches what a stopped service left)."""
    dropped = signups.purge(db, site.config, now)
    if dropped:
        result.info(
            _("deleted {dropped} unconfirmed sign-ups whose link had expired").format(
                dropped=dropped
            )
        )
    if send_queued is not None and outgoing.counts(db)["queued"]:
        done = send_queued()
        result.info(
            _("reader mail: {sent} sent, {failed} failed, {waiting} waiting").format(
                sent=done.sent, failed=done.failed, waiting=done.waiting
            )
        )
