"""One message per recipient, composed with the standard library's email package.

The parts of an issue are the same for everyone but the unsubscribe link, so the factory does
the expensive work once per issue: the email package encodes the static headers (RFC 2047
subject, folded lines) and quoted-printable encodes the text and HTML around the placeholder.
Per recipient it encodes only what is theirs: ``To``, ``Message-ID``, ``Date``,
``List-Unsubscribe`` and their own link in both parts. The result is a complete RFC 5322
message; the tests parse every one back with the email parser.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from email import quoprimime
from email.charset import Charset
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from blogtool import i18n
from blogtool.config import Config
from blogtool.newsletter.issues import PREFERENCES_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER, Issue
from blogtool.subscribers.people import MAX_NAME, clean_name
from blogtool.subscribers.tokens import make_link_token, make_token, verp_token

CRLF = "\r\n"
_PLACEHOLDERS = re.compile(f"({UNSUBSCRIBE_PLACEHOLDER}|{PREFERENCES_PLACEHOLDER})")


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    name: str = ""

    @property
    def email_key(self) -> str:
        return self.email.lower()


def envelope_sender(config: Config) -> str:
    return parseaddr(config.newsletter.from_address)[1]


# RFC 5322 specials: a word of a display name with one of them must not stand plain.
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_UTF8 = Charset("utf-8")


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 encoded words for ``text``, each at most 75 characters. Whitespace between
    adjacent encoded words is ignored by decoders, so they may be split anywhere."""
    words: list[str] = []
    current = ""
    for char in text:
        if current and len(_UTF8.header_encode(current + char)) > 75:
            words.append(_UTF8.header_encode(current))
            current = ""
        current += char
    words.append(_UTF8.header_encode(current))
    return words


def _name_tokens(name: str) -> list[str]:
    """The display name as header tokens: plain ASCII words as they are, every other run of
    words (non-ASCII, or with a special such as ':' or '@') encoded, spaces inside it kept."""
    tokens: list[str] = []
    pending: list[str] = []
    for word in name.split(" "):
        if word.isascii() and not _SPECIALS.search(word) and "=?" not in word:
            if pending:
                tokens += _encoded_words(" ".join(pending))
                pending = []
            tokens.append(word)
        else:
            pending.append(word)
    if pending:
        tokens += _encoded_words(" ".join(pending))
    return tokens


def to_field(name: str, address: str) -> str:
    """The To: line for one recipient, folded at 78 characters. The name is cleaned again here
    (one stored before names were checked may hold a CR/LF), and no part of it can be read as
    another header or another address."""
    name = clean_name(name)[:MAX_NAME]
    tokens = [*_name_tokens(name), f"<{address}>"] if name else [address]
    lines = ["To:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > 78 and lines[-1] != "To:":
            lines.append("")
        lines[-1] += " " + token
    return CRLF.join(lines) + CRLF


def _qp(text: str) -> str:
    # quoprimime works on one byte per character, as the email package feeds it: UTF-8 bytes
    # seen as Latin-1. 75, not 76: a piece may get a soft-break "=" and must stay within 76.
    raw = text.encode("utf-8").decode("latin-1")
    return quoprimime.body_encode(raw, maxlinelen=75, eol=CRLF)


def _join_qp(segments: list[str], inserts: list[str]) -> str:
    """Quoted-printable segments of one body with ``inserts`` between them. A piece that ends
    mid-line is closed with a soft line break, which a decoder removes: the decoded text is the
    plain concatenation, and no encoded line exceeds 76 characters."""
    out: list[str] = []
    for i, segment in enumerate(segments):
        if i:
            insert = inserts[i - 1]
            out.append(insert if insert.endswith(CRLF) else insert + "=" + CRLF)
        if segment:
            out.append(
                segment
                if segment.endswith(CRLF) or i == len(segments) - 1
                else segment + "=" + CRLF
            )
    return "".join(out)


class MessageFactory:
    def __init__(
        self, config: Config, issue: Issue, secret: bytes, *, test: bool = False, prefix: str = ""
    ):
        self.config = config
        self.issue = issue
        self.secret = secret
        self.domain = config.site.domain
        words = i18n.reader(config.site.language)
        tag = words.gettext("[Test] ") if test else words.gettext(prefix) if prefix else ""
        subject = tag + issue.subject
        head = EmailMessage(policy=SMTP)
        head["From"] = config.newsletter.from_address
        if config.newsletter.reply_to:
            head["Reply-To"] = config.newsletter.reply_to
        head["Subject"] = subject
        head["List-Id"] = f"{config.tips.title} <{config.tips.slug}.{self.domain}>"
        head["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        head["MIME-Version"] = "1.0"
        self.static_headers = "".join(
            SMTP.fold(name, value) for name, value in head.items()
        )  # RFC 2047 and folding by the email package
        self.boundary = "=_blogtool_" + secrets.token_hex(12)
        text = _PLACEHOLDERS.split(issue.text)
        html = _PLACEHOLDERS.split(issue.html)
        # Even pieces are the text, odd ones the placeholder that goes between them.
        self.text_segments, self.text_slots = [_qp(s) for s in text[0::2]], text[1::2]
        self.html_segments, self.html_slots = [_qp(s) for s in html[0::2]], html[1::2]
        self.mailto = config.newsletter.unsubscribe_mailto

    def unsubscribe_url(self, recipient: Recipient) -> str:
        token = make_token(self.secret, recipient.subscriber_id, recipient.email_key)
        base = self.config.newsletter.unsubscribe_url
        return f"{base}{'&' if '?' in base else '?'}t={token}"

    def preferences_url(self, recipient: Recipient) -> str:
        """The reader's own preferences page: a signed link that needs no login."""
        base = self.config.web.base_url
        if not base:
            return ""
        token = make_link_token(self.secret, "prefs", recipient.subscriber_id, recipient.email_key)
        return f"{base}{self.config.web_path('preferences')}?t={token}"

    def return_path(self, recipient: Recipient) -> str:
        """The envelope sender: with [newsletter] return_path, one per delivery (VERP), so a
        bounce names the delivery it is about; else the From address."""
        pattern = self.config.newsletter.return_path
        if not pattern or not recipient.delivery_id:
            return envelope_sender(self.config)
        return pattern.replace("{token}", verp_token(self.secret, recipient.delivery_id))

    def message_id(self, recipient: Recipient) -> str:
        return f"<{self.issue.id}.{recipient.delivery_id}.{secrets.token_hex(6)}@{self.domain}>"

    def render(self, recipient: Recipient, message_id: str, now: dt.datetime) -> bytes:
        url = self.unsubscribe_url(recipient)
        token = url.rsplit("t=", 1)[1]
        mailto = f"mailto:{self.mailto}?subject={quote('unsubscribe ' + token)}"
        headers = [
            f"Return-Path: <{self.return_path(recipient)}>{CRLF}",
            self.static_headers,
            to_field(recipient.name, recipient.email),
            f"Date: {format_datetime(now.astimezone(self.config.site.timezone))}{CRLF}",
            f"Message-ID: {message_id}{CRLF}",
            # Folded after the comma: each URI stays whole (RFC 2369, RFC 8058).
            f"List-Unsubscribe: <{url}>,{CRLF} <{mailto}>{CRLF}",
            f'Content-Type: multipart/alternative;{CRLF} boundary="{self.boundary}"{CRLF}',
        ]
        links = {
            UNSUBSCRIBE_PLACEHOLDER: _qp(url),
            PREFERENCES_PLACEHOLDER: _qp(self.preferences_url(recipient)),
        }
        b = self.boundary
        body = [
            f"{CRLF}--{b}{CRLF}",
            f'Content-Type: text/plain; charset="utf-8"{CRLF}',
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}",
            _join_qp(self.text_segments, [links[s] for s in self.text_slots]),
            f"{CRLF}--{b}{CRLF}",
            f'Content-Type: text/html; charset="utf-8"{CRLF}',
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}",
            _join_qp(self.html_segments, [links[s] for s in self.html_slots]),
            f"{CRLF}--{b}--{CRLF}",
        ]
        return ("".join(headers) + "".join(body)).encode("ascii")
