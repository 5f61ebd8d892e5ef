"""Where the site stands, for ``blogtool status``: what is published, what is due next, the
last build and send, and what needs a person's attention. Built on the same decisions as
``run``, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field

from blogtool.content.model import Item, Kind, Site, Status
from blogtool.delivery import queue
from blogtool.i18n import N_, _, cli_language, ngettext
from blogtool.job.runner import next_due, site_fingerprint, weeks_without_tip
from blogtool.newsletter.issues import Issue, issues
from blogtool.site import search
from blogtool.site.output import holds_preview
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
    bounce_rates: str = ""  # hard bounces and complaints of the last sent issues
    problems: list[str] = field(default_factory=list)
    empty_weeks: list[str] = field(default_factory=list)  # what run warns about, too
    coming: list[str] = field(default_factory=list)  # the next issue: when, what, proof, approval


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
        bounce_rates=bounce_rates(db, all_issues),
        problems=_problems(site, db, all_issues),
        empty_weeks=[message for _, message in weeks_without_tip(site, now)],
        coming=_coming(site, db, now),
    )


def _coming(site: Site, db: sqlite3.Connection, now: dt.datetime) -> list[str]:
    """The issue the next send will mail: when it goes, what it carries, whether a proof of
    this version went, whether it is approved."""
    from blogtool.newsletter.proofing import (
        approved_at,
        checked_links,
        coming_issue,
        held_since,
        proofed,
    )

    coming = coming_issue(site, db, now)
    if coming is None:
        return []
    config = site.config
    lang, tz = cli_language(), config.site.timezone

    def when(value: str | dt.datetime) -> str:
        at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return short_datetime(at.astimezone(tz), lang)

    n = len(coming.items)
    lines = [
        ngettext(
            "{subject}: due {when}, {n} item ({paths})",
            "{subject}: due {when}, {n} items ({paths})",
            n,
        ).format(
            subject=coming.draft.subject,
            when=when(coming.send_at),
            n=n,
            paths=", ".join(str(i.path) for i in coming.items),
        )
    ]
    news = config.newsletter
    proof = proofed(db, coming)
    if not news.proof_to:
        lines.append(_("proof: none ([newsletter] proof_to is empty)"))
    elif proof is None and now >= coming.send_at - news.proof_before:
        lines.append(
            _("proof: due since {when} and not sent yet (see the problems below)").format(
                when=when(coming.send_at - news.proof_before)
            )
        )
    elif proof is None:
        lines.append(
            _("proof: not sent yet; goes {when}").format(
                when=when(coming.send_at - news.proof_before)
            )
        )
    elif proof[0] != coming.digest:
        lines.append(
            _("proof: changed since the proof of {when}; a new one goes").format(
                when=when(proof[1])
            )
        )
    else:
        lines.append(_("proof: sent {when}").format(when=when(proof[1])))
    links = checked_links(db, coming)
    if links is not None:
        at, checked, broken = links
        if not broken:
            lines.append(
                ngettext(
                    "links: the {n} link to another site leads somewhere (asked {when})",
                    "links: all {n} links to other sites lead somewhere (asked {when})",
                    checked,
                ).format(n=checked, when=when(at))
            )
        for link in broken:
            lines.append(
                _("links: broken (asked {when}): {url} ({reason}), in {where}").format(
                    when=when(at), url=link.url, reason=link.reason, where=", ".join(link.where)
                )
            )
    if news.approval:
        approved = approved_at(db, coming.digest)
        held = held_since(db, coming)
        if approved:
            lines.append(_("approval: approved {when}").format(when=when(approved)))
        elif held:
            lines.append(_("approval: waiting for approval since {when}").format(when=when(held)))
        else:
            lines.append(_("approval: not approved yet ('blogtool newsletter approve')"))
    return lines


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


def bounce_rates(db: sqlite3.Connection, all_issues: list[Issue]) -> str:
    """'0.0 % hard bounces, 0.00 % complaints over the last 3 issues (2,100 sent)'."""
    recent = [i for i in all_issues if i.completed_at][-3:]
    sent = sum(queue.count(db, i.id, queue.Delivery.SENT) for i in recent)
    if not sent:
        return ""
    hard = sum(queue.bounce_counts(db, i.id)["hard"] for i in recent)
    complaints = sum(queue.bounce_counts(db, i.id)["complaint"] for i in recent)
    n = len(recent)
    return ngettext(
        "{hard:.1f} % hard bounces, {complaints:.2f} % complaints over the last issue "
        "({sent} sent)",
        "{hard:.1f} % hard bounces, {complaints:.2f} % complaints over the last {n} issues "
        "({sent} sent)",
        n,
    ).format(hard=100 * hard / sent, complaints=100 * complaints / sent, n=n, sent=sent)


def bounce_warnings(site: Site, db: sqlite3.Connection, all_issues: list[Issue]) -> list[str]:
    """The last three sent issues whose hard bounces or complaints exceed [bounces] limits
    (mailbox providers throttle or refuse senders above about 2 % and 0.1 %)."""
    limits = site.config.bounces
    found = []
    for issue in [i for i in all_issues if i.completed_at][-3:]:
        sent = queue.count(db, issue.id, queue.Delivery.SENT)
        if not sent:
            continue
        got = queue.bounce_counts(db, issue.id)
        checks = (
            (
                "hard",
                limits.max_hard_percent,
                N_(
                    "issue {id}: {percent:.1f} % hard bounces ({count} of {sent}), over {limit:g} %"
                ),
            ),
            (
                "complaint",
                limits.max_complaint_percent,
                N_("issue {id}: {percent:.2f} % complaints ({count} of {sent}), over {limit:g} %"),
            ),
        )
        for kind, limit, message in checks:
            percent = 100 * got[kind] / sent
            if percent > limit:
                found.append(
                    _(message).format(
                        id=issue.id, percent=percent, count=got[kind], sent=sent, limit=limit
                    )
                )
    return found


def _problems(site: Site, db: sqlite3.Connection, all_issues: list[Issue]) -> list[str]:
    problems = [str(p) for p in site.errors]
    problems += loose_permissions(site.config.state_path)
    for issue in all_issues:
        failed = queue.count(db, issue.id, queue.Delivery.FAILED)
        if failed:
            problems.append(
                ngettext(
                    "issue {id}: {n} delivery failed", "issue {id}: {n} deliveries failed", failed
                ).format(id=issue.id, n=failed)
            )
        if queue.uncertain_rows(db, issue.id):
            problems.append(
                _("issue {id}: unconfirmed deliveries; see --resend-uncertain").format(id=issue.id)
            )
    if search.owed(site.config) == "owed":
        problems.append(
            _(
                "the search index is older than the pages: a build owes it and no process is "
                "making it ({log}); 'blogtool search-index' makes it"
            ).format(log=search.log_path(site.config))
        )
    problems += bounce_warnings(site, db, all_issues)
    mailbox = get_state(db, "bounces.error")
    if mailbox:
        problems.append(_("bounce mailbox: {error}").format(error=mailbox))
    run_error = get_state(db, "run.error")
    if run_error:
        at = get_state(db, "run.at")
        site_conf = site.config.site
        when = (
            short_datetime(
                dt.datetime.fromisoformat(at).astimezone(site_conf.timezone), cli_language()
            )
            if at
            else ""
        )
        problems.append(
            _("last run ({when}): {error}").format(when=when, error=run_error)
            if when
            else _("last run: {error}").format(error=run_error)
        )
    return problems
