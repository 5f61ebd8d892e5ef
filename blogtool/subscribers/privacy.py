"""A person's rights under GDPR: see everything stored about them, and be forgotten.

Erasing removes the subscriber and their address from past deliveries; only a hash stays, in
the suppression list, so a later import cannot add them back by accident.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from blogtool.bounces import reports as bounces
from blogtool.delivery import queue
from blogtool.store import transaction
from blogtool.subscribers import lists, signups
from blogtool.subscribers import people as subscribers
from blogtool.subscribers.people import Subscriber


def stored_about(db: sqlite3.Connection, address: str) -> tuple[Subscriber, list[sqlite3.Row]]:
    """The subscriber's record and every delivery to them."""
    subscriber = subscribers.require(db, address)
    return subscriber, queue.of_subscriber(db, subscriber.id)


def forget(db: sqlite3.Connection, address: str, now: dt.datetime) -> int:
    """Erase a person. Returns how many past deliveries lost their address."""
    normalized = subscribers.normalize(address)
    subscriber = subscribers.get(db, normalized)
    with transaction(db):
        subscribers.suppress(db, normalized, now, "forgotten on request")
        erased = 0
        bounces.erase(db, subscriber.id if subscriber else None, normalized)
        if subscriber is not None:
            erased = queue.erase_subscriber(db, subscriber.id)
            lists.forget_lists(db, subscriber.id)
            subscribers.delete(db, subscriber.id)
        signups.erase(db, subscribers.email_key(normalized))
    return erased
