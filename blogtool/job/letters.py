"""The job's upkeep beyond the series' issue: letters of new blog posts to the lists that want
them, and the reader service's pending sign-ups and queued mails."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable

from blogtool.config import Config
from blogtool.content.model import Item, Site
from blogtool.delivery import outgoing
from blogtool.delivery.outgoing import Drained
from blogtool.delivery.pacing import SendReport
from blogtool.i18n import _, cli_language
from blogtool.job.result import RunResult, send_and_report
from blogtool.newsletter.issues import Issue, already_mailed, render_issue, save_issue
from blogtool.newsletter.proofing import Coming, approved_at, hold, mail_proof
from blogtool.store import get_state, set_state, transaction
from blogtool.subscribers import lists, signups
from blogtool.timeutil import localize, short_datetime


def post_letters(
    result: RunResult,
    site: Site,
    db: sqlite3.Connection,
    now: dt.datetime,
    send: Callable[[Issue], SendReport],
    proof: Callable[[Coming, str], None] | None = None,
) -> None:
    """The letters of new blog posts, for each [lists] entry with content = posts: a mail per
    post when it is published (cadence each), or one on the series day with the week's posts
    (weekly). A list starts with the posts published after it first appeared: nobody gets the
    archive. Proofs and approval hold these letters as they hold the series' issue: a proof
    goes ``proof_before`` ahead, and with ``approval`` a letter waits for one."""
    config = site.config
    news = config.newsletter
    for key, entry in config.lists.items():
        if entry.content != "posts":
            continue
        started = get_state(db, f"list.{key}.since")
        if started is None:
            with transaction(db):
                set_state(db, f"list.{key}.since", now.isoformat(), now)
            continue
        since = dt.datetime.fromisoformat(started)
        if not lists.has_members(db, config, key):
            # Nobody to write to: start the list anew, so a first reader gets no backlog.
            due = weekly_slot(config, now) if entry.cadence == "weekly" else now
            with transaction(db):
                set_state(db, f"list.{key}.since", max(since, due).isoformat(), now)
            continue
        for coming in letters_of(site, db, key, since, now):
            if proof is not None and mail_proof(site, db, coming, now, proof) is not None:
                result.info(
                    _("proof of the letter {name} due {when} sent to {count} editors").format(
                        name=entry.name,
                        when=short_datetime(coming.send_at, cli_language()),
                        count=len(news.proof_to),
                    )
                )
            if coming.send_at > now:
                continue
            if news.approval and approved_at(db, coming.digest) is None:
                since_held, first = hold(db, coming, now)
                message = _(
                    "the letter {name} due {when} ({subject}) is waiting for approval since "
                    "{since}; 'blogtool newsletter approve' lets it go at the next run"
                ).format(
                    name=entry.name,
                    when=short_datetime(coming.send_at, cli_language()),
                    subject=coming.draft.subject,
                    since=short_datetime(
                        since_held.astimezone(config.site.timezone), cli_language()
                    ),
                )
                result.warning(message)
                if first:
                    result.first_time.add(message)
                continue
            issue = save_issue(db, coming.draft, now)
            result.info(
                _("issue {id} ({name}) built: {subject}").format(
                    id=issue.id, name=entry.name, subject=issue.subject
                )
            )
            report = send_and_report(result, db, issue, send, now)
            if report.remaining or report.stopped:
                return


def coming_letters(site: Site, db: sqlite3.Connection, now: dt.datetime) -> list[Coming]:
    """Every posts list's letters that are due or whose proof window has opened."""
    found: list[Coming] = []
    for key, entry in site.config.lists.items():
        started = get_state(db, f"list.{key}.since") if entry.content == "posts" else None
        if started is not None:
            found += letters_of(site, db, key, dt.datetime.fromisoformat(started), now)
    return found


def letters_of(
    site: Site, db: sqlite3.Connection, key: str, since: dt.datetime, now: dt.datetime
) -> list[Coming]:
    """The letters of the posts list ``key`` that are due, or whose proof window has opened
    ([newsletter] proof_before ahead, when proofs are asked for), soonest first."""
    config = site.config
    entry = config.lists[key]
    news = config.newsletter
    ahead = news.proof_before if news.proof_to else dt.timedelta(0)
    horizon = now + ahead
    mailed = already_mailed(db, key)
    posts = sorted(
        (
            i
            for i in site.posts
            if not i.draft and i.date is not None and since < i.date and str(i.path) not in mailed
        ),
        key=lambda i: (i.date, str(i.path)),
    )
    batches: list[tuple[dt.datetime, list[Item]]] = []
    if entry.cadence == "each":
        batches = [(p.date, [p]) for p in posts if p.date is not None and p.date <= horizon]
    else:
        # The last series day that has come takes every post before it not mailed yet;
        # each later one (within the horizon) the week's posts before it.
        slot, start = weekly_slot(config, now), since
        while slot <= horizon:
            week = [p for p in posts if p.date is not None and start < p.date <= slot]
            if week:
                batches.append((slot, week))
            slot, start = next_slot(config, slot), slot
    return [
        Coming(
            when,
            tuple(batch),
            render_issue(site, batch, since, now, when, mailing_list=entry),
            key,
        )
        for when, batch in batches
    ]


def next_slot(config: Config, slot: dt.datetime) -> dt.datetime:
    """The series day a week after ``slot``, at the series time (a clock change between)."""
    tz = config.site.timezone
    day = slot.astimezone(tz).date() + dt.timedelta(weeks=1)
    return localize(dt.datetime.combine(day, config.tips.time), tz)


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
