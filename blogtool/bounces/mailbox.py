"""Where bounces land: an IMAP mailbox (imap-tools), a file, an mbox, a Maildir or standard input
(a Postfix ``pipe`` transport or a ``.forward``). Each message is read and recorded once; from
IMAP it is then moved to ``[bounces] processed_folder``."""

from __future__ import annotations

import contextlib
import mailbox
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from blogtool.config import Config
from blogtool.delivery.transports import from_keyring
from blogtool.errors import BlogtoolError, UsageError
from blogtool.files import loopback, read_given
from blogtool.i18n import _

KEYRING_SERVICE = "blogtool-imap"
FETCH_LIMIT = 500  # messages per run; the rest wait for the next


class MailboxError(BlogtoolError):
    """The bounce mailbox cannot be reached or logged in to."""


def imap_password(config: Config, from_env: str | None) -> str:
    """From BLOGTOOL_IMAP_PASSWORD, else the system keyring; never from the config file."""
    b = config.bounces
    if from_env:
        return from_env
    account = f"{b.user}@{b.imap_host}"
    stored = from_keyring(KEYRING_SERVICE, account)
    if stored:
        return stored
    raise UsageError(
        _(
            "no IMAP password for {account}: set BLOGTOOL_IMAP_PASSWORD, or store "
            "it with 'keyring set {KEYRING_SERVICE} {account}'"
        ).format(account=account, KEYRING_SERVICE=KEYRING_SERVICE)
    )


def fetch(config: Config, password: str, handle: Callable[[bytes], str]) -> Counter[str]:
    """Read every message in ``[bounces] folder``, hand each to ``handle`` (which records it
    and returns its kind) and move it to the processed folder. Raises MailboxError, one line,
    when the server cannot be reached or the login fails."""
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    b = config.bounces
    if not b.imap_host or not b.user:
        raise UsageError(_("[bounces] imap_host and user are not set in blogtool.toml"))
    kind = {"ssl": MailBox, "starttls": MailBoxStartTls, "none": MailBoxUnencrypted}[b.security]
    where = f"{b.imap_host}:{b.port} as {b.user}"
    if b.security == "none" and not loopback(b.imap_host):
        raise MailboxError(
            _(
                '[bounces] security = "none" would send the password for {user} to {host} '
                'unencrypted; set security to "starttls" or "ssl"'
            ).format(user=b.user, host=b.imap_host)
        )
    try:
        box = kind(b.imap_host, b.port, timeout=30)
    except Exception as exc:  # socket, TLS and protocol errors alike
        raise MailboxError(
            _("cannot reach the bounce mailbox {imap_host}:{port}: {exc}").format(
                imap_host=b.imap_host, port=b.port, exc=exc
            )
        ) from None
    try:
        box.login(b.user, password, initial_folder=b.folder)
    except Exception as exc:
        raise MailboxError(
            _("cannot log in to the bounce mailbox {where}: {exc}").format(where=where, exc=exc)
        ) from None
    counts: Counter[str] = Counter()
    try:
        if not box.folder.exists(b.processed_folder):
            box.folder.create(b.processed_folder)
        done = []
        for message in box.fetch(mark_seen=False, bulk=True, limit=FETCH_LIMIT):
            counts[handle(message.obj.as_bytes())] += 1
            done.append(message.uid)
        if done:
            box.move(done, b.processed_folder)
    except Exception as exc:
        raise MailboxError(
            _("the bounce mailbox {where} failed: {exc}").format(where=where, exc=exc)
        ) from None
    finally:
        with contextlib.suppress(Exception):
            box.logout()
    return counts


def messages_in(source: Path | None, stdin: bytes | None = None) -> Iterator[bytes]:
    """The messages of a file (one message, or an mbox), a Maildir, or standard input."""
    if source is None:
        yield stdin or b""
        return
    if source.is_dir():
        if not (source / "cur").is_dir() and not (source / "new").is_dir():
            raise UsageError(
                _("{source}: a directory that is not a Maildir (no cur/ or new/)").format(
                    source=source
                )
            )
        maildir = mailbox.Maildir(source, create=False)
        for key in maildir.iterkeys():
            yield maildir.get_bytes(key)
        return
    data = read_given(source)
    if data.startswith(b"From "):
        for message in mailbox.mbox(source, create=False):
            yield message.as_bytes()
        return
    yield data
