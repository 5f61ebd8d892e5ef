"""The site's state: one SQLite file (subscribers, newsletter issues, their queue, run state).

Schema changes are named migration functions, applied in order and recorded in a table, so an
old database is brought up to date the first time a newer blogtool opens it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from blogtool.errors import BlogtoolError, LockedError
from blogtool.files import private_dir
from blogtool.i18n import N_, _

if TYPE_CHECKING:  # imported where a database is opened: a build only takes a lock here
    import sqlite3


class StoreError(BlogtoolError):
    """The state database cannot be opened or is not a blogtool database."""


def script(db: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the caller's transaction (executescript would commit)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def create_state_table(db: sqlite3.Connection) -> None:
    """Migration 002: key/value state of the scheduled job (last build, last run, ...)."""
    script(
        db,
        """
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    )


# Each table's SQL lives in the one module that owns the table; a migration names them in order.
# Names are recorded in schema_migrations, so they never change once released.
MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    (
        "001_initial",
        (
            "blogtool.subscribers.people:create_tables",
            "blogtool.newsletter.issues:create_tables",
            "blogtool.delivery.queue:create_tables",
        ),
    ),
    ("002_run_state", ("blogtool.store:create_state_table",)),
    ("003_reader_service", ("blogtool.subscribers.signups:create_tables",)),
    ("004_issue_lists", ("blogtool.newsletter.issues:add_list_column",)),
    (
        "005_bounces",
        ("blogtool.bounces.reports:create_tables", "blogtool.delivery.queue:add_bounce_column"),
    ),
    ("006_bounce_reasons", ("blogtool.bounces.reports:add_reason_column",)),
    ("007_studio_log", ("blogtool.studio.history:create_tables",)),
]


def steps(migration: str) -> list[Callable[[sqlite3.Connection], None]]:
    """The functions a named migration runs, in order."""
    import importlib

    refs = dict(MIGRATIONS)[migration]
    found = []
    for ref in refs:
        module, _sep, name = ref.partition(":")
        found.append(getattr(importlib.import_module(module), name))
    return found


def utc_now_iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the state database. A new database is made
    0600 in a folder made 0700 (SQLite gives its WAL and SHM files the database's mode)."""
    import sqlite3

    private_dir(path.parent)
    try:
        _create_private(path)
    except OSError as exc:
        raise StoreError(
            _("{path}: cannot open the state database: {strerror}").format(
                path=path, strerror=exc.strerror
            )
        ) from None
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        # WAL: readers never block the sender; NORMAL: a commit survives a crash or kill -9
        # of this process (it is in the WAL), without an fsync per delivery.
        _journal_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        # A forgotten subscriber must not linger in free pages of the file.
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA busy_timeout=30000")
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            _("{path}: cannot open the state database: {exc}").format(path=path, exc=exc)
        ) from None
    return db


_CREATING = threading.Lock()


def _create_private(path: Path) -> None:
    """Make the database file 0600 before SQLite first opens it; an existing one is only
    checked, never opened here. (Closing any descriptor of a file drops every POSIX lock this
    process holds on it, SQLite's included: a descriptor opened and closed beside another
    thread's connection let that connection's commit be lost.)"""
    with _CREATING:
        if path.exists():
            if not os.access(path, os.R_OK | os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return
        with contextlib.suppress(FileExistsError):  # (another process made it meanwhile)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))


def _journal_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. The switch takes a lock for which SQLite does not wait by itself, so two
    processes opening a new database at once retry it briefly."""
    import sqlite3
    import time

    for attempt in range(100):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.01)


def loose_permissions(path: Path) -> list[str]:
    """The database's folder and files that others than their owner may read or write."""
    found = []
    for item in (path.parent, path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = item.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            want = "700" if item.is_dir() else "600"
            found.append(
                _(
                    "{path} holds personal data but others may read it (mode {mode:o}); "
                    "run: chmod {want} {path}"
                ).format(path=item, mode=mode, want=want)
            )
    return found


@contextlib.contextmanager
def opened(path: Path) -> Iterator[sqlite3.Connection]:
    """``connect``, closed again on the way out."""
    db = connect(path)
    try:
        yield db
    finally:
        db.close()


def migrate(db: sqlite3.Connection) -> list[str]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, _step in MIGRATIONS:
        if name in done:
            continue
        with transaction(db):
            # Another process (a web worker, a run) may have applied it since we looked.
            again = "SELECT 1 FROM schema_migrations WHERE name = ?"
            if db.execute(again, (name,)).fetchone() is not None:
                continue
            for step in steps(name):
                step(db)
            db.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (name, utc_now_iso(dt.datetime.now(dt.UTC))),
            )
        applied.append(name)
    return applied


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.in_transaction:  # (SQLite may have rolled back already: the first error shows)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def get_state(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_state(db: sqlite3.Connection, key: str, value: str, now: dt.datetime) -> None:
    db.execute(
        "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, utc_now_iso(now)),
    )


@contextlib.contextmanager
def exclusive_lock(path: Path, what: str) -> Iterator[None]:
    """An advisory lock on ``path``: a second holder fails at once with LockedError.

    The kernel drops the lock when the process dies, so a crash never leaves a stale lock.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
            raise LockedError(
                _(
                    "{what} is already running (pid {holder}); try again when it has finished"
                ).format(what=what, holder=holder)
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def waiting_lock(path: Path) -> Iterator[None]:
    """An advisory lock on ``path`` that waits for its holder (who holds it briefly, or is
    background work that may wait its turn). Dropped by the kernel if the process dies."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# The site's locks: a build of the public site, and a newsletter send (which also covers making
# a new issue, so two processes never make and send the same one).
SITE_LOCKS = {"build": N_("a build of this site"), "send": N_("a newsletter send for this site")}


def site_lock(state_dir: Path, name: str) -> contextlib.AbstractContextManager[None]:
    return exclusive_lock(state_dir / f"{name}.lock", _(SITE_LOCKS[name]))
