"""Who did what in the studio: every save, schedule, approval and upload, with the person and
the time (the state database), and, with ``[studio] git_commit``, a git commit for each
change of a file, with the person as its author."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from blogtool.config import Config
from blogtool.store import script, transaction, utc_now_iso


def create_tables(db: sqlite3.Connection) -> None:
    """Migration 007: the studio's log."""
    script(
        db,
        """
        CREATE TABLE studio_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            person TEXT NOT NULL,
            action TEXT NOT NULL,
            path TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX studio_log_path ON studio_log (path, id);
        """,
    )


# What an entry says was done, as the history shows it (translated where it is shown).
ACTIONS = ("create", "save", "schedule", "unschedule", "publish", "upload", "approve", "test")


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    person: str
    action: str
    path: str
    detail: str


def record(
    db: sqlite3.Connection,
    person: str,
    action: str,
    path: str,
    now: dt.datetime,
    detail: str = "",
) -> None:
    assert action in ACTIONS, action
    with transaction(db):
        db.execute(
            "INSERT INTO studio_log (at, person, action, path, detail) VALUES (?, ?, ?, ?, ?)",
            (utc_now_iso(now), person, action, path, detail),
        )


def _entries(rows: list[sqlite3.Row]) -> list[Entry]:
    return [
        Entry(dt.datetime.fromisoformat(r["at"]), r["person"], r["action"], r["path"], r["detail"])
        for r in rows
    ]


def of_path(db: sqlite3.Connection, path: str, limit: int = 50) -> list[Entry]:
    """What was done to one file, newest first."""
    rows = db.execute(
        "SELECT * FROM studio_log WHERE path = ? ORDER BY id DESC LIMIT ?", (path, limit)
    ).fetchall()
    return _entries(rows)


def recent(db: sqlite3.Connection, limit: int = 10) -> list[Entry]:
    """The latest entries, newest first."""
    rows = db.execute("SELECT * FROM studio_log ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return _entries(rows)


def in_git(root: Path) -> bool:
    """Whether ``root`` is in a git work tree (and git is there to ask)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def author(person: str) -> str:
    """A person as git's --author names them."""
    email = person if "@" in person else ""
    name = person.split("@", 1)[0] if email else person
    return f"{name} <{email}>"


def commit(config: Config, paths: list[Path], person: str, message: str) -> str | None:
    """Commit ``paths`` (and only them) with ``person`` as the author; None when done, else
    git's own words on why not (the change itself is saved either way)."""
    root = config.root
    rel = [str(p.relative_to(root) if p.is_absolute() else p) for p in paths]
    base = [
        "git",
        "-C",
        str(root),
        "-c",
        "user.name=blogtool studio",
        "-c",
        "user.email=studio@localhost",
    ]
    try:
        subprocess.run([*base, "add", "--", *rel], capture_output=True, check=True, timeout=60)
        done = subprocess.run(
            [*base, "commit", "--quiet", f"--author={author(person)}", "-m", message, "--", *rel],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.CalledProcessError as exc:
        return (exc.stderr or b"").decode("utf-8", "replace").strip() or str(exc)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip()
    return None
