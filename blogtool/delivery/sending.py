"""Working through an issue's queue over one or more connections, with retries.

A 4xx is retried with exponential backoff; a 5xx fails the delivery and bounces the subscriber;
a dropped connection puts the message back without using up a try. Nothing here sleeps or reads
a clock on its own (``Pacing``); every change to a delivery goes through ``queue.py``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable
from queue import Empty, SimpleQueue

from blogtool.delivery import queue
from blogtool.delivery.lines import Job, Line, Report
from blogtool.delivery.pacing import Pacing, SendReport
from blogtool.delivery.transports import (
    ConnectionFailure,
    Envelope,
    PermanentFailure,
    SendAborted,
    TemporaryFailure,
    Transport,
    UncertainDelivery,
)
from blogtool.i18n import _, ngettext
from blogtool.newsletter import issues
from blogtool.newsletter.compose import MessageFactory, Recipient
from blogtool.newsletter.issues import Issue
from blogtool.store import transaction, utc_now_iso
from blogtool.subscribers import lists
from blogtool.subscribers import people as subscribers


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
    connections: int = 1,
    resend_uncertain: bool = False,
    accept_uncertain: bool = False,
    progress: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """Work through the issue's queue until it is empty, the run is stopped or the server is
    gone. Returns what happened; the queue holds the rest for the next run."""
    report = SendReport()
    report.total = queue.freeze(
        db, issue, pacing.now(), lists.on_list_sql(factory.config, issue.list_key)
    )
    if accept_uncertain or resend_uncertain:
        queue.settle_uncertain(db, issue.id, resend=resend_uncertain)
    done = queue.counts(db, issue.id)  # an earlier run's work counts in the report
    report.sent, report.failed, report.skipped = done["sent"], done["failed"], done["skipped"]
    run = _SendRun(db, issue, factory, transport, sender, pacing, report, progress)
    run.interval = 60.0 / rate if rate else 0.0
    run.max_attempts, run.retry_delay = max_attempts, retry_delay
    run.connections = max(1, connections)
    try:
        run.loop()
    finally:
        report.remaining = queue.count(db, issue.id, "queued")
        report.uncertain = [
            _("delivery {id} to {address} {why}").format(
                id=r["id"],
                address=r["email"],
                why=r["last_error"] or _("was being sent when an earlier run stopped"),
            )
            for r in queue.uncertain_rows(db, issue.id)
        ]
    if report.remaining == 0 and not report.uncertain:
        issues.mark_completed(db, issue.id, pacing.now())
    return report


class _SendRun:
    """One pass over the queue, over ``connections`` lines to the server at once (``lines.py``).

    This thread alone reads and writes the queue; the lines only talk to the server. Each line
    is offered its next message ahead (rendered here while the lines wait for the server), and
    the message is claimed ('sending', committed, together with the 'sent' marks that came back
    meanwhile) when the server is ready for its content: one commit per message, and never more
    rows in 'sending' than there are lines. A dropped connection or a 421 on any line pauses
    them all (backoff); the rate spaces messages across all of them."""

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
        self.reports: SimpleQueue[Report] = SimpleQueue()
        self.lines: list[Line] = []
        self.offered: dict[int, Job] = {}  # line number -> the message offered, not claimed
        self.holding: dict[int, Job] = {}  # line number -> the claimed message it is sending
        self.waiting: deque[sqlite3.Row] = deque()  # fetched, not yet offered
        self.dropped = 0  # connection failures since the server last accepted a message
        self.failure_mark = -1  # messages offered up to here were out when the last one failed
        self.seq = 0
        self.resume_at = 0.0  # after a failure, no line gets a message before this
        self.stopping = False
        self.next_slot = pacing.clock()
        self.unconfirmed: list[int] = []
        self._stamp: tuple[float, str] = (-1.0, "")
        self.interval = 0.0  # seconds between messages (the rate)
        self.max_attempts, self.retry_delay = 5, 2.0  # tries per message, the first retry's wait
        self.connections = 1

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

    def busy(self) -> bool:
        return bool(self.offered or self.holding)

    # the loop -------------------------------------------------------------------------------
    def loop(self) -> None:
        for number in range(self.connections):
            transport = self.transport if number == 0 else self.transport.twin()
            self.lines.append(Line(number, transport, self.reports))
            self.lines[-1].start()
        try:
            self.work()
            self.drain()
        except _GiveUp as stop:
            self.drain()
            remaining = queue.count(self.db, self.issue.id, "queued")
            raise SendAborted(
                ngettext(
                    "{reason}. {n} delivery is still queued: run the send again when the "
                    "server is back",
                    "{reason}. {n} deliveries are still queued: run the send again when the "
                    "server is back",
                    remaining,
                ).format(reason=stop.reason, n=remaining)
            ) from None
        finally:
            self.flush()
            for line in self.lines:
                line.finish(timeout=0.0 if self.busy() else 5.0)

    def work(self) -> None:
        while not self.stop_requested():
            self.refill()
            if not self.waiting and not self.busy():
                self.flush()
                pending = queue.next_attempt(self.db, self.issue.id)
                if pending is None:
                    return
                self.pacing.sleep(max(0.0, pending - self.pacing.clock()))
                continue
            line = self.free_line() if self.waiting else None
            if line is None:
                self.collect(timeout=None)
                continue
            pause = self.resume_at - self.pacing.clock()
            if pause <= 0:
                self.offer(self.waiting.popleft(), line)
            elif self.busy():
                self.collect(timeout=pause)
            else:
                self.flush()
                self.pacing.sleep(pause)

    def refill(self) -> None:
        if not self.waiting:
            offered = {job.row["id"] for job in self.offered.values()}
            rows = queue.due(self.db, self.issue.id, self.pacing.clock())
            self.waiting.extend(r for r in rows if r["id"] not in offered)

    def free_line(self) -> Line | None:
        """A line without an offer: an idle one first, else one that is busy sending (its
        offer goes out with the message in hand)."""
        free = [line for line in self.lines if line.number not in self.offered]
        free.sort(key=lambda line: line.number in self.holding)
        return free[0] if free else None

    def drain(self) -> None:
        """Take back the offers, and wait for the messages the lines hold; nothing new goes
        out."""
        self.stopping = True
        self.withdraw_offers()
        while self.busy():
            with contextlib.suppress(_GiveUp):
                self.collect(timeout=None)

    def withdraw_offers(self) -> None:
        for line in self.lines:
            job = line.withdraw()
            if job is not None:
                del self.offered[line.number]
                self.waiting.appendleft(job.row)

    def stop_requested(self) -> bool:
        if self.pacing.should_stop():
            self.report.stopped = "interrupted"
            return True
        return False

    def offer(self, row: sqlite3.Row, line: Line) -> None:
        if not _active(row):
            queue.mark_skipped(self.db, row["id"], "no longer subscribed", self.stamp())
            self.report.skipped += 1
            self.report_progress()
            return
        recipient = Recipient(row["id"], row["subscriber_id"], row["email"], row["name"] or "")
        try:
            message_id = row["message_id"] or self.factory.message_id(recipient)
            data = self.factory.render(recipient, message_id, self.pacing.now())
        except Exception as exc:  # one subscriber's data must never stop the send for the rest
            self.undeliverable(row, _("the message could not be composed: {exc}").format(exc=exc))
            return
        sender = self.factory.return_path(recipient) if self.verp else self.sender
        self.seq += 1
        job = Job(
            row,
            row["attempts"] + 1,
            message_id,
            data,
            f"{self.issue.id:04d}-{row['id']:07d}",
            Envelope(sender, row["email"], len(data)),
            self.seq,
        )
        self.offered[line.number] = job
        line.offer(job)

    def claim(self, job: Job) -> None:
        """Committed before the content leaves: a crash from here on leaves 'sending'."""
        wait = self.next_slot - self.pacing.clock()
        if wait > 0:
            self.flush()
            self.pacing.sleep(wait)
        self.next_slot = max(self.next_slot, self.pacing.clock()) + self.interval
        with transaction(self.db):
            self.flush()
            queue.mark_sending(self.db, job.row["id"], job.attempts, job.message_id, self.stamp())

    def collect(self, timeout: float | None) -> None:
        """Record one line's report, waiting at most ``timeout`` seconds for it."""
        try:
            report = self.reports.get(timeout=timeout)
        except Empty:
            return
        number = report.line.number
        try:
            if report.job is not None:
                claimed = self.holding.get(number) is report.job
                if claimed:
                    del self.holding[number]
                else:
                    self.offered.pop(number, None)  # its envelope failed
                self.record(report.job, report.error, report.at_open, claimed)
            if report.refused is not None:
                del self.offered[number]
                self.record(*report.refused)
        except _GiveUp:
            self.stopping = True
            raise
        finally:
            if report.ready is not None:
                self.answer(report.line, report.ready)
            self.report_progress()

    def answer(self, line: Line, job: Job) -> None:
        """The server waits for ``job``'s content: claim it and let it go, unless stopping."""
        del self.offered[line.number]
        go = not (self.stopping or self.stop_requested())
        if go:
            self.claim(job)
            self.holding[line.number] = job
            self.refill()  # the next offer first, so it can ride with this content
            while self.waiting and self.resume_at <= self.pacing.clock():
                self.offer(self.waiting.popleft(), line)
                if line.number in self.offered:
                    break
        line.go.put(go)

    def report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self.report)

    # outcomes -------------------------------------------------------------------------------
    def record(
        self, job: Job, exc: Exception | None, at_open: bool = False, claimed: bool = False
    ) -> None:
        row, attempts = job.row, job.attempts
        if exc is None:
            self.unconfirmed.append(row["id"])
            self.report.sent += 1
            self.dropped = 0
        elif isinstance(exc, TemporaryFailure):
            self.temporary(row, attempts, exc)
        elif isinstance(exc, PermanentFailure):
            self.permanent(row, attempts, exc)
        elif isinstance(exc, ConnectionFailure):
            # Not the recipient's fault: back in the queue without using up a try.
            queue.requeue(self.db, row["id"], attempts - 1, str(exc), self.stamp())
            self.line_down(job, exc, at_open)
        elif isinstance(exc, UncertainDelivery):
            queue.mark_uncertain(self.db, row["id"], str(exc), self.stamp())
            self.line_down(job, exc, at_open)
        elif isinstance(exc, SendAborted):  # refused before anything was sent
            queue.requeue(self.db, row["id"], attempts - 1, str(exc), self.stamp())
            raise _GiveUp(str(exc).rstrip(".")) from None
        else:  # a bug: claimed, the content may have left; else it is simply still queued
            if claimed:
                queue.mark_uncertain(
                    self.db, row["id"], f"{type(exc).__name__}: {exc}", self.stamp()
                )
            else:
                queue.requeue(self.db, row["id"], attempts - 1, str(exc), self.stamp())
            raise exc

    def undeliverable(self, row: sqlite3.Row, reason: str) -> None:
        queue.mark_failed(self.db, row["id"], reason, self.stamp())
        self.report.failed += 1
        self.report.failures.append((row["email"], reason))

    def temporary(self, row: sqlite3.Row, attempts: int, exc: TemporaryFailure) -> None:
        if attempts >= self.max_attempts:
            queue.mark_failed(self.db, row["id"], f"gave up: {exc}", self.stamp(), attempts)
            self.report.failed += 1
            gave_up = ngettext(
                "gave up after {n} try: {exc}", "gave up after {n} tries: {exc}", attempts
            ).format(n=attempts, exc=exc)
            self.report.failures.append((row["email"], gave_up))
            return
        retry_at = self.pacing.clock() + queue.backoff(attempts - 1, self.retry_delay)
        queue.retry_at(self.db, row["id"], retry_at, str(exc), self.stamp(), attempts)
        self.report.retried += 1

    def permanent(self, row: sqlite3.Row, attempts: int, exc: PermanentFailure) -> None:
        with transaction(self.db):
            queue.mark_failed(self.db, row["id"], str(exc), self.stamp(), attempts)
            subscribers.set_status(
                self.db, row["subscriber_id"], "bounced", self.pacing.now(), str(exc)
            )
        self.report.failed += 1
        self.report.failures.append((row["email"], str(exc)))

    def line_down(self, job: Job, exc: Exception, at_open: bool) -> None:
        """A connection failed or the server said 421: every line waits (backoff), and the
        offers not yet taken come back. Failures of messages that were already out when an
        earlier one failed count as that one."""
        self.report.reconnects += 1
        if job.seq <= self.failure_mark:
            return
        self.failure_mark = self.seq
        self.withdraw_offers()
        self.dropped += 1
        if self.dropped >= self.max_attempts:  # connects, then drops every message
            if at_open:
                raise _GiveUp(
                    _("{exc}; gave up after {n} attempts").format(exc=exc, n=self.dropped)
                )
            raise _GiveUp(
                _("{server} dropped the connection {n} times in a row ({exc})").format(
                    server=self.transport.description, n=self.dropped, exc=exc
                )
            )
        self.resume_at = self.pacing.clock() + queue.backoff(self.dropped - 1, self.retry_delay)


class _GiveUp(Exception):
    """The run stops: raised inside the loop, which records the messages still out first."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _active(row: sqlite3.Row) -> bool:
    return row["subscriber_id"] is not None and row["subscriber_status"] == "active"
