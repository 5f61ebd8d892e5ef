"""The durable queue of deliveries: the one module that reads or writes the ``deliveries`` table.

``freeze`` fixes the recipients once: one row per issue and subscriber (UNIQUE). The send loop
(``sending.py``) then moves each row through its states with the functions at the end: a row is
marked ``sending`` (committed) before the message goes to the server and ``sent`` after the
server's 250. A row a crash left in ``sending`` may or may not have arrived, so it is reported
and resent only when asked (``settle_uncertain``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from enum import StrEnum

from blogtool.newsletter import issues
from blogtool.newsletter.compose import Recipient
from blogtool.newsletter.issues import Issue
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


Members = tuple[str, tuple[str, ...]]  # an SQL condition on subscribers ``s``, its arguments
EVERYONE: Members = ("1", ())


def freeze(
    db: sqlite3.Connection, issue: Issue, now: dt.datetime, members: Members = EVERYONE
) -> int:
    """Fix the issue's recipients: every active subscriber on its list (``members``), once.
    Later calls change nothing."""
    condition, args = members
    with transaction(db):
        if not issues.is_frozen(db, issue.id):
            stamp = utc_now_iso(now)
            db.execute(
                "INSERT OR IGNORE INTO deliveries "
                "(issue_id, subscriber_id, email, status, updated_at) "
                "SELECT ?, s.id, s.email, 'queued', ? FROM subscribers s "
                f"WHERE s.status = 'active' AND {condition} ORDER BY s.id",
                (issue.id, stamp, *args),
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


def sent_span(db: sqlite3.Connection, issue_id: int) -> tuple[int, str | None, str | None]:
    """How many messages of the issue went, and when the first and the last did (ISO 8601)."""
    row = db.execute(
        "SELECT COUNT(*), MIN(sent_at), MAX(sent_at) FROM deliveries "
        "WHERE issue_id = ? AND status = 'sent'",
        (issue_id,),
    ).fetchone()
    return int(row[0]), row[1], row[2]


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
            "SELECT id, email, last_error FROM deliveries "
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


def recipients(
    db: sqlite3.Connection, issue: Issue, members: Members = EVERYONE
) -> list[Recipient]:
    """Who a send of ``issue`` would reach now: its queued rows, or every active subscriber on
    its list if the recipients are not fixed yet."""
    if not issue.frozen_at:
        condition, args = members
        rows = db.execute(
            "SELECT s.id, s.email, s.name FROM subscribers s "
            f"WHERE s.status = 'active' AND {condition} ORDER BY s.id",
            args,
        )
        return [Recipient(0, r["id"], r["email"], r["name"]) for r in rows]
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


# --- what the send loop changes ------------------------------------------------------------------


def due(db: sqlite3.Connection, issue_id: int, clock: float, limit: int = 200) -> list[sqlite3.Row]:
    """The next queued deliveries that may be tried now, with their subscriber's state."""
    return db.execute(
        "SELECT d.id, d.subscriber_id, d.email, d.attempts, d.message_id, "
        "s.status AS subscriber_status, s.name FROM deliveries d "
        "LEFT JOIN subscribers s ON s.id = d.subscriber_id "
        "WHERE d.issue_id = ? AND d.status = 'queued' AND d.next_attempt_at <= ? "
        "ORDER BY d.id LIMIT ?",
        (issue_id, clock, limit),
    ).fetchall()


def _set(db: sqlite3.Connection, delivery_id: int, stamp: str, sql: str, *args: object) -> None:
    db.execute(
        f"UPDATE deliveries SET {sql}, updated_at = ? WHERE id = ?", (*args, stamp, delivery_id)
    )


def mark_sending(
    db: sqlite3.Connection, delivery_id: int, attempts: int, message_id: str, stamp: str
) -> None:
    """Committed before the message leaves: a crash from then on leaves it uncertain."""
    _set(
        db,
        delivery_id,
        stamp,
        "status = 'sending', attempts = ?, message_id = ?, last_error = NULL",
        attempts,
        message_id,
    )


def mark_sent(db: sqlite3.Connection, delivery_id: int, stamp: str) -> None:
    _set(db, delivery_id, stamp, "status = 'sent', sent_at = ?", stamp)


def mark_uncertain(db: sqlite3.Connection, delivery_id: int, reason: str, stamp: str) -> None:
    """It stays in 'sending': reported, and resent only when someone decides to."""
    _set(db, delivery_id, stamp, "status = 'sending', last_error = ?", reason)


def mark_skipped(db: sqlite3.Connection, delivery_id: int, reason: str, stamp: str) -> None:
    _set(db, delivery_id, stamp, "status = 'skipped', last_error = ?", reason)


def mark_failed(
    db: sqlite3.Connection, delivery_id: int, error: str, stamp: str, attempts: int | None = None
) -> None:
    """Given up on; ``attempts``: the tries made, when the last one was refused before the row
    was claimed (at the envelope)."""
    _set(
        db,
        delivery_id,
        stamp,
        "status = 'failed', last_error = ?, attempts = COALESCE(?, attempts)",
        error,
        attempts,
    )


def retry_at(
    db: sqlite3.Connection, delivery_id: int, when: float, error: str, stamp: str, attempts: int
) -> None:
    """Back in the queue after ``attempts`` tries, not before ``when`` (wall-clock seconds)."""
    _set(
        db,
        delivery_id,
        stamp,
        "status = 'queued', next_attempt_at = ?, last_error = ?, attempts = ?",
        when,
        error,
        attempts,
    )


def requeue(
    db: sqlite3.Connection, delivery_id: int, attempts: int, error: str, stamp: str
) -> None:
    """Back in the queue at once, with ``attempts`` tries counted."""
    _set(db, delivery_id, stamp, "status = 'queued', attempts = ?, last_error = ?", attempts, error)


# --- bounces on deliveries -----------------------------------------------------------------------


def add_bounce_column(db: sqlite3.Connection) -> None:
    """Part of migration 005: what came back about a delivery (hard, soft, complaint)."""
    db.execute("ALTER TABLE deliveries ADD COLUMN bounce TEXT")


def find_delivery(
    db: sqlite3.Connection,
    *,
    delivery_id: int | None = None,
    message_id: str | None = None,
) -> sqlite3.Row | None:
    """(id, subscriber_id, email) of a delivery, by id or by its Message-ID."""
    args: tuple[object, ...]
    if delivery_id is not None:
        query, args = "SELECT id, subscriber_id, email FROM deliveries WHERE id = ?", (delivery_id,)
    else:
        query = "SELECT id, subscriber_id, email FROM deliveries WHERE message_id = ?"
        args = (message_id,)
    row: sqlite3.Row | None = db.execute(query, args).fetchone()
    return row


def mark_bounce(db: sqlite3.Connection, delivery_id: int, kind: str) -> None:
    """Record a bounce or complaint on a delivery; a soft one never hides a worse one."""
    db.execute(
        "UPDATE deliveries SET bounce = ? WHERE id = ? AND "
        "(bounce IS NULL OR (bounce = 'soft' AND ? != 'soft'))",
        (kind, delivery_id, kind),
    )


def bounce_counts(db: sqlite3.Connection, issue_id: int) -> dict[str, int]:
    """Hard and soft bounces and complaints on an issue's deliveries."""
    found = {"hard": 0, "soft": 0, "complaint": 0}
    for kind, n in db.execute(
        "SELECT bounce, COUNT(*) FROM deliveries WHERE issue_id = ? AND bounce IS NOT NULL "
        "GROUP BY bounce",
        (issue_id,),
    ):
        found[kind] = n
    return found
