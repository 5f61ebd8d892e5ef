"""Single messages to one person (a sign-up's confirmation, a link to their data): a durable
queue in the state database, sent through the site's transport like the newsletter.

A message is stored before anyone is told it is on its way, claimed by one sender at a time
(``queued`` -> ``sending`` -> ``sent``), retried on a temporary failure, and its content is
deleted once it has gone: it holds an address and a link, which are nobody's business after.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from blogtool.delivery.transports import (
    ConnectionFailure,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    UncertainDelivery,
)
from blogtool.store import script, transaction, utc_now_iso

MAX_ATTEMPTS = 5


def create_tables(db: sqlite3.Connection) -> None:
    """Part of migration 003."""
    script(
        db,
        """
        CREATE TABLE outgoing (
            id INTEGER PRIMARY KEY,
            purpose TEXT NOT NULL,               -- 'confirm', 'my-data', 'my-data-request'
            email_key TEXT NOT NULL,             -- whom it is for (erased with them)
            recipient TEXT,                      -- NULL once sent
            message BLOB,                        -- NULL once sent
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            last_error TEXT
        );
        CREATE INDEX outgoing_status ON outgoing(status);
        """,
    )


def enqueue(
    db: sqlite3.Connection,
    purpose: str,
    email_key: str,
    recipient: str,
    message: bytes | None,
    now: dt.datetime,
) -> int:
    """Queue a message (or, with ``message`` None, a request to be resolved into one)."""
    cursor = db.execute(
        "INSERT INTO outgoing (purpose, email_key, recipient, message, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (purpose, email_key, recipient, message, utc_now_iso(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def requests(db: sqlite3.Connection, purpose: str) -> list[sqlite3.Row]:
    """Queued requests of ``purpose`` that are not a message yet (``message`` NULL): work a
    page put off, so that it answered every request alike (see ``resolve``)."""
    return list(
        db.execute(
            "SELECT id, recipient FROM outgoing WHERE purpose = ? AND status = 'queued' "
            "AND message IS NULL ORDER BY id",
            (purpose,),
        )
    )


def resolve(
    db: sqlite3.Connection, request_id: int, made: tuple[str, str, str, bytes] | None
) -> None:
    """A request becomes the message ``made`` (purpose, email key, recipient, bytes), or, with
    None, is forgotten (it held an address typed by someone, maybe not its owner)."""
    if made is None:
        db.execute("DELETE FROM outgoing WHERE id = ?", (request_id,))
        return
    purpose, key, recipient, message = made
    db.execute(
        "UPDATE outgoing SET purpose = ?, email_key = ?, recipient = ?, message = ? WHERE id = ?",
        (purpose, key, recipient, message, request_id),
    )


@dataclass
class Drained:
    sent: int = 0
    failed: int = 0
    waiting: int = 0


def _claim(db: sqlite3.Connection) -> sqlite3.Row | None:
    with transaction(db):
        row = db.execute(
            "SELECT id, recipient, message, attempts FROM outgoing WHERE status = 'queued' "
            "AND message IS NOT NULL ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        db.execute("UPDATE outgoing SET status = 'sending' WHERE id = ?", (row["id"],))
    found: sqlite3.Row = row
    return found


def drain(db: sqlite3.Connection, transport: Transport, sender: str, now: dt.datetime) -> Drained:
    """Send every queued message. A message left ``sending`` by a killed process is queued
    again first: a confirmation mail twice is better than none."""
    done = Drained()
    with transaction(db):
        db.execute("UPDATE outgoing SET status = 'queued' WHERE status = 'sending'")
    opened = False
    try:
        while (row := _claim(db)) is not None:
            if not opened:
                transport.open()
                opened = True
            try:
                transport.send(sender, row["recipient"], row["message"], f"out-{row['id']}")
            except UncertainDelivery:
                pass  # it went out whole; the reply was lost. Counted as sent, not sent twice.
            except (TemporaryFailure, ConnectionFailure) as exc:
                attempts = row["attempts"] + 1
                status = "failed" if attempts >= MAX_ATTEMPTS else "queued"
                with transaction(db):
                    db.execute(
                        "UPDATE outgoing SET status = ?, attempts = ?, last_error = ? WHERE id = ?",
                        (status, attempts, str(exc)[:300], row["id"]),
                    )
                done.failed += status == "failed"
                done.waiting += status == "queued"
                if isinstance(exc, ConnectionFailure):
                    break
                continue
            except PermanentFailure as exc:
                with transaction(db):
                    db.execute(
                        "UPDATE outgoing SET status = 'failed', recipient = NULL, message = NULL, "
                        "last_error = ? WHERE id = ?",
                        (str(exc)[:300], row["id"]),
                    )
                done.failed += 1
                continue
            with transaction(db):
                db.execute(
                    "UPDATE outgoing SET status = 'sent', sent_at = ?, recipient = NULL, "
                    "message = NULL WHERE id = ?",
                    (utc_now_iso(now), row["id"]),
                )
            done.sent += 1
    finally:
        if opened:
            transport.close()
    return done


def counts(db: sqlite3.Connection) -> dict[str, int]:
    found = dict.fromkeys(("queued", "sending", "sent", "failed"), 0)
    for status, n in db.execute("SELECT status, COUNT(*) FROM outgoing GROUP BY status"):
        found[status] = n
    return found


def erase(db: sqlite3.Connection, email_key: str) -> None:
    db.execute("DELETE FROM outgoing WHERE email_key = ?", (email_key,))


def purge(db: sqlite3.Connection, before: dt.datetime) -> int:
    """Forget settled messages made before ``before``."""
    cursor = db.execute(
        "DELETE FROM outgoing WHERE status IN ('sent', 'failed') AND created_at < ?",
        (utc_now_iso(before),),
    )
    return cursor.rowcount
