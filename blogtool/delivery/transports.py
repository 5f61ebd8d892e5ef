"""Where messages go: SMTP (yagmail opens and authenticates the connection; our messages go
over it one transaction each), or an outbox folder of .eml files when no server is configured.

``choose`` is the one place that decides which, and ``smtp_password`` the one place that knows
where the password comes from.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from blogtool.config import Config, SmtpConfig
from blogtool.delivery import smtpwire
from blogtool.delivery.smtpwire import (
    ConnectionFailure,
    Envelope,
    PermanentFailure,
    SendAborted,
    TemporaryFailure,
    UncertainDelivery,
)
from blogtool.errors import UsageError
from blogtool.files import loopback, private_dir, write_unique
from blogtool.i18n import _

__all__ = [
    "ConnectionFailure",
    "Envelope",
    "OutboxTransport",
    "PermanentFailure",
    "SendAborted",
    "SmtpTransport",
    "TemporaryFailure",
    "Transport",
    "UncertainDelivery",
]

KEYRING_SERVICE = "blogtool"


class Transport(Protocol):
    """Where messages go. A message is ``begin`` (the envelope) then ``finish`` (the content);
    ``finish`` may carry the next message's envelope too (``chains``). ``send`` does both."""

    description: str

    def open(self) -> None: ...

    def begin(self, envelope: Envelope) -> None: ...

    def finish(
        self, data: bytes, envelope: Envelope, name: str, following: Envelope | None = None
    ) -> tuple[Exception | None, Exception | None]: ...

    def chains(self) -> bool: ...

    def send(self, sender: str, recipient: str, data: bytes, name: str) -> None: ...

    def close(self) -> None: ...

    def twin(self) -> Transport:
        """Another transport like this one, for one more connection at once."""
        ...


def send_one(transport: Transport, sender: str, recipient: str, data: bytes, name: str) -> None:
    """One message, start to end; raises what became of it."""
    envelope = Envelope(sender, recipient, len(data))
    transport.begin(envelope)
    error, _reply = transport.finish(data, envelope, name)
    if error is not None:
        raise error


class OutboxTransport:
    """No SMTP server configured: one .eml file per delivery, written atomically."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.description = _("the outbox folder {path}").format(path=directory)

    def open(self) -> None:
        private_dir(self.directory).chmod(0o700)  # messages hold addresses and personal links

    def begin(self, envelope: Envelope) -> None:
        pass

    def finish(
        self, data: bytes, envelope: Envelope, name: str, following: Envelope | None = None
    ) -> tuple[Exception | None, Exception | None]:
        # Never over an earlier message: a reader's confirmation and her later "my data"
        # mail may carry the same queue number (a row erased, its number used again).
        write_unique(self.directory, name, ".eml", data)
        return None, None

    def chains(self) -> bool:
        return False

    def send(self, sender: str, recipient: str, data: bytes, name: str) -> None:
        send_one(self, sender, recipient, data, name)

    def close(self) -> None:
        pass

    def twin(self) -> OutboxTransport:
        return OutboxTransport(self.directory)


class SmtpTransport:
    """yagmail opens and authenticates the connection (TLS verified, timeouts set); our own
    messages go over that one connection, which is reopened if the server closes it."""

    def __init__(self, config: SmtpConfig, password: str | None):
        self.config = config
        self.password = password
        self.client: object | None = None
        self.description = f"{config.host}:{config.port} ({config.security})"

    def open(self) -> None:
        import yagmail

        self.close()
        c = self.config
        if c.user is not None and c.security == "none" and not loopback(c.host):
            raise SendAborted(
                _(
                    '[smtp] security = "none" would send the password for {user} to {host} '
                    'unencrypted; set security to "starttls" or "ssl"'
                ).format(user=c.user, host=c.host)
            )
        context = ssl.create_default_context()  # verifies the certificate and the host name
        kwargs: dict[str, object] = {"timeout": c.timeout}
        if c.security == "ssl":
            kwargs["context"] = context
        client = yagmail.SMTP(
            # As {address: alias}: yagmail adds "@gmail.com" to a plain name without "@", and
            # the relay must see the name configured.
            user={c.user: c.user} if c.user is not None else None,
            password=self.password,
            host=c.host,
            port=c.port,
            smtp_ssl=c.security == "ssl",
            smtp_starttls={"context": context} if c.security == "starttls" else False,
            smtp_skip_login=c.user is None,
            soft_email_validation=False,
            **kwargs,
        )
        try:
            client.login()
        except smtplib.SMTPAuthenticationError as exc:
            raise SendAborted(
                _(
                    "SMTP login as {user} at {server} was refused ({code}); check the user "
                    "and BLOGTOOL_SMTP_PASSWORD or the keyring"
                ).format(user=c.user, server=self.description, code=exc.smtp_code)
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendAborted(
                _("the certificate of {server} could not be verified: {reason}").format(
                    server=self.description, reason=exc.verify_message
                )
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendAborted(f"{self.description}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailure(
                _("cannot connect to {server}: {exc}").format(server=self.description, exc=exc)
            ) from None
        self.client = client

    def _smtp(self) -> smtplib.SMTP:
        if self.client is None:
            raise ConnectionFailure("not connected")
        smtp: smtplib.SMTP = self.client.smtp  # type: ignore[attr-defined]
        return smtp

    def begin(self, envelope: Envelope) -> None:
        """MAIL, RCPT and DATA (pipelined when the server offers it)."""
        try:
            smtpwire.begin(self._smtp(), envelope, self.config.pipelining)
        except (ConnectionFailure, UncertainDelivery):
            self.client = None
            raise

    def finish(
        self, data: bytes, envelope: Envelope, name: str, following: Envelope | None = None
    ) -> tuple[Exception | None, Exception | None]:
        """The content, and the next envelope in the same write (see ``smtpwire.finish``)."""
        result = smtpwire.finish(self._smtp(), data, envelope, following)
        if any(isinstance(e, ConnectionFailure | UncertainDelivery) for e in result):
            self.client = None
        return result

    def chains(self) -> bool:
        """Whether a message's content may carry the next envelope: PIPELINING is on and
        offered."""
        return (
            self.client is not None
            and self.config.pipelining
            and smtpwire.can_pipeline(self._smtp())
        )

    def send(self, sender: str, recipient: str, data: bytes, name: str) -> None:
        send_one(self, sender, recipient, data, name)

    def twin(self) -> SmtpTransport:
        return SmtpTransport(self.config, self.password)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a dead connection needs no goodbye
                client.smtp.quit()  # type: ignore[attr-defined]


# --- choosing ------------------------------------------------------------------------------------


def choose(config: Config, password: Callable[[SmtpConfig], str | None]) -> Transport:
    """The transport the config asks for. ``password`` is asked only for an SMTP login."""
    if config.smtp is None:
        return OutboxTransport(config.outbox_dir)
    return SmtpTransport(config.smtp, password(config.smtp) if config.smtp.user else None)


def describe(config: Config) -> str:
    """Where a send would go, without asking for a password (a dry run must not prompt)."""
    return choose(config, lambda smtp: None).description


def from_keyring(service: str, account: str) -> str | None:
    """A password the system keyring holds, or None (none stored, or no keyring here)."""
    try:
        import keyring

        stored = keyring.get_password(service, account)
    except Exception:  # no keyring backend on this machine
        return None
    return str(stored) if stored else None


def smtp_password(
    smtp: SmtpConfig, from_env: str | None, prompt: Callable[[str], str | None]
) -> str | None:
    """The SMTP password: the environment first, then the system keyring, then a prompt when a
    person is at the terminal. Never from the config file."""
    if smtp.user is None:
        return None  # a local relay: no login
    if from_env:
        return from_env
    account = f"{smtp.user}@{smtp.host}"
    stored = from_keyring(KEYRING_SERVICE, account)
    if stored:
        return stored
    answer = prompt(f"SMTP password for {account}")  # None when nobody is at a terminal
    if answer:
        return answer
    raise UsageError(
        _(
            "no SMTP password for {account}: set BLOGTOOL_SMTP_PASSWORD, or store "
            "it with 'keyring set {KEYRING_SERVICE} {account}'"
        ).format(account=account, KEYRING_SERVICE=KEYRING_SERVICE)
    )
