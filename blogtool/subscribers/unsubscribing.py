"""The other end of the unsubscribe link: what a token in it unsubscribes (the reader
service's page, ``blogtool.web``, and a token that arrives by mail both come here).

Tokens are verified against the subscriber's current address, so a guessed or altered link
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from blogtool.subscribers.people import set_status
from blogtool.subscribers.tokens import parse_token, verify_token


@dataclass(frozen=True)
class Outcome:
    status: str  # "unsubscribed", "already", "invalid"
    email: str | None = None


def find(db: sqlite3.Connection, secret: bytes, token: str) -> sqlite3.Row | None:
    parsed = parse_token(token)
    if parsed is None:
        return None
    row = db.execute(
        "SELECT id, email, email_key, status FROM subscribers WHERE id = ?", (parsed[0],)
    ).fetchone()
    if row is None or not verify_token(secret, token, row["email_key"]):
        return None
    found: sqlite3.Row = row
    return found


def unsubscribe(
    db: sqlite3.Connection, secret: bytes, token: str, now: dt.datetime, how: str
) -> Outcome:
    row = find(db, secret, token)
    if row is None:
        return Outcome("invalid")
    if row["status"] == "unsubscribed":
        return Outcome("already", row["email"])
    set_status(db, row["id"], "unsubscribed", now, how)
    return Outcome("unsubscribed", row["email"])
