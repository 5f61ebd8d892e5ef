"""Bounces and complaints that come back after a send: delivery status notifications (RFC 3464),
the many non-standard formats mail servers use (flufl.bounce reads those), ARF complaint reports
(RFC 5965) and auto-replies.

``read`` says what a message is, without the database. ``record`` finds whom it is about, and
never by guessing, since anyone can mail the bounce address:

- with ``[newsletter] return_path`` set (VERP), only a token signed by this site, in the address
  the report came back to or in the returned original's Return-Path, names a delivery;
- without it, the report must carry the Message-ID of a delivery (unique per delivery) *and*
  name that delivery's very address as the failed recipient.

A recipient named in the report alone never changes anyone. What cannot be matched is kept, with
its reason, for a person to look at. Every message is recorded once (by its Message-ID), and
counted by kind.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import logging
import re
import sqlite3
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from blogtool.config import Config
from blogtool.delivery import queue
from blogtool.i18n import N_
from blogtool.store import script, transaction, utc_now_iso
from blogtool.subscribers import people as subscribers
from blogtool.subscribers.tokens import BadLink, verp_delivery

KINDS = (
    "hard",
    "soft",
    "complaint",
    "auto-reply",
    "not-a-bounce",
    "malformed",
    "unmatched",
    "forged",
    "too-large",
    "bounce-of-bounce",
    "duplicate",
)
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
_AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?(reply|svar|answer)|out of (the )?office|frånvaro|autosvar)", re.I
)


def create_tables(db: sqlite3.Connection) -> None:
    """Migration 005."""
    script(
        db,
        """
        CREATE TABLE bounces (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            message_key TEXT UNIQUE,             -- the bounce's Message-ID, or a hash of it
            kind TEXT NOT NULL,
            delivery_id INTEGER,
            subscriber_id INTEGER,
            status TEXT,                         -- the DSN status, e.g. 5.1.1
            diagnostic TEXT,
            raw BLOB                             -- kept only when it could not be matched
        );
        CREATE INDEX bounces_by_subscriber ON bounces (subscriber_id, kind, received_at);
        """,
    )


def add_reason_column(db: sqlite3.Connection) -> None:
    """Migration 006: why a message was not matched (a catalogue message id, shown translated)."""
    db.execute("ALTER TABLE bounces ADD COLUMN reason TEXT")


@dataclass
class Reading:
    """What a message in the bounce mailbox is, before anyone is looked up."""

    kind: str
    key: str  # its Message-ID (or a hash of the bytes): each is recorded once
    status: str = ""
    diagnostic: str = ""
    recipients: list[str] = field(default_factory=list)
    original_id: str = ""  # the returned original's Message-ID
    tokens: list[str] = field(default_factory=list)  # VERP tokens found where they can be
    raw: bytes = b""


def _text(part: Message) -> str:
    """A part's text; a message/* part (parsed into header blocks) as those blocks."""
    inner = part.get_payload()
    if isinstance(inner, list):  # header blocks: their fields as they came (8-bit read as UTF-8)
        return "\n\n".join(
            "\n".join(f"{k}: {_utf8(v)}" for k, v in p.items())
            for p in inner
            if isinstance(p, Message)
        )
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return str(inner)


def _utf8(value: object) -> str:
    """A header value parsed from bytes: raw 8-bit bytes (kept as surrogates) read as UTF-8."""
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _fields(text: str) -> list[dict[str, str]]:
    """The blank-line separated header blocks of a delivery-status or feedback-report part."""
    blocks = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        found: dict[str, str] = {}
        for m in re.finditer(r"^([A-Za-z-]+):[ \t]*(.*(?:\r?\n[ \t]+.*)*)", chunk, re.M):
            found[m.group(1).lower()] = " ".join(m.group(2).split())
        if found:
            blocks.append(found)
    return blocks


def _original(msg: Message) -> Message | None:
    """The returned original (or its headers), if the report carries it."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if kind == "text/rfc822-headers":
            return email.message_from_string(_text(part) + "\n\n")
    return None


def _address(value: str) -> str:
    """'rfc822; anna@example.se' -> 'anna@example.se'."""
    return value.split(";", 1)[-1].strip().strip("<>").lower()


def _auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted", "")).lower()
    if auto.startswith("auto-replied"):
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return True
    if str(msg.get("Precedence", "")).lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(str(msg.get("Subject", "")).strip()))


def _key(msg: Message | None, raw: bytes) -> str:
    message_id = str(msg.get("Message-ID", "")).strip() if msg is not None else ""
    return message_id or "sha256:" + hashlib.sha256(raw).hexdigest()


def _tokens(config: Config, *messages: Message | None) -> list[str]:
    """VERP tokens in the addresses a bounce came back to, or in the original's Return-Path."""
    pattern = config.newsletter.return_path
    if not pattern:
        return []
    before, after = pattern.split("{token}")
    # Anything in the token's place is taken, so a token of the wrong shape counts as forged.
    shape = re.compile(re.escape(before) + r"([^\s<>@]{1,200})" + re.escape(after), re.I)
    found = []
    for msg in messages:
        if msg is None:
            continue
        for header in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Return-Path"):
            for value in msg.get_all(header, []):
                found += shape.findall(str(value))
    return list(dict.fromkeys(found))


def read(raw: bytes, config: Config) -> Reading:
    """Classify one message from the bounce mailbox (no database)."""
    if len(raw) > config.bounces.max_size:
        return Reading("too-large", "sha256:" + hashlib.sha256(raw).hexdigest())
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        original = _original(msg)
        reading = _classify(msg, original, raw, config)
    except Exception as exc:  # a message nobody can parse is still only one message
        return Reading(
            "malformed", "sha256:" + hashlib.sha256(raw).hexdigest(), diagnostic=str(exc)[:200]
        )
    if original is not None:
        reading.original_id = str(original.get("Message-ID", "")).strip()
        if reading.kind in ("hard", "soft") and (
            original.get_content_type() == "multipart/report"
            or "mailer-daemon" in str(original.get("From", "")).lower()
        ):
            reading.kind = "bounce-of-bounce"
    if original is not None and not reading.recipients:
        reading.recipients = [a.lower() for _, a in getaddresses(original.get_all("To", [])) if a]
    reading.tokens = _tokens(config, msg, original)
    return reading


def _classify(msg: Message, original: Message | None, raw: bytes, config: Config) -> Reading:
    key = _key(msg, raw)
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            fields = {k: v for block in _fields(_text(part)) for k, v in block.items()}
            kind = (
                "complaint"
                if fields.get("feedback-type", "").lower() == "abuse"
                else "not-a-bounce"
            )
            recipients = (
                [_address(fields["original-rcpt-to"])] if "original-rcpt-to" in fields else []
            )
            return Reading(kind, key, diagnostic="complaint (ARF)", recipients=recipients, raw=raw)
    dsn = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
    if dsn:
        return _from_dsn(dsn[0], key, raw)
    found = _from_flufl(msg, key, raw)
    # Checked last: mail servers mark their bounces Auto-Submitted too (RFC 3464, 3834).
    if found.kind == "not-a-bounce" and _auto_reply(msg):
        return Reading("auto-reply", key)
    return found


def _from_dsn(part: Message, key: str, raw: bytes) -> Reading:
    blocks = _fields(_text(part))
    worst: Reading | None = None
    for block in blocks:
        action = block.get("action", "").lower()
        status = _STATUS.search(block.get("status", ""))
        recipient = _address(block.get("final-recipient", block.get("original-recipient", "")))
        if not recipient or not (action or status):
            continue
        code = status.group(0) if status else ""
        if action == "failed" or code.startswith("5."):
            kind = "hard"
        elif action == "delayed" or code.startswith("4."):
            kind = "soft"
        else:
            continue  # delivered, relayed, expanded: not a failure
        diagnostic = block.get("diagnostic-code", "").split(";", 1)[-1].strip() or code
        found = Reading(kind, key, code, diagnostic[:300], [recipient], raw=raw)
        if worst is None or (worst.kind == "soft" and kind == "hard"):
            worst = found
        elif recipient not in worst.recipients and kind == worst.kind:
            worst.recipients.append(recipient)
    return worst or Reading(
        "malformed", key, diagnostic="a delivery-status report without a failed recipient"
    )


def _from_flufl(msg: Message, key: str, raw: bytes) -> Reading:
    """Formats that are not RFC 3464 (Exim, qmail, older Exchange...), read by flufl.bounce.
    A detector of its that fails on an odd message (one without From:) is skipped by
    flufl.bounce and logged with its traceback; that log is not ours to print."""
    from flufl.bounce import all_failures

    quiet = logging.getLogger("flufl.bounce")
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False

    temporary, permanent = all_failures(msg)
    if permanent:
        addresses = sorted(a.decode("utf-8", "replace").lower() for a in permanent)
        return Reading("hard", key, "5.0.0", _first_error_line(msg), addresses, raw=raw)
    if temporary:
        addresses = sorted(a.decode("utf-8", "replace").lower() for a in temporary)
        return Reading("soft", key, "4.0.0", _first_error_line(msg), addresses, raw=raw)
    return Reading("not-a-bounce", key)


def _first_error_line(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            for line in _text(part).splitlines():
                if re.search(r"\b[45]\d\d\b|unknown|not exist|rejected|quota", line, re.I):
                    return line.strip()[:300]
    return ""


# --- recording ----------------------------------------------------------------------------------


def _match(
    db: sqlite3.Connection, secret: bytes, reading: Reading, verp: bool
) -> tuple[str, int | None, int | None, str]:
    """(kind, delivery id, subscriber id, why not matched) of a bounce or complaint."""
    if verp:
        if not reading.tokens:
            return "unmatched", None, None, N_("no return-path token, and return_path is set")
        for token in reading.tokens:
            try:
                delivery = verp_delivery(secret, token)
            except BadLink:
                continue
            row = queue.find_delivery(db, delivery_id=delivery)
            if row is None:
                return "unmatched", None, None, N_("a token of a delivery that is no longer kept")
            return reading.kind, row["id"], row["subscriber_id"], ""
        return "forged", None, None, N_("a return-path token not signed by this site")
    if not reading.original_id:
        return "unmatched", None, None, N_("no Message-ID of a delivery in the report")
    row = queue.find_delivery(db, message_id=reading.original_id)
    if row is None:
        return "unmatched", None, None, N_("the Message-ID of no delivery of this site")
    named = {subscribers.email_key(address) for address in reading.recipients}
    if not row["email"] or subscribers.email_key(row["email"]) not in named:
        return (
            "unmatched",
            None,
            None,
            N_("the report does not name the address that delivery went to"),
        )
    return reading.kind, row["id"], row["subscriber_id"], ""


def record(
    db: sqlite3.Connection, config: Config, secret: bytes, reading: Reading, now: dt.datetime
) -> str:
    """Record one message and do what it means; returns the kind it was counted as. Only an
    active subscriber's status changes, and only for a hard bounce, enough soft ones or a
    complaint."""
    with transaction(db):
        seen = "SELECT 1 FROM bounces WHERE message_key = ?"
        if db.execute(seen, (reading.key,)).fetchone() is not None:
            return "duplicate"
        kind, delivery_id, subscriber_id, why = reading.kind, None, None, ""
        if kind in ("hard", "soft", "complaint"):
            verp = bool(config.newsletter.return_path)
            kind, delivery_id, subscriber_id, why = _match(db, secret, reading, verp)
        keep = reading.raw[: config.bounces.max_size] if kind in ("unmatched", "forged") else None
        db.execute(
            "INSERT INTO bounces (received_at, message_key, kind, delivery_id, subscriber_id, "
            "status, diagnostic, raw, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                utc_now_iso(now),
                reading.key,
                kind,
                delivery_id,
                subscriber_id,
                reading.status or None,
                reading.diagnostic or None,
                keep,
                why or None,
            ),
        )
        if delivery_id is not None and kind in ("hard", "soft", "complaint"):
            queue.mark_bounce(db, delivery_id, kind)
        if subscriber_id is not None:
            _apply(db, config, kind, subscriber_id, reading, now)
    return kind


def _apply(
    db: sqlite3.Connection,
    config: Config,
    kind: str,
    subscriber_id: int,
    reading: Reading,
    now: dt.datetime,
) -> None:
    row = db.execute("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    if row is None or row["status"] != "active":
        return
    diagnostic = reading.diagnostic or reading.status
    if kind == "hard":
        subscribers.set_status(db, subscriber_id, "bounced", now, f"bounce: {diagnostic}"[:300])
    elif kind == "complaint":
        subscribers.set_status(db, subscriber_id, "unsubscribed", now, "complaint")
    elif kind == "soft":
        days = config.bounces.soft_days
        since = utc_now_iso(now - dt.timedelta(days=days))
        (count,) = db.execute(
            "SELECT COUNT(*) FROM bounces WHERE subscriber_id = ? AND kind = 'soft' "
            "AND received_at >= ?",
            (subscriber_id, since),
        ).fetchone()
        if count >= config.bounces.soft_limit:
            reason = f"{count} temporary failures in {days} days: {diagnostic}"[:300]
            subscribers.set_status(db, subscriber_id, "bounced", now, reason)


def kept(db: sqlite3.Connection) -> list[sqlite3.Row]:
    """Messages that changed nobody and were kept for a person: unmatched and forged reports."""
    return list(
        db.execute(
            "SELECT id, received_at, kind, status, diagnostic, reason, raw FROM bounces "
            "WHERE raw IS NOT NULL ORDER BY id"
        )
    )


def of_subscriber(db: sqlite3.Connection, subscriber_id: int) -> list[sqlite3.Row]:
    """Every bounce and complaint about one person (GDPR: data about them)."""
    return list(
        db.execute(
            "SELECT received_at, kind, status, diagnostic FROM bounces WHERE subscriber_id = ? "
            "ORDER BY id",
            (subscriber_id,),
        )
    )


def erase(db: sqlite3.Connection, subscriber_id: int | None, address: str) -> None:
    """Forget a person's bounces, and unmatched messages that name their address."""
    if subscriber_id is not None:
        db.execute("DELETE FROM bounces WHERE subscriber_id = ?", (subscriber_id,))
    db.execute(
        "DELETE FROM bounces WHERE raw IS NOT NULL AND lower(CAST(raw AS TEXT)) LIKE ?",
        (f"%{address.lower()}%",),
    )
