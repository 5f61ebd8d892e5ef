"""Sending an issue through a durable queue of deliveries.

``freeze`` fixes the recipients once: one row per issue and subscriber (UNIQUE). ``send_issue``
then works through the rows: a row is marked ``sending`` (committed) before the message goes to
the server and ``sent`` after the server's 250. A re-run picks up what is still ``queued``; a row
a crash left in ``sending`` may or may not have arrived, so it is reported and resent only when
asked. Temporary failures are retried with exponential backoff; a permanent one marks the
delivery failed and the subscriber bounced. Nothing here sleeps or reads a clock on its own:
the caller passes them in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
import smtplib
import sqlite3
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from blogtool.config import SmtpConfig
from blogtool.errors import BlogtoolError
from blogtool.files import write_atomic
from blogtool.mail.compose import MessageFactory, Recipient
from blogtool.mail.issues import Issue, delivery_counts
from blogtool.mail.subscribers import set_status
from blogtool.store import transaction, utc_now_iso

MAX_BACKOFF = 900.0  # seconds


class TemporaryFailure(Exception):
    """4xx: try this recipient again later."""


class PermanentFailure(Exception):
    """5xx: this recipient cannot be delivered to."""


class ConnectionFailure(Exception):
    """The server cannot be reached or dropped the connection; nothing is wrong with the
    recipient."""


class SendAborted(BlogtoolError):
    """The run stopped early; everything not sent is still queued for the next run."""


class Transport(Protocol):
    description: str

    def open(self) -> None: ...

    def send(
        self, sender: str, recipient: str, data: bytes, name: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> None: ...  # fmt: skip

    def close(self) -> None: ...


class OutboxTransport:
    """No SMTP server configured: one .eml file per delivery, written atomically."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.description = f"the outbox folder {directory}"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(
        self, sender: str, recipient: str, data: bytes, name: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        write_atomic(self.directory / f"{name}.eml", data, durable=False)
        if while_waiting is not None:
            while_waiting()

    def close(self) -> None:
        pass


class SmtpTransport:
    """yagmail opens and authenticates the connection (TLS verified, timeouts set); our own
    messages go over that one connection, which is reopened if the server closes it."""

    def __init__(self, config: SmtpConfig, password: str | None):
        self.config = config
        self.password = password
        self.client: object | None = None
        self.description = f"{config.host}:{config.port} ({config.security})"

    def open(self) -> None:
        import yagmail

        self.close()
        c = self.config
        context = ssl.create_default_context()  # verifies the certificate and the host name
        kwargs: dict[str, object] = {"timeout": c.timeout}
        if c.security == "ssl":
            kwargs["context"] = context
        client = yagmail.SMTP(
            user=c.user,
            password=self.password,
            host=c.host,
            port=c.port,
            smtp_ssl=c.security == "ssl",
            smtp_starttls={"context": context} if c.security == "starttls" else False,
            smtp_skip_login=c.user is None,
            soft_email_validation=False,
            **kwargs,
        )
        try:
            client.login()
        except smtplib.SMTPAuthenticationError as exc:
            raise SendAborted(
                f"SMTP login as {c.user} at {self.description} was refused "
                f"({exc.smtp_code}); check the user and BLOGTOOL_SMTP_PASSWORD or the keyring"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendAborted(
                f"the certificate of {self.description} could not be verified: {exc.verify_message}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendAborted(f"{self.description}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailure(f"cannot connect to {self.description}: {exc}") from None
        self.client = client

    def send(
        self, sender: str, recipient: str, data: bytes, name: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        """One message in one SMTP transaction. ``while_waiting`` runs after the message has
        gone out and before the server's reply is read: the next message is prepared while the
        server works on this one."""
        if self.client is None:
            raise ConnectionFailure("not connected")
        smtp = self.client.smtp  # type: ignore[attr-defined]
        try:
            _transaction(smtp, sender, recipient, data, while_waiting)
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = exc.recipients.get(recipient, (550, b"refused"))
            _raise_for(code, message)
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 421:
                self.client = None
                raise ConnectionFailure(f"421 {_text(exc.smtp_error)}") from None
            if 400 <= exc.smtp_code < 500:
                raise TemporaryFailure(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
            raise SendAborted(
                f"the server refused the sender {sender}: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as exc:  # DATA and other replies
            if exc.smtp_code == 421:
                self.client = None
                raise ConnectionFailure(f"421 {_text(exc.smtp_error)}") from None
            _raise_for(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:  # timeouts and resets too
            self.client = None
            raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a dead connection needs no goodbye
                client.smtp.quit()  # type: ignore[attr-defined]


def _transaction(
    smtp: smtplib.SMTP,
    sender: str,
    recipient: str,
    data: bytes,
    while_waiting: Callable[[], None] | None,
) -> None:
    """smtplib's sendmail() for one recipient, with a pause for other work between sending the
    message and reading the reply. The same commands, checks and errors as sendmail()."""
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _reset_or_close(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        _reset_or_close(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _reset_or_close(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    payload = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing, as smtplib does
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    smtp.send(payload + b".\r\n")
    if while_waiting is not None:
        while_waiting()
    code, reply = smtp.getreply()
    if code != 250:
        _reset_or_close(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _reset_or_close(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:  # the server is closing the connection
        smtp.close()
    else:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            smtp.rset()


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _raise_for(code: int, message: bytes | str) -> None:
    text = f"{code} {_text(message)}"
    if 400 <= code < 500:
        raise TemporaryFailure(text)
    raise PermanentFailure(text)


# --- the queue ----------------------------------------------------------------------------------


def freeze(db: sqlite3.Connection, issue: Issue, now: dt.datetime) -> int:
    """Fix the issue's recipients: every active subscriber, once. Later calls change nothing."""
    with transaction(db):
        frozen = db.execute("SELECT frozen_at FROM issues WHERE id = ?", (issue.id,)).fetchone()[0]
        if frozen is None:
            stamp = utc_now_iso(now)
            db.execute(
                "INSERT OR IGNORE INTO deliveries "
                "(issue_id, subscriber_id, email, status, updated_at) "
                "SELECT ?, id, email, 'queued', ? FROM subscribers "
                "WHERE status = 'active' ORDER BY id",
                (issue.id, stamp),
            )
            db.execute("UPDATE issues SET frozen_at = ? WHERE id = ?", (stamp, issue.id))
    return db.execute("SELECT COUNT(*) FROM deliveries WHERE issue_id = ?", (issue.id,)).fetchone()[
        0
    ]


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


def uncertain_rows(db: sqlite3.Connection, issue_id: int) -> list[sqlite3.Row]:
    return list(
        db.execute(
            "SELECT id, email FROM deliveries "
            "WHERE issue_id = ? AND status = 'sending' ORDER BY id",
            (issue_id,),
        )
    )


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
    report = SendReport()
    report.total = freeze(db, issue, pacing.now())
    if accept_uncertain:
        db.execute(
            "UPDATE deliveries SET status = 'sent', "
            "last_error = 'assumed delivered after an interrupted run' "
            "WHERE issue_id = ? AND status = 'sending'",
            (issue.id,),
        )
    if resend_uncertain:
        db.execute(
            "UPDATE deliveries SET status = 'queued', "
            "last_error = 'resent after an interrupted run' "
            "WHERE issue_id = ? AND status = 'sending'",
            (issue.id,),
        )
    done = delivery_counts(db, issue.id)  # an earlier run's work counts in the report
    report.sent, report.failed, report.skipped = done["sent"], done["failed"], done["skipped"]

    interval = 60.0 / rate if rate else 0.0
    next_slot = pacing.clock()
    connected = False
    dropped = 0  # connection failures since the last message the server accepted

    def connect() -> None:
        nonlocal connected
        for attempt in range(max_attempts):
            try:
                transport.open()
                connected = True
                return
            except ConnectionFailure as exc:
                last = str(exc)
                if attempt + 1 < max_attempts:
                    pacing.sleep(min(MAX_BACKOFF, retry_delay * 2**attempt))
        report.remaining = count(db, issue.id, "queued")
        raise SendAborted(
            f"{last}; gave up after {max_attempts} attempts. {report.remaining} deliveries "
            "are still queued: run the send again when the server is back"
        )

    stamp_cache: list[tuple[float, str]] = [(-1.0, "")]

    def stamp() -> str:
        """The current time for the records, read at most once a second (it is read for every
        row the queue touches, and a sub-second timestamp says nothing more)."""
        tick = pacing.clock()
        if tick - stamp_cache[0][0] >= 1.0 or tick < stamp_cache[0][0]:
            stamp_cache[0] = (tick, utc_now_iso(pacing.now()))
        return stamp_cache[0][1]

    def update(delivery_id: int, sql: str, *args: object) -> None:
        db.execute(
            f"UPDATE deliveries SET {sql}, updated_at = ? WHERE id = ?",
            (*args, stamp(), delivery_id),
        )

    # The 'sent' mark of one message is committed together with the 'sending' mark of the next,
    # before the next goes out: one commit per message, and never two rows in 'sending'.
    unconfirmed: list[int] = []
    prepared: dict[int, tuple[str, bytes]] = {}

    def flush() -> None:
        for delivery_id in unconfirmed:
            update(delivery_id, "status = 'sent', sent_at = ?", stamp())
        unconfirmed.clear()

    def render(row: sqlite3.Row) -> tuple[str, bytes]:
        ready = prepared.pop(row["id"], None)
        if ready is not None:
            return ready
        recipient = Recipient(row["id"], row["subscriber_id"], row["email"], row["name"] or "")
        message_id = row["message_id"] or factory.message_id(recipient)
        return message_id, factory.render(recipient, message_id, pacing.now())

    try:
        while True:
            if pacing.should_stop():
                report.stopped = "interrupted"
                break
            rows = db.execute(
                "SELECT d.id, d.subscriber_id, d.email, d.attempts, d.message_id, "
                "s.status AS subscriber_status, s.name FROM deliveries d "
                "LEFT JOIN subscribers s ON s.id = d.subscriber_id "
                "WHERE d.issue_id = ? AND d.status = 'queued' AND d.next_attempt_at <= ? "
                "ORDER BY d.id LIMIT 200",
                (issue.id, pacing.clock()),
            ).fetchall()
            if not rows:
                flush()
                pending = next_attempt(db, issue.id)
                if pending is None:
                    break
                pacing.sleep(max(0.0, pending - pacing.clock()))
                continue
            sendable = [
                r
                for r in rows
                if r["subscriber_id"] is not None and r["subscriber_status"] == "active"
            ]
            following = {a["id"]: b for a, b in itertools.pairwise(sendable)}
            for row in rows:
                if pacing.should_stop():
                    report.stopped = "interrupted"
                    break
                if row["subscriber_id"] is None or row["subscriber_status"] != "active":
                    update(row["id"], "status = 'skipped', last_error = ?", "no longer subscribed")
                    report.skipped += 1
                    continue
                if not connected:
                    connect()
                wait = next_slot - pacing.clock()
                if wait > 0:
                    flush()
                    pacing.sleep(wait)
                next_slot = max(next_slot, pacing.clock()) + interval
                message_id, data = render(row)
                recipient_email = row["email"]
                attempts = row["attempts"] + 1
                # Committed before the message leaves: a crash from here on leaves 'sending'.
                with transaction(db):
                    flush()
                    update(
                        row["id"], "status = 'sending', attempts = ?, message_id = ?",
                        attempts, message_id,
                    )  # fmt: skip
                nxt = following.get(row["id"])

                def prepare_next(nxt: sqlite3.Row | None = nxt) -> None:
                    if nxt is not None and not interval:
                        prepared[nxt["id"]] = render(nxt)

                try:
                    transport.send(
                        sender, recipient_email, data, f"{issue.id:04d}-{row['id']:07d}",
                        prepare_next,
                    )  # fmt: skip
                except TemporaryFailure as exc:
                    if attempts >= max_attempts:
                        update(row["id"], "status = 'failed', last_error = ?", f"gave up: {exc}")
                        report.failed += 1
                        report.failures.append(
                            (recipient_email, f"gave up after {attempts} tries: {exc}")
                        )
                    else:
                        delay = min(MAX_BACKOFF, retry_delay * 2 ** (attempts - 1))
                        update(
                            row["id"], "status = 'queued', next_attempt_at = ?, last_error = ?",
                            pacing.clock() + delay, str(exc),
                        )  # fmt: skip
                        report.retried += 1
                except PermanentFailure as exc:
                    with transaction(db):
                        update(row["id"], "status = 'failed', last_error = ?", str(exc))
                        set_status(db, row["subscriber_id"], "bounced", pacing.now(), str(exc))
                    report.failed += 1
                    report.failures.append((recipient_email, str(exc)))
                except ConnectionFailure as exc:
                    # Not the recipient's fault: back in the queue without using up a try.
                    update(
                        row["id"], "status = 'queued', attempts = ?, last_error = ?",
                        attempts - 1, str(exc),
                    )  # fmt: skip
                    connected = False
                    report.reconnects += 1
                    transport.close()
                    dropped += 1
                    if dropped >= max_attempts:  # connects, then drops every message
                        report.remaining = count(db, issue.id, "queued")
                        raise SendAborted(
                            f"{transport.description} dropped the connection {dropped} times in a "
                            f"row ({exc}). {report.remaining} deliveries are still queued: run "
                            "the send again when the server is back"
                        ) from None
                    pacing.sleep(min(MAX_BACKOFF, retry_delay * 2 ** (dropped - 1)))
                else:
                    unconfirmed.append(row["id"])
                    report.sent += 1
                    dropped = 0
                if progress is not None:
                    progress(report)
            else:
                continue
            break
    finally:
        flush()
        transport.close()
        report.remaining = count(db, issue.id, "queued")
        report.uncertain = [
            f"delivery {r['id']} to {r['email']}" for r in uncertain_rows(db, issue.id)
        ]

    if report.remaining == 0 and not report.uncertain:
        db.execute(
            "UPDATE issues SET completed_at = ? WHERE id = ? AND completed_at IS NULL",
            (utc_now_iso(pacing.now()), issue.id),
        )
    return report


def next_attempt(db: sqlite3.Connection, issue_id: int) -> float | None:
    """When the earliest queued delivery of the issue may be tried (wall-clock seconds)."""
    row = db.execute(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE issue_id = ? AND status = 'queued'",
        (issue_id,),
    ).fetchone()
    return row[0]


def count(db: sqlite3.Connection, issue_id: int, status: str) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM deliveries WHERE issue_id = ? AND status = ?", (issue_id, status)
    ).fetchone()[0]


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
