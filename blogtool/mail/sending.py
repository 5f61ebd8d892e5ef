"""Working through an issue's queue: one SMTP transaction per delivery, with retries.

Temporary failures are retried with exponential backoff; a permanent one marks the delivery
failed and the subscriber bounced; a dropped connection puts the message back without using up
a try. Nothing here sleeps or reads a clock on its own: the caller passes them in (``Pacing``).
Every change to a delivery goes through ``queue.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from blogtool.config import Config
from blogtool.mail import issues, lists, queue, subscribers
from blogtool.mail.compose import MessageFactory, Recipient
from blogtool.mail.issues import Issue
from blogtool.mail.transports import (
    ConnectionFailure,
    PermanentFailure,
    SendAborted,
    TemporaryFailure,
    Transport,
    UncertainDelivery,
)
from blogtool.store import transaction, utc_now_iso


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


def issue_members(config: Config, issue: Issue) -> queue.Members:
    """Who an issue goes to: the active subscribers on its list (the series' issues: on the
    series' list, the default)."""
    return lists.on_list_sql(config, issue.list_key or lists.default_list(config))


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
    report.total = queue.freeze(db, issue, pacing.now(), issue_members(factory.config, issue))
    if accept_uncertain or resend_uncertain:
        queue.settle_uncertain(db, issue.id, resend=resend_uncertain)
    done = queue.counts(db, issue.id)  # an earlier run's work counts in the report
    report.sent, report.failed, report.skipped = done["sent"], done["failed"], done["skipped"]
    run = _SendRun(db, issue, factory, transport, sender, pacing, report, progress)
    run.limits(60.0 / rate if rate else 0.0, max_attempts, retry_delay)
    try:
        run.loop()
    finally:
        run.flush()
        transport.close()
        report.remaining = queue.count(db, issue.id, "queued")
        report.uncertain = [
            f"delivery {r['id']} to {r['email']} "
            + (r["last_error"] or "was being sent when an earlier run stopped")
            for r in queue.uncertain_rows(db, issue.id)
        ]
    if report.remaining == 0 and not report.uncertain:
        issues.mark_completed(db, issue.id, pacing.now())
    return report


class _SendRun:
    """One pass over the queue. The 'sent' mark of one message is committed together with the
    'sending' mark of the next, before the next goes out: one commit per message, and never two
    rows in 'sending' but those left uncertain. The next message is rendered while the server
    works on this one."""

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
        self.verp = bool(factory.config.newsletter.return_path)
        self.report, self.progress = report, progress
        self.connected = False
        self.dropped = 0  # connection failures since the server last accepted a message
        self.next_slot = pacing.clock()
        self.unconfirmed: list[int] = []
        self.prepared: dict[int, tuple[str, bytes]] = {}
        self._stamp: tuple[float, str] = (-1.0, "")
        self.limits(0.0, 5, 2.0)

    def limits(self, interval: float, max_attempts: int, retry_delay: float) -> None:
        """Seconds between messages (the rate), tries per message, the first retry's delay."""
        self.interval, self.max_attempts, self.retry_delay = interval, max_attempts, retry_delay

    # bookkeeping ----------------------------------------------------------------------------
    def stamp(self) -> str:
        """The time for the records, read at most once a second (it is read for every row the
        queue touches, and a sub-second timestamp says nothing more)."""
        tick = self.pacing.clock()
        if tick - self._stamp[0] >= 1.0 or tick < self._stamp[0]:
            self._stamp = (tick, utc_now_iso(self.pacing.now()))
        return self._stamp[1]

    def flush(self) -> None:
        for delivery_id in self.unconfirmed:
            queue.mark_sent(self.db, delivery_id, self.stamp())
        self.unconfirmed.clear()

    def render(self, row: sqlite3.Row) -> tuple[str, bytes]:
        ready = self.prepared.pop(row["id"], None)
        if ready is not None:
            return ready
        recipient = Recipient(row["id"], row["subscriber_id"], row["email"], row["name"] or "")
        message_id = row["message_id"] or self.factory.message_id(recipient)
        return message_id, self.factory.render(recipient, message_id, self.pacing.now())

    def aborted(self, reason: str) -> SendAborted:
        self.report.remaining = queue.count(self.db, self.issue.id, "queued")
        return SendAborted(
            f"{reason}. {self.report.remaining} deliveries are still queued: run the send "
            "again when the server is back"
        )

    # the loop -------------------------------------------------------------------------------
    def loop(self) -> None:
        while not self.stop_requested():
            rows = queue.due(self.db, self.issue.id, self.pacing.clock())
            if not rows:
                self.flush()
                pending = queue.next_attempt(self.db, self.issue.id)
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
                    queue.mark_skipped(self.db, row["id"], "no longer subscribed", self.stamp())
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
                    self.pacing.sleep(queue.backoff(attempt, self.retry_delay))
        raise self.aborted(f"{last}; gave up after {self.max_attempts} attempts")

    def send_one(self, row: sqlite3.Row, nxt: sqlite3.Row | None) -> None:
        if not self.connected:
            self.connect()
        wait = self.next_slot - self.pacing.clock()
        if wait > 0:
            self.flush()
            self.pacing.sleep(wait)
        self.next_slot = max(self.next_slot, self.pacing.clock()) + self.interval
        try:
            message_id, data = self.render(row)
        except Exception as exc:  # one subscriber's data must never stop the send for the rest
            self.undeliverable(row, f"the message could not be composed: {exc}")
            return
        attempts = row["attempts"] + 1
        # Committed before the message leaves: a crash from here on leaves 'sending'.
        with transaction(self.db):
            self.flush()
            queue.mark_sending(self.db, row["id"], attempts, message_id, self.stamp())

        def prepare_next() -> None:
            if nxt is not None and not self.interval:
                # A failure here is met again in the row's own turn, and recorded there.
                with contextlib.suppress(Exception):
                    self.prepared[nxt["id"]] = self.render(nxt)

        name = f"{self.issue.id:04d}-{row['id']:07d}"
        recipient = Recipient(row["id"], row["subscriber_id"], row["email"])
        sender = self.factory.return_path(recipient) if self.verp else self.sender
        try:
            self.transport.send(sender, row["email"], data, name, prepare_next)
        except TemporaryFailure as exc:
            self.temporary(row, attempts, exc)
        except PermanentFailure as exc:
            self.permanent(row, exc)
        except ConnectionFailure as exc:
            self.connection_lost(row, attempts, exc)
        except UncertainDelivery as exc:
            queue.mark_uncertain(self.db, row["id"], str(exc), self.stamp())
            self.reconnect_after_drop(exc)
        else:
            self.unconfirmed.append(row["id"])
            self.report.sent += 1
            self.dropped = 0

    # outcomes -------------------------------------------------------------------------------
    def undeliverable(self, row: sqlite3.Row, reason: str) -> None:
        queue.mark_failed(self.db, row["id"], reason, self.stamp())
        self.report.failed += 1
        self.report.failures.append((row["email"], reason))

    def temporary(self, row: sqlite3.Row, attempts: int, exc: TemporaryFailure) -> None:
        if attempts >= self.max_attempts:
            queue.mark_failed(self.db, row["id"], f"gave up: {exc}", self.stamp())
            self.report.failed += 1
            self.report.failures.append((row["email"], f"gave up after {attempts} tries: {exc}"))
            return
        retry_at = self.pacing.clock() + queue.backoff(attempts - 1, self.retry_delay)
        queue.retry_at(self.db, row["id"], retry_at, str(exc), self.stamp())
        self.report.retried += 1

    def permanent(self, row: sqlite3.Row, exc: PermanentFailure) -> None:
        with transaction(self.db):
            queue.mark_failed(self.db, row["id"], str(exc), self.stamp())
            subscribers.set_status(
                self.db, row["subscriber_id"], "bounced", self.pacing.now(), str(exc)
            )
        self.report.failed += 1
        self.report.failures.append((row["email"], str(exc)))

    def connection_lost(self, row: sqlite3.Row, attempts: int, exc: ConnectionFailure) -> None:
        # Not the recipient's fault: back in the queue without using up a try.
        queue.requeue(self.db, row["id"], attempts - 1, str(exc), self.stamp())
        self.reconnect_after_drop(exc)

    def reconnect_after_drop(self, exc: Exception) -> None:
        self.connected = False
        self.report.reconnects += 1
        self.transport.close()
        self.dropped += 1
        if self.dropped >= self.max_attempts:  # connects, then drops every message
            raise self.aborted(
                f"{self.transport.description} dropped the connection {self.dropped} times in "
                f"a row ({exc})"
            ) from None
        self.pacing.sleep(queue.backoff(self.dropped - 1, self.retry_delay))


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
