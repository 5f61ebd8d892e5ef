"""The durable queue of deliveries: the one module that reads or writes the ``deliveries`` table.

``freeze`` fixes the recipients once: one row per issue and subscriber (UNIQUE). ``send_issue``
then works through the rows: a row is marked ``sending`` (committed) before the message goes to
the server and ``sent`` after the server's 250. A re-run picks up what is still ``queued``; a row
a crash left in ``sending`` may or may not have arrived, so it is reported and resent only when
asked. Temporary failures are retried with exponential backoff; a permanent one marks the
delivery failed and the subscriber bounced. Nothing here sleeps or reads a clock on its own:
the caller passes them in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from blogtool.mail import issues, subscribers
from blogtool.mail.compose import MessageFactory, Recipient
from blogtool.mail.issues import Issue
from blogtool.mail.transports import (
    ConnectionFailure,
    PermanentFailure,
    SendAborted,
    TemporaryFailure,
    Transport,
)
from blogtool.store import script, transaction, utc_now_iso

MAX_BACKOFF = 900.0  # seconds


class Delivery(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the server, no reply recorded: uncertain after a crash
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


def create_tables(db: sqlite3.Connection) -> None:
    """Part of migration 001."""
    script(
        db,
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            issue_id INTEGER NOT NULL REFERENCES issues(id),
            subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
            email TEXT,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            message_id TEXT,
            last_error TEXT,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (issue_id, subscriber_id)
        );
        CREATE INDEX deliveries_by_status ON deliveries (issue_id, status, id);
        """,
    )


def backoff(attempt: int, base: float) -> float:
    """Seconds to wait before try ``attempt + 1`` (0-based): doubling from ``base``, capped."""
    return float(min(MAX_BACKOFF, base * 2**attempt))


# --- queries -------------------------------------------------------------------------------------


def freeze(db: sqlite3.Connection, issue: Issue, now: dt.datetime) -> int:
    """Fix the issue's recipients: every active subscriber, once. Later calls change nothing."""
    with transaction(db):
        if not issues.is_frozen(db, issue.id):
            stamp = utc_now_iso(now)
            db.execute(
                "INSERT OR IGNORE INTO deliveries "
                "(issue_id, subscriber_id, email, status, updated_at) "
                "SELECT ?, id, email, 'queued', ? FROM subscribers "
                "WHERE status = 'active' ORDER BY id",
                (issue.id, stamp),
            )
            issues.mark_frozen(db, issue.id, now)
    row = db.execute("SELECT COUNT(*) FROM deliveries WHERE issue_id = ?", (issue.id,)).fetchone()
    return int(row[0])


def counts(db: sqlite3.Connection, issue_id: int) -> dict[str, int]:
    """How many deliveries of the issue are in each state."""
    found = {state.value: 0 for state in Delivery}
    for status, n in db.execute(
        "SELECT status, COUNT(*) FROM deliveries WHERE issue_id = ? GROUP BY status", (issue_id,)
    ):
        found[status] = n
    return found


def count(db: sqlite3.Connection, issue_id: int, status: str) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM deliveries WHERE issue_id = ? AND status = ?", (issue_id, status)
    ).fetchone()
    return int(row[0])


def next_attempt(db: sqlite3.Connection, issue_id: int) -> float | None:
    """When the earliest queued delivery of the issue may be tried (wall-clock seconds)."""
    row = db.execute(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE issue_id = ? AND status = 'queued'",
        (issue_id,),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def uncertain_rows(db: sqlite3.Connection, issue_id: int) -> list[sqlite3.Row]:
    return list(
        db.execute(
            "SELECT id, email FROM deliveries "
            "WHERE issue_id = ? AND status = 'sending' ORDER BY id",
            (issue_id,),
        )
    )


def settle_uncertain(db: sqlite3.Connection, issue_id: int, *, resend: bool) -> None:
    """Decide about deliveries an interrupted run left in 'sending': send them again, or count
    them as delivered."""
    status, note = (
        ("queued", "resent after an interrupted run")
        if resend
        else ("sent", "assumed delivered after an interrupted run")
    )
    db.execute(
        "UPDATE deliveries SET status = ?, last_error = ? "
        "WHERE issue_id = ? AND status = 'sending'",
        (status, note, issue_id),
    )


def recipients(db: sqlite3.Connection, issue: Issue) -> list[Recipient]:
    """Who a send of ``issue`` would reach now: its queued rows, or every active subscriber if
    the recipients are not fixed yet."""
    if not issue.frozen_at:
        return [
            Recipient(0, s.id, s.email, s.name)
            for s in subscribers.listing(db, "active", order="id")
        ]
    rows = db.execute(
        "SELECT d.id, d.subscriber_id, d.email, s.name FROM deliveries d "
        "LEFT JOIN subscribers s ON s.id = d.subscriber_id "
        "WHERE d.issue_id = ? AND d.status = 'queued' ORDER BY d.id",
        (issue.id,),
    )
    return [Recipient(r["id"], r["subscriber_id"], r["email"], r["name"] or "") for r in rows]


def of_subscriber(db: sqlite3.Connection, subscriber_id: int) -> list[sqlite3.Row]:
    """Every delivery to one subscriber (for a GDPR access request)."""
    return list(
        db.execute(
            "SELECT issue_id, status, attempts, message_id, sent_at, last_error FROM deliveries "
            "WHERE subscriber_id = ? ORDER BY issue_id",
            (subscriber_id,),
        )
    )


def erase_subscriber(db: sqlite3.Connection, subscriber_id: int) -> int:
    """Remove a person's address and id from past deliveries; the counts stay."""
    cursor = db.execute(
        "UPDATE deliveries SET email = NULL, subscriber_id = NULL WHERE subscriber_id = ?",
        (subscriber_id,),
    )
    return cursor.rowcount


# --- sending -------------------------------------------------------------------------------------


@dataclass
class SendReport:
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    reconnects: int = 0
    uncertain: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    remaining: int = 0
    stopped: str | None = None

    def summary(self) -> str:
        parts = [f"{self.sent} sent", f"{self.failed} failed", f"{self.skipped} skipped"]
        if self.remaining:
            parts.append(f"{self.remaining} still queued")
        if self.uncertain:
            parts.append(f"{len(self.uncertain)} uncertain")
        return ", ".join(parts)


@dataclass
class Pacing:
    """Time as the sender sees it; tests replace it."""

    now: Callable[[], dt.datetime]
    clock: Callable[[], float]  # wall-clock seconds, for backoff that survives a restart
    sleep: Callable[[float], None]
    should_stop: Callable[[], bool] = lambda: False


def send_issue(
    db: sqlite3.Connection,
    issue: Issue,
    factory: MessageFactory,
    transport: Transport,
    sender: str,
    pacing: Pacing,
    *,
    rate: int = 0,
    max_attempts: int = 5,
    retry_delay: float = 2.0,
    resend_uncertain: bool = False,
    accept_uncertain: bool = False,
    progress: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """Work through the issue's queue until it is empty, the run is stopped or the server is
    gone. Returns what happened; the queue holds the rest for the next run."""
    report = SendReport()
    report.total = freeze(db, issue, pacing.now())
    if accept_uncertain or resend_uncertain:
        settle_uncertain(db, issue.id, resend=resend_uncertain)
    done = counts(db, issue.id)  # an earlier run's work counts in the report
    report.sent, report.failed, report.skipped = done["sent"], done["failed"], done["skipped"]
    run = _SendRun(db, issue, factory, transport, sender, pacing, report, progress)
    run.interval = 60.0 / rate if rate else 0.0
    run.max_attempts, run.retry_delay = max_attempts, retry_delay
    try:
        run.loop()
    finally:
        run.flush()
        transport.close()
        report.remaining = count(db, issue.id, "queued")
        report.uncertain = [
            f"delivery {r['id']} to {r['email']}" for r in uncertain_rows(db, issue.id)
        ]
    if report.remaining == 0 and not report.uncertain:
        issues.mark_completed(db, issue.id, pacing.now())
    return report


class _SendRun:
    """One pass over the queue. The 'sent' mark of one message is committed together with the
    'sending' mark of the next, before the next goes out: one commit per message, and never two
    rows in 'sending'. The next message is rendered while the server works on this one."""

    interval = 0.0
    max_attempts = 5
    retry_delay = 2.0

    def __init__(
        self,
        db: sqlite3.Connection,
        issue: Issue,
        factory: MessageFactory,
        transport: Transport,
        sender: str,
        pacing: Pacing,
        report: SendReport,
        progress: Callable[[SendReport], None] | None,
    ):
        self.db, self.issue, self.factory = db, issue, factory
        self.transport, self.sender, self.pacing = transport, sender, pacing
        self.report, self.progress = report, progress
        self.connected = False
        self.dropped = 0  # connection failures since the server last accepted a message
        self.next_slot = pacing.clock()
        self.unconfirmed: list[int] = []
        self.prepared: dict[int, tuple[str, bytes]] = {}
        self._stamp: tuple[float, str] = (-1.0, "")

    # bookkeeping ----------------------------------------------------------------------------
    def stamp(self) -> str:
        """The time for the records, read at most once a second (it is read for every row the
        queue touches, and a sub-second timestamp says nothing more)."""
        tick = self.pacing.clock()
        if tick - self._stamp[0] >= 1.0 or tick < self._stamp[0]:
            self._stamp = (tick, utc_now_iso(self.pacing.now()))
        return self._stamp[1]

    def update(self, delivery_id: int, sql: str, *args: object) -> None:
        self.db.execute(
            f"UPDATE deliveries SET {sql}, updated_at = ? WHERE id = ?",
            (*args, self.stamp(), delivery_id),
        )

    def flush(self) -> None:
        for delivery_id in self.unconfirmed:
            self.update(delivery_id, "status = 'sent', sent_at = ?", self.stamp())
        self.unconfirmed.clear()

    def render(self, row: sqlite3.Row) -> tuple[str, bytes]:
        ready = self.prepared.pop(row["id"], None)
        if ready is not None:
            return ready
        recipient = Recipient(row["id"], row["subscriber_id"], row["email"], row["name"] or "")
        message_id = row["message_id"] or self.factory.message_id(recipient)
        return message_id, self.factory.render(recipient, message_id, self.pacing.now())

    def aborted(self, reason: str) -> SendAborted:
        self.report.remaining = count(self.db, self.issue.id, "queued")
        return SendAborted(
            f"{reason}. {self.report.remaining} deliveries are still queued: run the send "
            "again when the server is back"
        )

    # the loop -------------------------------------------------------------------------------
    def loop(self) -> None:
        while not self.stop_requested():
            rows = self.db.execute(
                "SELECT d.id, d.subscriber_id, d.email, d.attempts, d.message_id, "
                "s.status AS subscriber_status, s.name FROM deliveries d "
                "LEFT JOIN subscribers s ON s.id = d.subscriber_id "
                "WHERE d.issue_id = ? AND d.status = 'queued' AND d.next_attempt_at <= ? "
                "ORDER BY d.id LIMIT 200",
                (self.issue.id, self.pacing.clock()),
            ).fetchall()
            if not rows:
                self.flush()
                pending = next_attempt(self.db, self.issue.id)
                if pending is None:
                    return
                self.pacing.sleep(max(0.0, pending - self.pacing.clock()))
                continue
            sendable = [r for r in rows if _active(r)]
            following = {a["id"]: b for a, b in itertools.pairwise(sendable)}
            for row in rows:
                if self.stop_requested():
                    return
                if not _active(row):
                    self.update(
                        row["id"], "status = 'skipped', last_error = ?", "no longer subscribed"
                    )
                    self.report.skipped += 1
                    continue
                self.send_one(row, following.get(row["id"]))
                if self.progress is not None:
                    self.progress(self.report)

    def stop_requested(self) -> bool:
        if self.pacing.should_stop():
            self.report.stopped = "interrupted"
            return True
        return False

    def connect(self) -> None:
        last = ""
        for attempt in range(self.max_attempts):
            try:
                self.transport.open()
                self.connected = True
                return
            except ConnectionFailure as exc:
                last = str(exc)
                if attempt + 1 < self.max_attempts:
                    self.pacing.sleep(backoff(attempt, self.retry_delay))
        raise self.aborted(f"{last}; gave up after {self.max_attempts} attempts")

    def send_one(self, row: sqlite3.Row, nxt: sqlite3.Row | None) -> None:
        if not self.connected:
            self.connect()
        wait = self.next_slot - self.pacing.clock()
        if wait > 0:
            self.flush()
            self.pacing.sleep(wait)
        self.next_slot = max(self.next_slot, self.pacing.clock()) + self.interval
        message_id, data = self.render(row)
        attempts = row["attempts"] + 1
        # Committed before the message leaves: a crash from here on leaves 'sending'.
        with transaction(self.db):
            self.flush()
            self.update(
                row["id"], "status = 'sending', attempts = ?, message_id = ?", attempts, message_id
            )

        def prepare_next() -> None:
            if nxt is not None and not self.interval:
                self.prepared[nxt["id"]] = self.render(nxt)

        name = f"{self.issue.id:04d}-{row['id']:07d}"
        try:
            self.transport.send(self.sender, row["email"], data, name, prepare_next)
        except TemporaryFailure as exc:
            self.temporary(row, attempts, exc)
        except PermanentFailure as exc:
            self.permanent(row, exc)
        except ConnectionFailure as exc:
            self.connection_lost(row, attempts, exc)
        else:
            self.unconfirmed.append(row["id"])
            self.report.sent += 1
            self.dropped = 0

    # outcomes -------------------------------------------------------------------------------
    def temporary(self, row: sqlite3.Row, attempts: int, exc: TemporaryFailure) -> None:
        if attempts >= self.max_attempts:
            self.update(row["id"], "status = 'failed', last_error = ?", f"gave up: {exc}")
            self.report.failed += 1
            self.report.failures.append((row["email"], f"gave up after {attempts} tries: {exc}"))
            return
        retry_at = self.pacing.clock() + backoff(attempts - 1, self.retry_delay)
        self.update(
            row["id"], "status = 'queued', next_attempt_at = ?, last_error = ?", retry_at, str(exc)
        )
        self.report.retried += 1

    def permanent(self, row: sqlite3.Row, exc: PermanentFailure) -> None:
        with transaction(self.db):
            self.update(row["id"], "status = 'failed', last_error = ?", str(exc))
            subscribers.set_status(
                self.db, row["subscriber_id"], "bounced", self.pacing.now(), str(exc)
            )
        self.report.failed += 1
        self.report.failures.append((row["email"], str(exc)))

    def connection_lost(self, row: sqlite3.Row, attempts: int, exc: ConnectionFailure) -> None:
        # Not the recipient's fault: back in the queue without using up a try.
        self.update(
            row["id"], "status = 'queued', attempts = ?, last_error = ?", attempts - 1, str(exc)
        )
        self.connected = False
        self.report.reconnects += 1
        self.transport.close()
        self.dropped += 1
        if self.dropped >= self.max_attempts:  # connects, then drops every message
            raise self.aborted(
                f"{self.transport.description} dropped the connection {self.dropped} times in "
                f"a row ({exc})"
            ) from None
        self.pacing.sleep(backoff(self.dropped - 1, self.retry_delay))


def _active(row: sqlite3.Row) -> bool:
    return row["subscriber_id"] is not None and row["subscriber_status"] == "active"


def send_test(
    factory: MessageFactory, transport: Transport, sender: str, address: str, now: dt.datetime
) -> str:
    """One copy of the issue to ``address`` (not a subscriber; nothing is recorded)."""
    recipient = Recipient(0, 0, address)
    message_id = factory.message_id(recipient)
    transport.open()
    try:
        transport.send(
            sender, address, factory.render(recipient, message_id, now), f"test-{os.getpid()}"
        )
    except (TemporaryFailure, PermanentFailure, ConnectionFailure) as exc:
        raise SendAborted(f"the test message to {address} was not accepted: {exc}") from None
    finally:
        transport.close()
    return message_id
