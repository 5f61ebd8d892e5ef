"""Where messages go: SMTP (yagmail opens and authenticates the connection; our messages go
over it one transaction each), or an outbox folder of .eml files when no server is configured.

``choose`` is the one place that decides which, and ``smtp_password`` the one place that knows
where the password comes from.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from blogtool.config import Config, SmtpConfig
from blogtool.errors import BlogtoolError, UsageError
from blogtool.files import write_atomic

KEYRING_SERVICE = "blogtool"


class TemporaryFailure(Exception):
    """4xx: try this recipient again later."""


class PermanentFailure(Exception):
    """5xx: this recipient cannot be delivered to."""


class ConnectionFailure(Exception):
    """The server cannot be reached or dropped the connection; nothing is wrong with the
    recipient."""


class UncertainDelivery(Exception):
    """The whole message went out, then the connection dropped before the server's reply: it
    may or may not have been delivered, so it must not be sent again on its own."""


class SendAborted(BlogtoolError):
    """The run stopped early; everything not sent is still queued for the next run."""


class Transport(Protocol):
    description: str

    def open(self) -> None: ...

    def send(
        self, sender: str, recipient: str, data: bytes, name: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> None: ...  # fmt: skip

    def close(self) -> None: ...


class OutboxTransport:
    """No SMTP server configured: one .eml file per delivery, written atomically."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.description = f"the outbox folder {directory}"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(
        self, sender: str, recipient: str, data: bytes, name: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        write_atomic(self.directory / f"{name}.eml", data, durable=False)
        if while_waiting is not None:
            while_waiting()

    def close(self) -> None:
        pass


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
        context = ssl.create_default_context()  # verifies the certificate and the host name
        kwargs: dict[str, object] = {"timeout": c.timeout}
        if c.security == "ssl":
            kwargs["context"] = context
        client = yagmail.SMTP(
            user=c.user,
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
                f"SMTP login as {c.user} at {self.description} was refused "
                f"({exc.smtp_code}); check the user and BLOGTOOL_SMTP_PASSWORD or the keyring"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendAborted(
                f"the certificate of {self.description} could not be verified: {exc.verify_message}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendAborted(f"{self.description}: {exc}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailure(f"cannot connect to {self.description}: {exc}") from None
        self.client = client

    def send(
        self, sender: str, recipient: str, data: bytes, name: str,
        while_waiting: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        """One message in one SMTP transaction. ``while_waiting`` runs after the message has
        gone out and before the server's reply is read: the next message is prepared while the
        server works on this one."""
        if self.client is None:
            raise ConnectionFailure("not connected")
        smtp = self.client.smtp  # type: ignore[attr-defined]
        try:
            _transaction(smtp, sender, recipient, data, while_waiting, self.config.pipelining)
        except UncertainDelivery:
            self.client = None
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = exc.recipients.get(recipient, (550, b"refused"))
            _raise_for(code, message)
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 421:
                self.client = None
                raise ConnectionFailure(f"421 {_text(exc.smtp_error)}") from None
            if 400 <= exc.smtp_code < 500:
                raise TemporaryFailure(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
            raise SendAborted(
                f"the server refused the sender {sender}: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as exc:  # DATA and other replies
            if exc.smtp_code == 421:
                self.client = None
                raise ConnectionFailure(f"421 {_text(exc.smtp_error)}") from None
            _raise_for(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:  # timeouts and resets too
            self.client = None
            raise ConnectionFailure(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a dead connection needs no goodbye
                client.smtp.quit()  # type: ignore[attr-defined]


def _transaction(
    smtp: smtplib.SMTP,
    sender: str,
    recipient: str,
    data: bytes,
    while_waiting: Callable[[], None] | None,
    pipelining: bool = True,
) -> None:
    """smtplib's sendmail() for one recipient, with a pause for other work between sending the
    message and reading the reply. The same commands, checks and errors as sendmail(). When the
    server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write and their replies
    are read after: one round trip where there were three."""
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    if pipelining and smtp.does_esmtp and smtp.has_extn("pipelining"):
        _envelope_pipelined(smtp, sender, recipient, options)
    else:
        _envelope(smtp, sender, recipient, options)
    payload = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing, as smtplib does
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    smtp.send(payload + b".\r\n")
    if while_waiting is not None:
        while_waiting()
    try:
        code, reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise UncertainDelivery(
            f"the connection dropped after the message was sent, before the server confirmed "
            f"it ({type(exc).__name__}: {exc})"
        ) from None
    if code != 250:
        _reset_or_close(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _envelope(smtp: smtplib.SMTP, sender: str, recipient: str, options: list[str]) -> None:
    """MAIL, RCPT and DATA one at a time, each waiting for its reply."""
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _reset_or_close(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        _reset_or_close(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _reset_or_close(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _envelope_pipelined(
    smtp: smtplib.SMTP, sender: str, recipient: str, options: list[str]
) -> None:
    """MAIL, RCPT and DATA in one write (RFC 2920), then their three replies in order. A server
    that refused the sender or the recipient but still said 354 to DATA gets an empty message
    ended at once, which it must not deliver, and the refusal is raised as without pipelining."""
    extra = "".join(f" {o}" for o in options)
    batch = (
        f"mail FROM:{smtplib.quoteaddr(sender)}{extra}\r\n"
        f"rcpt TO:{smtplib.quoteaddr(recipient)}\r\n"
        "data\r\n"
    )
    smtp.send(batch)
    mail_code, mail_reply = smtp.getreply()
    rcpt_code, rcpt_reply = smtp.getreply()
    data_code, data_reply = smtp.getreply()
    failed = mail_code != 250 or rcpt_code not in (250, 251) or data_code != 354
    if failed and data_code == 354:
        smtp.send(b".\r\n")  # nobody to deliver to: end the empty message
        data_code, data_reply = smtp.getreply()
    if mail_code != 250:
        _reset_or_close(smtp, mail_code)
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
    if rcpt_code not in (250, 251):
        _reset_or_close(smtp, rcpt_code)
        raise smtplib.SMTPRecipientsRefused({recipient: (rcpt_code, rcpt_reply)})
    if data_code != 354:
        _reset_or_close(smtp, data_code)
        raise smtplib.SMTPDataError(data_code, data_reply)


def _reset_or_close(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:  # the server is closing the connection
        smtp.close()
    else:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            smtp.rset()


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _raise_for(code: int, message: bytes | str) -> None:
    text = f"{code} {_text(message)}"
    if 400 <= code < 500:
        raise TemporaryFailure(text)
    raise PermanentFailure(text)


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
        f"no SMTP password for {account}: set BLOGTOOL_SMTP_PASSWORD, or store it with "
        f"'keyring set {KEYRING_SERVICE} {account}'"
    )
