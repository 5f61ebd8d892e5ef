"""Sign-up with double opt-in, and the limits that keep the form from being abused.

A sign-up is *pending* until the person opens the link mailed to them and presses the button
there (a POST: a link scanner's GET activates nobody). Only then is a subscriber made or made
active again, with the time of consent, the version of the consent text and the source. What the
form answers never depends on whether the address is known: nobody can learn from it who
subscribes. Pending sign-ups that nobody confirmed are deleted after ``[web] confirm_within``.

State that must survive a restart lives in the state database: the pending sign-ups, how many
mails each address got today (as a hash of the address) and how many posts each client made in
the current ten minutes (as a hash of its IP address).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass

from blogtool.config import Config
from blogtool.delivery import outgoing
from blogtool.errors import BlogtoolError
from blogtool.store import script, transaction, utc_now_iso
from blogtool.subscribers import lists
from blogtool.subscribers import people as subscribers
from blogtool.subscribers.tokens import BadLink, check_link_token, link_id, make_link_token

SOURCE = "webbformulär"  # stored as it is; pages show it in the site's language
RATE_WINDOW = 600  # seconds: [web] requests_per_ip counts posts in windows of ten minutes


def create_tables(db: sqlite3.Connection) -> None:
    """Migration 003: the reader service. Existing subscribers keep lists_chosen = 0, which
    puts them on the site's default list (the series)."""
    script(
        db,
        """
        ALTER TABLE subscribers ADD COLUMN consent_version TEXT;
        ALTER TABLE subscribers ADD COLUMN lists_chosen INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE subscriptions (
            subscriber_id INTEGER NOT NULL,
            list TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (subscriber_id, list)
        );
        CREATE TABLE signups (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_key TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            lists TEXT NOT NULL,                 -- JSON list of list keys
            nonce TEXT NOT NULL,                 -- binds the confirmation link to this row
            consent_version TEXT NOT NULL,
            source TEXT NOT NULL,
            created_at TEXT NOT NULL,            -- when this sign-up (its link) began
            confirmed_at TEXT
        );
        CREATE TABLE mail_quota (
            email_hash TEXT NOT NULL,
            day TEXT NOT NULL,
            sent INTEGER NOT NULL,
            PRIMARY KEY (email_hash, day)
        );
        CREATE TABLE client_posts (
            client_hash TEXT NOT NULL,
            slot INTEGER NOT NULL,
            posts INTEGER NOT NULL,
            PRIMARY KEY (client_hash, slot)
        );
        """,
    )
    outgoing.create_tables(db)


class SignupError(BlogtoolError):
    """A form the service cannot take: a bad address, no list, an unknown list."""


@dataclass(frozen=True)
class Pending:
    id: int
    email: str
    email_key: str
    name: str
    lists: tuple[str, ...]
    nonce: str
    consent_version: str
    source: str
    created_at: str
    confirmed_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Pending:
        data = {k: row[k] for k in cls.__dataclass_fields__ if k != "lists"}
        return cls(lists=tuple(json.loads(row["lists"])), **data)


def hashed(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


# --- limits --------------------------------------------------------------------------------------


def count_post(db: sqlite3.Connection, client: str, now: dt.datetime, limit: int) -> bool:
    """Count one form post from ``client`` (an IP address); False if it is over the limit."""
    window = int(now.timestamp()) // RATE_WINDOW
    key = hashed("client\0" + client)
    with transaction(db):
        db.execute(
            "INSERT INTO client_posts (client_hash, slot, posts) VALUES (?, ?, 1) "
            "ON CONFLICT(client_hash, slot) DO UPDATE SET posts = posts + 1",
            (key, window),
        )
        (posts,) = db.execute(
            "SELECT posts FROM client_posts WHERE client_hash = ? AND slot = ?", (key, window)
        ).fetchone()
    return bool(posts <= limit)


def take_quota(db: sqlite3.Connection, email_key: str, now: dt.datetime, limit: int) -> bool:
    """One more mail to this address today, if it has not had ``limit`` (in a transaction)."""
    day = now.astimezone(dt.UTC).date().isoformat()
    key = hashed("mail\0" + email_key)
    row = db.execute(
        "SELECT sent FROM mail_quota WHERE email_hash = ? AND day = ?", (key, day)
    ).fetchone()
    if row is not None and row[0] >= limit:
        return False
    db.execute(
        "INSERT INTO mail_quota (email_hash, day, sent) VALUES (?, ?, 1) "
        "ON CONFLICT(email_hash, day) DO UPDATE SET sent = sent + 1",
        (key, day),
    )
    return True


# --- sign-up and confirmation --------------------------------------------------------------------


def check_form(config: Config, address: str, chosen: list[str]) -> tuple[str, list[str]]:
    """The normalised address and the chosen lists, or SignupError saying what is wrong."""
    try:
        normalized = subscribers.normalize(address)
    except subscribers.InvalidAddress:
        raise SignupError("address") from None
    if not chosen:
        raise SignupError("no-list")
    try:
        keys = lists.check_lists(config, chosen)
    except BlogtoolError:
        raise SignupError("unknown-list") from None
    return normalized, keys


def sign_up(
    db: sqlite3.Connection,
    config: Config,
    address: str,
    name: str,
    chosen: list[str],
    now: dt.datetime,
) -> Pending | None:
    """Record a pending sign-up; returns it when a confirmation mail should go (the address's
    daily quota allows), None when not. The same for a new, pending, active, unsubscribed or
    forgotten address: each confirms again before anything is sent to them."""
    normalized, keys = check_form(config, address, chosen)
    name = subscribers.clean_name(name)[: subscribers.MAX_NAME]
    key = subscribers.email_key(normalized)
    stamp = utc_now_iso(now)
    expiry = utc_now_iso(now - config.web.confirm_within)
    with transaction(db):
        row = db.execute("SELECT * FROM signups WHERE email_key = ?", (key,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO signups (email, email_key, name, lists, nonce, consent_version, "
                "source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    normalized,
                    key,
                    name,
                    json.dumps(keys),
                    secrets.token_hex(8),
                    config.web.consent_version,
                    SOURCE,
                    stamp,
                ),
            )
        elif row["confirmed_at"] is not None or row["created_at"] < expiry:
            # A new sign-up: a new link (the old one stops working), a new clock.
            db.execute(
                "UPDATE signups SET email = ?, name = ?, lists = ?, nonce = ?, consent_version = ?,"
                " created_at = ?, confirmed_at = NULL WHERE id = ?",
                (
                    normalized,
                    name,
                    json.dumps(keys),
                    secrets.token_hex(8),
                    config.web.consent_version,
                    stamp,
                    row["id"],
                ),
            )
        # else still pending: the same link again, for what was asked first. Anyone can post
        # the form with this address; only the link in its owner's mail changes the sign-up.
        pending = Pending.from_row(
            db.execute("SELECT * FROM signups WHERE email_key = ?", (key,)).fetchone()
        )
        if not take_quota(db, key, now, config.web.mails_per_address):
            return None
    return pending


def confirm_token(secret: bytes, config: Config, pending: Pending) -> str:
    created = dt.datetime.fromisoformat(pending.created_at)
    expires = int((created + config.web.confirm_within).timestamp())
    return make_link_token(secret, "confirm", pending.id, pending.nonce, expires)


def find_pending(db: sqlite3.Connection, secret: bytes, token: str, now: dt.datetime) -> Pending:
    """The sign-up a confirmation token is for. BadLink if forged, or the sign-up is gone
    (purged, or the person was forgotten since); ExpiredLink if it is late."""
    row = db.execute("SELECT * FROM signups WHERE id = ?", (link_id(token, "confirm"),)).fetchone()
    if row is None:
        raise BadLink("no such sign-up")
    pending = Pending.from_row(row)
    check_link_token(secret, token, "confirm", pending.nonce, now.timestamp())
    return pending


def confirm(
    db: sqlite3.Connection, secret: bytes, token: str, now: dt.datetime
) -> tuple[str, Pending]:
    """Activate the subscriber; ("confirmed" | "already", the sign-up). Idempotent."""
    with transaction(db):
        pending = find_pending(db, secret, token, now)
        if pending.confirmed_at is not None:
            return "already", pending
        subscriber = subscribers.give_consent(
            db, pending.email, pending.name, now, pending.source, pending.consent_version
        )
        lists.set_lists(db, subscriber.id, pending.lists, now)
        stamp = utc_now_iso(now)
        db.execute("UPDATE signups SET confirmed_at = ? WHERE id = ?", (stamp, pending.id))
    return "confirmed", pending


def purge(db: sqlite3.Connection, config: Config, now: dt.datetime) -> int:
    """Delete sign-ups older than ``[web] confirm_within`` (confirmed or not) and old counters.
    Returns how many unconfirmed sign-ups were dropped."""
    before = utc_now_iso(now - config.web.confirm_within)
    with transaction(db):
        dropped = db.execute(
            "DELETE FROM signups WHERE confirmed_at IS NULL AND created_at < ?", (before,)
        ).rowcount
        db.execute(
            "DELETE FROM signups WHERE confirmed_at IS NOT NULL AND created_at < ?", (before,)
        )
        yesterday = (now.astimezone(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
        db.execute("DELETE FROM mail_quota WHERE day < ?", (yesterday,))
        window = int(now.timestamp()) // RATE_WINDOW
        db.execute("DELETE FROM client_posts WHERE slot < ?", (window - 1,))
        outgoing.purge(db, now - dt.timedelta(days=1))
    return int(dropped)


def erase(db: sqlite3.Connection, email_key: str) -> None:
    """Everything the service keeps about an address (for ``forget``)."""
    db.execute("DELETE FROM signups WHERE email_key = ?", (email_key,))
    db.execute("DELETE FROM mail_quota WHERE email_hash = ?", (hashed("mail\0" + email_key),))
    outgoing.erase(db, email_key)
