"""The scheduled job's fast way out: when no source has changed, nothing in the state database
that the job acts on has changed, and no due time has passed since the last full run, a run
has nothing to decide and stops at once, before reading a single post.

The last full run records three things: a snapshot of every source (path, size, mtime and
inode of each post, tip, template, static file and the config, and blogtool's own code), a
digest of the database rows the job acts on (issues, queued mail, approvals), and the moment
the next thing falls due. A run is full again when any of them says so, and at least hourly,
so nothing the snapshot cannot see waits long.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3

from blogtool.config import Config
from blogtool.site.incremental.snapshot import snapshot
from blogtool.store import get_state, set_state, transaction

__all__ = ["forget", "nothing_to_do", "remember", "snapshot"]

KEY = "run.quiet"
AT_MOST = dt.timedelta(hours=1)


def output_state(config: Config) -> str:
    """Which release the output serves and whether a preview went there: what a manual build
    or a rollback changes. Taken after a run, since the run's own build changes it."""
    try:
        release = os.readlink(config.output_dir)
    except OSError:
        release = "no output"
    builds = config.state_dir / "builds"
    marks = sorted(p.name for p in builds.glob("*.preview")) if builds.is_dir() else []
    return hashlib.sha256(f"{release}\0{marks}".encode()).hexdigest()


def activity(db: sqlite3.Connection) -> str:
    """The rows the job acts on: issues and their state, queued one-off mail, approvals."""
    rows = [
        db.execute(
            "SELECT COUNT(*), MAX(id), COUNT(completed_at), COUNT(frozen_at) FROM issues"
        ).fetchone(),
        db.execute("SELECT COUNT(*) FROM outgoing WHERE status = 'queued'").fetchone(),
        db.execute(
            "SELECT COUNT(*), MAX(updated_at) FROM state WHERE key LIKE 'approved.%'"
        ).fetchone(),
    ]
    return hashlib.sha256(json.dumps([list(r) for r in rows]).encode()).hexdigest()


def nothing_to_do(
    config: Config, db: sqlite3.Connection, now: dt.datetime, seen: str
) -> str | None:
    """When the last full run recorded this very state and its next due time has not come:
    that time, as text; else None."""
    recorded = get_state(db, KEY)
    if not recorded:
        return None
    try:
        last = json.loads(recorded)
        until = dt.datetime.fromisoformat(last["until"])
        since = dt.datetime.fromisoformat(last["at"])
    except (ValueError, KeyError, TypeError):
        return None
    if now < since:  # the clock went back (a rehearsal with BLOGTOOL_NOW): look again
        return None
    if (
        last.get("snapshot") != seen
        or last.get("output") != output_state(config)
        or last.get("activity") != activity(db)
        or now >= until
    ):
        return None
    return until.astimezone(config.site.timezone).isoformat(timespec="minutes")


def remember(
    config: Config,
    db: sqlite3.Connection,
    seen: str,
    now: dt.datetime,
    next_due: dt.datetime | None,
) -> None:
    """After a full run that went well: what it saw, and until when nothing can change."""
    until = min(next_due, now + AT_MOST) if next_due is not None else now + AT_MOST
    value = {
        "snapshot": seen,
        "output": output_state(config),
        "activity": activity(db),
        "until": until.isoformat(),
        "at": now.isoformat(),
    }
    with transaction(db):
        set_state(db, KEY, json.dumps(value), now)


def forget(db: sqlite3.Connection, now: dt.datetime) -> None:
    with transaction(db):
        set_state(db, KEY, "", now)
