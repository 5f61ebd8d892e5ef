"""Sending an issue for real: under the site's send lock, with Ctrl-C or SIGTERM finishing the
current message before stopping, so an interrupted send leaves a clean queue to resume.

``newsletter send`` and ``run`` both send through here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import signal
import sqlite3
from collections.abc import Callable, Iterable
from email.utils import parseaddr
from types import FrameType

from blogtool.config import Config
from blogtool.delivery.pacing import Pacing, SendReport
from blogtool.delivery.sending import send_issue
from blogtool.delivery.transports import (
    ConnectionFailure,
    PermanentFailure,
    SendAborted,
    TemporaryFailure,
    Transport,
    UncertainDelivery,
)
from blogtool.i18n import _
from blogtool.newsletter.compose import MessageFactory, Recipient, envelope_sender
from blogtool.newsletter.issues import Issue
from blogtool.newsletter.proofing import (
    PROOF_PREFIX,
    Coming,
    as_proof,
    checked_links,
    proof_banner,
)
from blogtool.store import site_lock


@dataclasses.dataclass(frozen=True)
class SendOptions:
    rate: int | None = None  # messages a minute; None: [newsletter] rate
    resend_uncertain: bool = False
    accept_uncertain: bool = False


def send_locked(
    config: Config,
    db: sqlite3.Connection,
    issue: Issue,
    secret: bytes,
    transport: Transport,
    pacing: Pacing,
    options: SendOptions = SendOptions(),
    *,
    progress: Callable[[SendReport], None] | None = None,
    on_interrupt: Callable[[], None] | None = None,
    lock: bool = True,
) -> SendReport:
    """Send ``issue`` through the durable queue. The first SIGINT or SIGTERM finishes the
    current message and stops cleanly (``on_interrupt`` may say so); a second stops at once.
    Raises LockedError if another send of this site is running. ``lock=False``: the caller
    already holds the send lock."""
    stop = {"requested": False}

    def graceful(signum: int, frame: FrameType | None) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        if on_interrupt is not None:
            on_interrupt()

    pacing = dataclasses.replace(pacing, should_stop=lambda: stop["requested"])
    previous = {s: signal.signal(s, graceful) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with site_lock(config.state_dir, "send") if lock else contextlib.nullcontext():
            smtp = config.smtp
            return send_issue(
                db,
                issue,
                MessageFactory(config, issue, secret),
                transport,
                envelope_sender(config),
                pacing,
                rate=config.newsletter.rate if options.rate is None else options.rate,
                max_attempts=smtp.max_attempts if smtp else 1,
                retry_delay=smtp.retry_delay if smtp else 0.0,
                connections=smtp.connections if smtp else 1,
                resend_uncertain=options.resend_uncertain,
                accept_uncertain=options.accept_uncertain,
                progress=progress,
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def send_proof(
    db: sqlite3.Connection,
    config: Config,
    coming: Coming,
    secret: bytes,
    transport: Transport,
    addresses: Iterable[str],
    now: dt.datetime,
    prefix: str = PROOF_PREFIX,
) -> None:
    """The coming issue to each of ``addresses``, their own copy, marked as a proof: when it
    goes, to how many, what lets it go, and which of its links were found broken."""
    from blogtool.delivery.queue import recipients
    from blogtool.subscribers.lists import on_list_sql

    issue = coming.as_issue()
    reach = len(recipients(db, issue, on_list_sql(config, issue.list_key)))
    links = checked_links(db, coming)
    broken = links[2] if links is not None else []
    banner = proof_banner(config, coming, reach, config.newsletter.approval, broken)
    factory = MessageFactory(config, as_proof(issue, banner), secret, prefix=prefix)
    for address in addresses:
        send_test(factory, transport, envelope_sender(config), parseaddr(address)[1], now)


def send_test(
    factory: MessageFactory, transport: Transport, sender: str, address: str, now: dt.datetime
) -> str:
    """One copy of the issue to ``address`` (not a subscriber; nothing is recorded)."""
    recipient = Recipient(0, 0, address)
    message_id = factory.message_id(recipient)
    try:
        transport.open()  # (an unreachable server is the same one line as a refusal)
        transport.send(
            sender, address, factory.render(recipient, message_id, now), f"test-{os.getpid()}"
        )
    except (TemporaryFailure, PermanentFailure, ConnectionFailure, UncertainDelivery) as exc:
        raise SendAborted(
            _("the test message to {address} was not accepted: {exc}").format(
                address=address, exc=exc
            )
        ) from None
    finally:
        transport.close()
    return message_id
