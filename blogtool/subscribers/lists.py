"""Which letters each subscriber gets.

A subscriber who never chose (everyone added before lists existed, and anyone added without
naming a list) is on the site's default list, the series' weekly issue, so a site that never
configured lists keeps working as before. Choosing (on the form, the preferences page or with
``--list``) records exactly the chosen lists.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable

from blogtool.config import Config
from blogtool.errors import UsageError, unknown
from blogtool.i18n import _
from blogtool.store import utc_now_iso


def default_list(config: Config) -> str:
    """The list of subscribers who never chose: the first that carries the tips."""
    for key, entry in config.lists.items():
        if entry.content == "tips":
            return key
    return next(iter(config.lists))


def check_lists(config: Config, keys: Iterable[str]) -> list[str]:
    """The keys, validated and in the config's order; raises UsageError naming a wrong one."""
    chosen = list(dict.fromkeys(k.strip() for k in keys if k.strip()))
    known = list(config.lists)
    for key in chosen:
        if key not in config.lists:
            raise UsageError(unknown(_("list {key!r}").format(key=key), key, known))
    return [k for k in known if k in chosen]


def lists_of(db: sqlite3.Connection, config: Config, subscriber_id: int) -> list[str]:
    row = db.execute("SELECT lists_chosen FROM subscribers WHERE id = ?", (subscriber_id,))
    found = row.fetchone()
    if found is None:
        return []
    if not found[0]:
        return [default_list(config)]
    keys = {
        r[0]
        for r in db.execute(
            "SELECT list FROM subscriptions WHERE subscriber_id = ?", (subscriber_id,)
        )
    }
    return [k for k in config.lists if k in keys] + sorted(keys - set(config.lists))


def set_lists(
    db: sqlite3.Connection, subscriber_id: int, keys: Iterable[str], now: dt.datetime
) -> None:
    """Exactly these lists from now on (call inside a transaction)."""
    stamp = utc_now_iso(now)
    db.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", (subscriber_id,))
    db.executemany(
        "INSERT INTO subscriptions (subscriber_id, list, created_at) VALUES (?, ?, ?)",
        [(subscriber_id, key, stamp) for key in keys],
    )
    db.execute(
        "UPDATE subscribers SET lists_chosen = 1, updated_at = ? WHERE id = ?",
        (stamp, subscriber_id),
    )


def on_list_sql(config: Config, key: str | None) -> tuple[str, tuple[str, ...]]:
    """A condition on ``subscribers`` (aliased ``s``) that holds for the list's members; no key:
    the default list's (the series' issues go to it)."""
    key = key or default_list(config)
    if key == default_list(config):
        return (
            "(s.lists_chosen = 0 OR EXISTS (SELECT 1 FROM subscriptions l "
            "WHERE l.subscriber_id = s.id AND l.list = ?))",
            (key,),
        )
    return (
        "EXISTS (SELECT 1 FROM subscriptions l WHERE l.subscriber_id = s.id AND l.list = ?)",
        (key,),
    )


def has_members(db: sqlite3.Connection, config: Config, key: str) -> bool:
    condition, args = on_list_sql(config, key)
    query = f"SELECT 1 FROM subscribers s WHERE s.status = 'active' AND {condition} LIMIT 1"
    return db.execute(query, args).fetchone() is not None


def forget_lists(db: sqlite3.Connection, subscriber_id: int) -> None:
    db.execute("DELETE FROM subscriptions WHERE subscriber_id = ?", (subscriber_id,))
