"""Connections to the mail server, each driven by its own thread: a *line*.

The send loop (``sending.py``) is the only one that touches the database. It *offers* a line the
next delivery (rendered, not yet claimed). The line gives the server its envelope and reports
*ready*; the loop claims the delivery ('sending', committed) and answers *go*; only then does
the content leave. With PIPELINING, a message's content carries the next offer's envelope in
the same write, so the server's verdict on one message and its readiness for the next come back
together: one round trip a message, and the 'sent' mark of one is committed with the claim of
the next. A line holds at most one claimed delivery, so a run that is killed leaves at most one
uncertain delivery per line.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from queue import SimpleQueue

from blogtool.delivery.transports import Envelope, PermanentFailure, TemporaryFailure, Transport


@dataclass(eq=False)
class Job:
    row: sqlite3.Row
    attempts: int
    message_id: str
    data: bytes
    name: str
    envelope: Envelope
    seq: int  # the order of offers: tells failures found out together from a new one


@dataclass(eq=False)
class Report:
    """What a line tells the send loop. ``job`` is the message it is done with (its content
    went, or its envelope failed), with ``error`` None when the server said 250; ``refused`` an
    offered message whose envelope failed; ``ready`` an offered message whose envelope the
    server accepted: the line waits for ``go`` before its content."""

    line: Line
    job: Job | None = None
    error: Exception | None = None
    at_open: bool = False  # the error came from opening the connection: nothing was sent
    refused: tuple[Job, Exception] | None = None
    ready: Job | None = None


class Line:
    """One connection and the thread that drives it."""

    def __init__(self, number: int, transport: Transport, reports: SimpleQueue[Report]):
        self.number, self.transport, self.reports = number, transport, reports
        self.go: SimpleQueue[bool] = SimpleQueue()
        self.connected = False
        self._offer: Job | None = None
        self._closing = False
        self._cond = threading.Condition()
        self.thread = threading.Thread(
            target=self._work, name=f"blogtool-smtp-{number}", daemon=True
        )

    # the send loop's side -----------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def offer(self, job: Job) -> None:
        with self._cond:
            self._offer = job
            self._cond.notify()

    def withdraw(self) -> Job | None:
        """Take back the offer if the line has not started on it."""
        return self._take()

    def finish(self, timeout: float) -> None:
        """Stop after the message in hand; the line's own thread closes the connection."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self.thread.join(timeout)

    # the line's own thread ----------------------------------------------------------------
    def _take(self) -> Job | None:
        with self._cond:
            job, self._offer = self._offer, None
            return job

    def _wait_for_offer(self) -> Job | None:
        with self._cond:
            while self._offer is None and not self._closing:
                self._cond.wait()
            job, self._offer = self._offer, None
            return job

    def _work(self) -> None:
        try:
            while (job := self._wait_for_offer()) is not None:
                try:
                    self._chain(job)
                except Exception as exc:  # a bug here must not leave the send loop waiting
                    self._drop()
                    self.reports.put(Report(self, job, exc))
        finally:
            self.transport.close()

    def _chain(self, job: Job) -> None:
        """From a fresh envelope, message after message while offers keep coming in time."""
        if not self._envelope(job) or not self._ready(Report(self, ready=job)):
            return
        while True:
            following = self._take() if self.transport.chains() else None
            try:
                this, after = self.transport.finish(
                    job.data, job.envelope, job.name, following.envelope if following else None
                )
            except Exception as exc:  # reported to the send loop, which decides
                this, after = exc, exc
            for error in (this, after):
                if error is not None and not _keeps_connection(error):
                    self._drop()
            if following is None:
                self.reports.put(Report(self, job, this))
                return
            if after is not None:
                self.reports.put(Report(self, job, this, refused=(following, after)))
                return
            if not self._ready(Report(self, job, this, ready=following)):
                return
            job = following

    def _envelope(self, job: Job) -> bool:
        if not self.connected:
            try:
                self.transport.open()
            except Exception as exc:
                self.reports.put(Report(self, job, exc, at_open=True))
                return False
            self.connected = True
        try:
            self.transport.begin(job.envelope)
        except Exception as exc:
            if not _keeps_connection(exc):
                self._drop()
            self.reports.put(Report(self, job, exc))
            return False
        return True

    def _ready(self, report: Report) -> bool:
        """Report, then wait for the answer: the claim is committed, or the run is stopping
        (then the server, waiting for content that will not come, is hung up on)."""
        self.reports.put(report)
        if self.go.get():
            return True
        self._drop()
        return False

    def _drop(self) -> None:
        self.connected = False
        self.transport.close()


def _keeps_connection(exc: Exception) -> bool:
    """A refused recipient leaves the connection usable; anything else opens a new one."""
    return isinstance(exc, TemporaryFailure | PermanentFailure)
