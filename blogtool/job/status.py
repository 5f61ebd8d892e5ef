"""Where the site stands, for ``blogtool status``: what is published, what is due next, the
last build and send, and what needs a person's attention. Built on the same decisions as
``run``, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field

from blogtool.content.model import Item, Kind, Site, Status
from blogtool.job.runner import next_due, site_fingerprint
from blogtool.mail import queue
from blogtool.mail.issues import Issue, issues
from blogtool.site.build import holds_preview
from blogtool.store import get_state, loose_permissions
from blogtool.timeutil import short_datetime


@dataclass(frozen=True)
class LastBuild:
    at: dt.datetime
    summary: str
    up_to_date: bool
    preview: bool = False  # the output holds a build with drafts or scheduled items


@dataclass(frozen=True)
class SiteStatus:
    now: dt.datetime
    published_posts: int
    published_tips: int
    scheduled: list[Item]  # soonest first
    drafts: int
    newest: Item | None
    next_run: dt.datetime | None  # when run next has work; ``now`` if it has work waiting
    last_build: LastBuild | None
    last_issue: Issue | None
    last_issue_counts: dict[str, int]
    problems: list[str] = field(default_factory=list)


def site_status(site: Site, db: sqlite3.Connection, now: dt.datetime) -> SiteStatus:
    published = [i for i in site.items if i.status(now) is Status.PUBLISHED]
    scheduled = sorted(
        (i for i in site.items if i.status(now) is Status.SCHEDULED), key=lambda i: i.date or now
    )
    posts = sum(1 for i in published if i.kind is Kind.POST)
    all_issues = issues(db)
    last = all_issues[-1] if all_issues else None
    return SiteStatus(
        now=now,
        published_posts=posts,
        published_tips=len(published) - posts,
        scheduled=scheduled,
        drafts=sum(1 for i in site.items if i.status(now) is Status.DRAFT),
        newest=max(published, key=lambda i: i.date or now) if published else None,
        next_run=next_due(site, db, now),
        last_build=_last_build(site, db, now),
        last_issue=last,
        last_issue_counts=queue.counts(db, last.id) if last else {},
        problems=_problems(site, db, all_issues),
    )


def _last_build(site: Site, db: sqlite3.Connection, now: dt.datetime) -> LastBuild | None:
    at = get_state(db, "build.at")
    if not at:
        return None
    preview = holds_preview(site.config, site.config.output_dir)
    return LastBuild(
        at=dt.datetime.fromisoformat(at).astimezone(now.tzinfo),
        summary=get_state(db, "build.summary") or "",
        up_to_date=get_state(db, "build.fingerprint") == site_fingerprint(site, now)
        and not preview,
        preview=preview,
    )


def _problems(site: Site, db: sqlite3.Connection, all_issues: list[Issue]) -> list[str]:
    problems = [str(p) for p in site.errors]
    problems += loose_permissions(site.config.state_path)
    for issue in all_issues:
        failed = queue.count(db, issue.id, queue.Delivery.FAILED)
        if failed:
            problems.append(f"issue {issue.id}: {failed} deliveries failed")
        if queue.uncertain_rows(db, issue.id):
            problems.append(f"issue {issue.id}: unconfirmed deliveries; see --resend-uncertain")
    run_error = get_state(db, "run.error")
    if run_error:
        at = get_state(db, "run.at")
        site_conf = site.config.site
        when = (
            short_datetime(
                dt.datetime.fromisoformat(at).astimezone(site_conf.timezone), site_conf.language
            )
            if at
            else ""
        )
        problems.append(f"last run ({when}): {run_error}" if when else f"last run: {run_error}")
    return problems
