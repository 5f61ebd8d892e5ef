"""What one run of the scheduled job did, and the step that sends an issue and notes it: the
pieces every part of the job (runner, letters) shares."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from blogtool.i18n import _
from blogtool.store import set_state, transaction, utc_now_iso

if TYPE_CHECKING:  # names for annotations only: a run with nothing to do never loads them
    from blogtool.delivery.pacing import SendReport
    from blogtool.newsletter.issues import Issue
    from blogtool.site.output import BuildResult


@dataclass
class RunResult:
    log: list[tuple[str, str]] = field(default_factory=list)  # (level, message)
    first_time: set[str] = field(default_factory=set)  # warnings never given before
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


def send_and_report(
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
    message = _("issue {id} sent: {summary}").format(id=issue.id, summary=report.summary())
    for address, error in report.failures:
        result.error(
            _("issue {id}: delivery to {address} failed: {error}").format(
                id=issue.id, address=address, error=error
            )
        )
    if report.failed or report.remaining or report.stopped:
        result.error(message)
    else:
        result.info(message)
    return report
