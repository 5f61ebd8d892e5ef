"""Subscribers: validated, normalised addresses with their consent, in the state database.

A public body processes this data under GDPR: consent time and source are kept; ``privacy``
shows and erases everything stored about a person.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blogtool.errors import BlogtoolError, UsageError
from blogtool.files import read_given
from blogtool.i18n import _
from blogtool.store import script, transaction, utc_now_iso


class InvalidAddress(BlogtoolError):
    pass


class InvalidName(BlogtoolError):
    pass


MAX_NAME = 200  # characters; a name is a display name, not a letter

# Characters that must never reach a header or a page from a name: C0 and C1 controls (CR and
# LF above all: header injection), line and paragraph separators, zero-width characters and
# bidirectional overrides (which can make one address look like another).
_UNSAFE_IN_NAME = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def clean_name(name: str) -> str:
    """A name safe for a To: header: unsafe characters become spaces, runs of space one."""
    return " ".join(_UNSAFE_IN_NAME.sub(" ", name).split())


def check_name(name: str) -> str:
    """``clean_name``, refusing a name too long to be one."""
    cleaned = clean_name(name)
    if len(cleaned) > MAX_NAME:
        raise InvalidName(
            _("the name is {n} characters long; expected at most {most}").format(
                n=len(cleaned), most=MAX_NAME
            )
        )
    return cleaned


def create_tables(db: sqlite3.Connection) -> None:
    """Part of migration 001."""
    script(
        db,
        """
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_key TEXT NOT NULL UNIQUE,      -- lower-cased, for uniqueness
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'unsubscribed', 'bounced')),
            consent_at TEXT NOT NULL,            -- when consent was given (UTC, ISO 8601)
            consent_source TEXT NOT NULL,        -- how: 'cli', 'import:file.csv', ...
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status_changed_at TEXT,
            status_reason TEXT
        );
        CREATE TABLE suppressions (
            email_hash TEXT PRIMARY KEY,         -- sha256 of the email key, nothing else kept
            created_at TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        """,
    )


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    status: str
    consent_at: str
    consent_source: str
    created_at: str
    updated_at: str
    status_changed_at: str | None
    status_reason: str | None
    consent_version: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Subscriber:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


def normalize(address: str) -> str:
    """The canonical form of an address (email-validator, no DNS look-ups)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        # ASCII only (an international domain becomes its xn-- form): every relay delivers
        # those, while SMTPUTF8 local parts are still refused by many servers.
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
        return result.ascii_email or result.normalized
    except EmailNotValidError as exc:
        raise InvalidAddress(
            _("{address!r} is not a valid email address: {exc}").format(address=address, exc=exc)
        ) from None


def email_key(normalized: str) -> str:
    return normalized.lower()


def email_hash(normalized: str) -> str:
    return hashlib.sha256(email_key(normalized).encode("utf-8")).hexdigest()


def is_suppressed(db: sqlite3.Connection, normalized: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM suppressions WHERE email_hash = ?", (email_hash(normalized),)
    ).fetchone()
    return row is not None


def get(db: sqlite3.Connection, address: str) -> Subscriber | None:
    normalized = normalize(address)
    row = db.execute(
        "SELECT * FROM subscribers WHERE email_key = ?", (email_key(normalized),)
    ).fetchone()
    return Subscriber.from_row(row) if row else None


def require(db: sqlite3.Connection, address: str) -> Subscriber:
    subscriber = get(db, address)
    if subscriber is None:
        raise UsageError(_("{address}: no such subscriber").format(address=address))
    return subscriber


def add(
    db: sqlite3.Connection, address: str, name: str, now: dt.datetime, source: str
) -> tuple[str, Subscriber | None]:
    """Add one subscriber. Returns ("added" | "exists" | "suppressed", subscriber).

    An address that unsubscribed or bounced is made active again only by an explicit ``add``
    (new consent); imports never reactivate anyone.
    """
    normalized = normalize(address)
    name = check_name(name)
    if is_suppressed(db, normalized):
        return "suppressed", None
    stamp = utc_now_iso(now)
    existing = get(db, normalized)
    if existing is not None:
        if existing.status != "active" and source == "cli":
            db.execute(
                "UPDATE subscribers SET status = 'active', consent_at = ?, consent_source = ?, "
                "updated_at = ?, status_changed_at = ?, status_reason = 'subscribed again' "
                "WHERE id = ?",
                (stamp, source, stamp, stamp, existing.id),
            )
            return "reactivated", get(db, normalized)
        return "exists", existing
    db.execute(
        "INSERT INTO subscribers (email, email_key, name, status, consent_at, consent_source, "
        "created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?, ?, ?)",
        (normalized, email_key(normalized), name, stamp, source, stamp, stamp),
    )
    return "added", get(db, normalized)


def give_consent(
    db: sqlite3.Connection,
    normalized: str,
    name: str,
    now: dt.datetime,
    source: str,
    version: str,
) -> Subscriber:
    """An active subscriber with consent given now (a confirmed sign-up): added, or made
    active again with the new consent; a forgotten address is forgotten no more. An empty
    ``name`` keeps the one on record. Call inside a transaction."""
    stamp = utc_now_iso(now)
    unsuppress(db, normalized)
    existing = get(db, normalized)
    if existing is None:
        db.execute(
            "INSERT INTO subscribers (email, email_key, name, status, consent_at, "
            "consent_source, consent_version, created_at, updated_at) "
            "VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?)",
            (normalized, email_key(normalized), name, stamp, source, version, stamp, stamp),
        )
    else:
        db.execute(
            "UPDATE subscribers SET email = ?, name = CASE WHEN ? = '' THEN name ELSE ? END, "
            "status = 'active', consent_at = ?, consent_source = ?, consent_version = ?, "
            "updated_at = ?, status_changed_at = ?, status_reason = 'consent given again' "
            "WHERE id = ?",
            (normalized, name, name, stamp, source, version, stamp, stamp, existing.id),
        )
    subscriber = get(db, normalized)
    assert subscriber is not None
    return subscriber


def set_status(
    db: sqlite3.Connection, subscriber_id: int, status: str, now: dt.datetime, reason: str
) -> None:
    stamp = utc_now_iso(now)
    db.execute(
        "UPDATE subscribers SET status = ?, updated_at = ?, status_changed_at = ?, "
        "status_reason = ? WHERE id = ?",
        (status, stamp, stamp, reason, subscriber_id),
    )


def remove(db: sqlite3.Connection, address: str, now: dt.datetime) -> Subscriber:
    """Unsubscribe (the record and its consent history stay; see ``forget`` to erase)."""
    subscriber = require(db, address)
    set_status(db, subscriber.id, "unsubscribed", now, "removed by staff")
    return require(db, address)


def listing(
    db: sqlite3.Connection, status: str | None = None, *, order: str = "email_key"
) -> list[Subscriber]:
    """Subscribers, by address (or by ``order="id"``: the order they came in)."""
    query = "SELECT * FROM subscribers"
    args: tuple[Any, ...] = ()
    if status:
        query += " WHERE status = ?"
        args = (status,)
    column = {"email_key": "email_key", "id": "id"}[order]
    return [Subscriber.from_row(r) for r in db.execute(f"{query} ORDER BY {column}", args)]


def delete(db: sqlite3.Connection, subscriber_id: int) -> None:
    db.execute("DELETE FROM subscribers WHERE id = ?", (subscriber_id,))


def unsuppress(db: sqlite3.Connection, normalized: str) -> None:
    """A forgotten address that confirmed a new sign-up: consent given anew."""
    db.execute("DELETE FROM suppressions WHERE email_hash = ?", (email_hash(normalized),))


def suppress(db: sqlite3.Connection, normalized: str, now: dt.datetime, reason: str) -> None:
    """Keep only a hash of the address, so it is never added back by accident."""
    db.execute(
        "INSERT OR IGNORE INTO suppressions (email_hash, created_at, reason) VALUES (?, ?, ?)",
        (email_hash(normalized), utc_now_iso(now), reason),
    )


def counts(db: sqlite3.Connection) -> dict[str, int]:
    out = {"active": 0, "unsubscribed": 0, "bounced": 0}
    for status, n in db.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status"):
        out[status] = n
    return out


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0
    suppressed: int = 0
    invalid: list[tuple[int, str]] | None = None

    def __post_init__(self) -> None:
        self.invalid = self.invalid or []


def _csv_lines(text: str) -> Iterator[tuple[int, list[str] | str]]:
    """(line number, cells) for each line, or (line number, what is wrong with it).

    Each line is read on its own: a name or an address never spans lines, so a quote that is
    not closed on its line is that row's error, and never swallows the rows after it."""
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), 1):
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            problem = (
                _("a quoted field is not closed on this line (is a '\"' missing?)")
                if "unexpected end of data" in str(exc)
                else _("not valid CSV: {exc}").format(exc=exc)
            )
            yield number, problem
            continue
        yield number, cells


def import_csv(
    db: sqlite3.Connection,
    path: Path,
    now: dt.datetime,
    set_lists: Callable[[int, str], None] | None = None,
) -> ImportReport:
    """Read ``email,name[,lists]`` rows. Invalid rows are reported with their line number and
    never stop the import; the valid rows go in in one transaction. ``set_lists`` records a
    new subscriber's ``lists`` cell (space-separated keys), raising UsageError for a bad one."""
    report = ImportReport()
    assert report.invalid is not None
    raw = read_given(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(
            _("{path}:{line}: not UTF-8; save the file as UTF-8 (CSV)").format(path=path, line=line)
        ) from None
    rows = _csv_lines(text)
    first = next(rows, None)
    if first is None or isinstance(first[1], str):
        raise UsageError(
            _("{path}: empty or not CSV; expected a header line 'email,name'").format(path=path)
        )
    header = first[1]
    columns = [h.strip().lower() for h in header]
    if "email" not in columns:
        raise UsageError(
            _(
                "{path}:1: expected a header with an 'email' column (and 'name'), got {header}"
            ).format(path=path, header=header)
        )
    email_col = columns.index("email")
    name_col = columns.index("name") if "name" in columns else None
    lists_col = columns.index("lists") if "lists" in columns and set_lists else None
    source = f"import:{path.name}"
    with transaction(db):
        for line, row in rows:
            if isinstance(row, str):  # the line could not be read as CSV
                report.invalid.append((line, row))
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= email_col:
                report.invalid.append((line, _("missing email column")))
                continue
            name = from_cell(row[name_col]) if name_col is not None and len(row) > name_col else ""
            chosen = (
                row[lists_col].strip() if lists_col is not None and len(row) > lists_col else ""
            )
            try:
                db.execute("SAVEPOINT row")
                outcome, added = add(db, from_cell(row[email_col]), name, now, source)
                if chosen and outcome == "added" and added is not None and set_lists is not None:
                    set_lists(added.id, chosen)
                db.execute("RELEASE row")
            except (InvalidAddress, InvalidName, UsageError) as exc:
                db.execute("ROLLBACK TO row")
                db.execute("RELEASE row")
                report.invalid.append((line, str(exc)))
                continue
            if outcome == "added":
                report.added += 1
            elif outcome == "suppressed":
                report.suppressed += 1
            else:
                report.existing += 1
    return report


# A cell a spreadsheet would run as a formula (OWASP's CSV injection): a name from the public
# form like '=HYPERLINK("https://...")'. Exported with a ' in front, read back without it.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def as_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def from_cell(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA) else value


def export_csv(db: sqlite3.Connection, lists_of: Callable[[int], list[str]]) -> bytes:
    """Every subscriber as CSV; ``lists`` is the space-separated keys of their letters. No
    cell starts a formula (``as_cell``)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "status", "consent_at", "consent_source", "lists"])
    for s in listing(db):
        keys = " ".join(lists_of(s.id))
        cells = [s.email, s.name, s.status, s.consent_at, s.consent_source, keys]
        writer.writerow([as_cell(cell or "") for cell in cells])
    return out.getvalue().encode("utf-8")
