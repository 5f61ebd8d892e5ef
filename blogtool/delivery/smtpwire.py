"""The SMTP conversation for one message over smtplib's connection, in two steps.

``begin`` gives the envelope: MAIL, RCPT and DATA, in one write when the server offers
PIPELINING (RFC 2920), and reads their replies. ``finish`` sends the content and reads the
server's verdict. With PIPELINING, ``finish`` may also carry the *next* message's envelope in the
same write ("the actual transfer of message content is explicitly allowed to be the first
command in a group", RFC 2920 section 3.1): a message then costs one round trip. The next
message's content only leaves after its own ``finish``, so the caller can record it as being
sent first.

Errors come back as the exceptions of ``transports.py``; ``finish`` returns them as values,
because one write answers for two messages.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from dataclasses import dataclass

from blogtool.errors import BlogtoolError
from blogtool.i18n import _


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


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    size: int


def begin(smtp: smtplib.SMTP, envelope: Envelope, pipelining: bool) -> None:
    """MAIL, RCPT and DATA; on return the server waits for the content (354)."""
    try:
        smtp.ehlo_or_helo_if_needed()
        if pipelining and can_pipeline(smtp):
            smtp.send(_batch(smtp, envelope))
            _replies(smtp, envelope)
        else:
            _one_by_one(smtp, envelope)
    except Exception as exc:
        raise translate(exc, envelope) from None


def can_pipeline(smtp: smtplib.SMTP) -> bool:
    return bool(smtp.does_esmtp and smtp.has_extn("pipelining"))


def finish(
    smtp: smtplib.SMTP, data: bytes, envelope: Envelope, following: Envelope | None = None
) -> tuple[Exception | None, Exception | None]:
    """The content of the begun message, then (in the same write) the envelope of
    ``following``. Returns (what became of this message, what became of the following
    envelope); None means accepted (250 for this one, 354 for the following one)."""
    payload = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing, as smtplib does
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    gone = ConnectionFailure(_("the connection closed before the next message's envelope"))
    try:
        smtp.send(payload + b".\r\n" + (_batch(smtp, following) if following else b""))
    except Exception as exc:  # the content did not all leave: nothing was delivered
        return translate(exc, envelope), gone if following else None
    try:
        code, reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        uncertain = UncertainDelivery(
            _(
                "the connection dropped after the message was sent, before the server "
                "confirmed it ({kind}: {exc})"
            ).format(kind=type(exc).__name__, exc=exc)
        )
        return uncertain, gone if following else None
    this = None if code == 250 else translate(smtplib.SMTPDataError(code, reply), envelope)
    if code == 421:
        smtp.close()
        return this, gone if following else None
    if following is None:
        if code != 250:
            _reset(smtp)
        return this, None
    try:
        _replies(smtp, following)
    except Exception as exc:
        return this, translate(exc, following)
    return this, None


# --- the commands -------------------------------------------------------------------------------


def _options(smtp: smtplib.SMTP, envelope: Envelope) -> str:
    if smtp.does_esmtp and smtp.has_extn("size"):
        return f" size={envelope.size}"
    return ""


def _batch(smtp: smtplib.SMTP, envelope: Envelope) -> bytes:
    return (
        f"mail FROM:{smtplib.quoteaddr(envelope.sender)}{_options(smtp, envelope)}\r\n"
        f"rcpt TO:{smtplib.quoteaddr(envelope.recipient)}\r\n"
        "data\r\n"
    ).encode("ascii")


def _replies(smtp: smtplib.SMTP, envelope: Envelope) -> None:
    """The three replies to a pipelined envelope, in order. A server that refused the sender or
    the recipient but still said 354 to DATA gets an empty message ended at once, which it
    must not deliver, and the refusal is raised as without pipelining."""
    mail_code, mail_reply = smtp.getreply()
    rcpt_code, rcpt_reply = smtp.getreply()
    data_code, data_reply = smtp.getreply()
    failed = mail_code != 250 or rcpt_code not in (250, 251) or data_code != 354
    if failed and data_code == 354:
        smtp.send(b".\r\n")  # nobody to deliver to: end the empty message
        data_code, data_reply = smtp.getreply()
    _check_envelope(smtp, envelope, (mail_code, mail_reply), (rcpt_code, rcpt_reply))
    if data_code != 354:
        _close_or_reset(smtp, data_code)
        raise smtplib.SMTPDataError(data_code, data_reply)


def _one_by_one(smtp: smtplib.SMTP, envelope: Envelope) -> None:
    """MAIL, RCPT and DATA one at a time, each waiting for its reply."""
    options = [o.strip() for o in [_options(smtp, envelope)] if o]
    mail = smtp.mail(envelope.sender, options)
    rcpt = smtp.rcpt(envelope.recipient) if mail[0] == 250 else (0, b"")
    _check_envelope(smtp, envelope, mail, rcpt)
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _close_or_reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _check_envelope(
    smtp: smtplib.SMTP, envelope: Envelope, mail: tuple[int, bytes], rcpt: tuple[int, bytes]
) -> None:
    if mail[0] != 250:
        _close_or_reset(smtp, mail[0])
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], envelope.sender)
    if rcpt[0] not in (250, 251):
        _close_or_reset(smtp, rcpt[0])
        raise smtplib.SMTPRecipientsRefused({envelope.recipient: rcpt})


def _close_or_reset(smtp: smtplib.SMTP, code: int) -> None:
    if code == 421:  # the server is closing the connection
        smtp.close()
    else:
        _reset(smtp)


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected, OSError):
        smtp.rset()


# --- what an error means --------------------------------------------------------------------------


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _by_code(code: int, message: bytes | str) -> Exception:
    text = f"{code} {_text(message)}"
    if code == 421:  # the server is closing the connection: not the recipient's fault
        return ConnectionFailure(text)
    if 400 <= code < 500:
        return TemporaryFailure(text)
    return PermanentFailure(text)


def translate(exc: Exception, envelope: Envelope) -> Exception:
    """smtplib's exception as one of ours (ours pass through)."""
    ours = TemporaryFailure | PermanentFailure | ConnectionFailure | UncertainDelivery | SendAborted
    if isinstance(exc, ours):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, message = exc.recipients.get(envelope.recipient, (550, b"refused"))
        return _by_code(code, message)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        if exc.smtp_code == 421 or 400 <= exc.smtp_code < 500:
            return _by_code(exc.smtp_code, exc.smtp_error)
        return SendAborted(
            _("the server refused the sender {sender}: {code} {reply}").format(
                sender=envelope.sender, code=exc.smtp_code, reply=_text(exc.smtp_error)
            )
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # DATA and other replies
        return _by_code(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):  # timeouts and resets too
        return ConnectionFailure(f"{type(exc).__name__}: {exc}")
    return exc
