"""The mail sections of ``blogtool.toml``: the newsletter, the SMTP server, the reader service,
bounces and the mailing lists. Declared as in ``model.py``, each key once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from blogtool.config import schema as s


@dataclass(frozen=True)
class NewsletterConfig:
    """[newsletter]: the weekly email."""

    from_address: str = s.key(
        str,
        None,
        "From: 'Name <address>'; derived: the site title at nyhetsbrev@ the site's domain.",
        convert=s.mailbox,
        toml="from",
    )
    reply_to: str | None = s.key(str, None, "Reply-To, if replies go elsewhere.", convert=s.mailbox)
    subject: str = s.key(
        str,
        None,
        "Subject, a Jinja template with the site's filters: title (the newest tip's), lead "
        "(that tip), tips and services (this issue's, newest first), items, week, year, date "
        "(the send time), count, series, headline (the lead's service name) and site; derived "
        "from [site] language: '{{ series }} vecka {{ week }}: {{ title }}' in Swedish.",
        convert=s.nonempty,
    )
    preheader: str = s.key(
        str,
        "{{ lead.summary or (lead.body | excerpt(140)) }}",
        "The preview line mail programs show after the subject; a template like subject.",
        convert=s.nonempty,
    )
    unsubscribe_url: str = s.key(
        str,
        None,
        "https address of the unsubscribe endpoint; derived: https://DOMAIN/avregistrera.",
        convert=s.https_url,
    )
    unsubscribe_mailto: str = s.key(
        str,
        None,
        "Address for List-Unsubscribe by mail; derived: reply_to, else from.",
        convert=s.mailbox,
    )
    include_posts: bool = s.key(bool, False, "Also mail blog posts, not only tips.")
    state: str = s.key(
        str,
        ".blogtool/state.db",
        "The state database (SQLite), inside the site.",
        convert=s.relative_file,
    )
    outbox: str = s.key(
        str, "outbox", "Where messages go as .eml files without [smtp].", convert=s.relative_dir
    )
    rate: int = s.key(
        int,
        0,
        "Messages a minute; 0 sends as fast as the server takes them.",
        convert=s.non_negative,
    )
    return_path: str | None = s.key(
        str,
        None,
        "Envelope sender per delivery (VERP), e.g. 'bounces+{token}@blogg.example.se', so a "
        "bounce says whom it is about; without it bounces are matched by Message-ID.",
        convert=s.verp_pattern,
    )
    proof_to: tuple[str, ...] = s.key(
        list,
        [],
        "Editors who get a proof ('[Proof]', in the site's language) of each coming issue "
        "before it goes out.",
        convert=s.mailboxes,
        dump=list,
    )
    proof_before: dt.timedelta = s.key(
        str,
        "24h",
        "How long before the send time run mails the proof ('24h', '90m', '1d 12h').",
        convert=s.duration,
        dump=s.duration_text,
    )
    approval: bool = s.key(
        bool,
        False,
        "Hold each issue until someone runs 'blogtool newsletter approve'; a change after "
        "approval needs approval again.",
    )
    send_time: dt.time | None = s.key(
        str,
        None,
        "Send at this time on the series day instead of at each tip's own time (HH:MM).",
        convert=s.clock,
        dump=s.clock_text,
    )


@dataclass(frozen=True)
class WebConfig:
    """[web]: the readers' own service (sign-up, preferences, unsubscribe, my data)."""

    base_url: str | None = s.key(
        str,
        None,
        "https address the service answers under, e.g. https://blogg.example.se/nyhetsbrev/; "
        "set, the site gets a sign-up form and mail links to the service. For a trial on "
        "this machine, http://127.0.0.1:PORT/ or http://localhost:PORT/.",
        convert=s.web_base,
    )
    consent_version: str = s.key(
        str,
        "1",
        "Version of the consent text the form shows; recorded with each sign-up.",
        convert=s.nonempty,
    )
    confirm_within: dt.timedelta = s.key(
        str,
        "7d",
        "How long a confirmation link works; unconfirmed sign-ups are then deleted.",
        convert=s.duration,
        dump=s.duration_text,
    )
    data_link_within: dt.timedelta = s.key(
        str,
        "24h",
        "How long a link to 'my data' works.",
        convert=s.duration,
        dump=s.duration_text,
    )
    mails_per_address: int = s.key(
        int,
        3,
        "At most this many confirmation and data mails to one address a day.",
        convert=s.positive,
    )
    requests_per_ip: int = s.key(
        int,
        20,
        "At most this many form posts from one IP address in 10 minutes (then 429).",
        convert=s.positive,
    )
    trusted_proxy: str | None = s.key(
        str,
        None,
        "The reverse proxy's address (e.g. 127.0.0.1) whose X-Forwarded-For is "
        "believed for rate limits.",
    )


@dataclass(frozen=True)
class BouncesConfig:
    """[bounces]: bounces and complaints that come back after a send, and what they do."""

    imap_host: str | None = s.key(
        str,
        None,
        "The IMAP server of the bounce mailbox; set, 'blogtool run' reads it.",
    )
    port: int | None = s.key(int, None, "Port; derived: 993 (ssl) or 143.", convert=s.port)
    user: str | None = s.key(
        str, None, "Login name; the password comes from BLOGTOOL_IMAP_PASSWORD or the keyring."
    )
    folder: str = s.key(str, "INBOX", "The folder bounces arrive in.", convert=s.nonempty)
    processed_folder: str = s.key(
        str,
        "Behandlade",
        "Handled messages are moved here (made if missing).",
        convert=s.nonempty,
    )
    security: str = s.key(str, "ssl", "ssl, starttls or none.", convert=s.security)
    soft_limit: int = s.key(
        int,
        3,
        "Temporary failures (4.x.x) to one address within soft_days that count as a hard bounce.",
        convert=s.positive,
    )
    soft_days: int = s.key(int, 30, "The window for soft_limit, in days.", convert=s.positive)
    max_hard_percent: float = s.key(
        (int, float),
        2.0,
        "status warns when an issue's hard bounces exceed this share.",
        convert=s.non_negative_float,
    )
    max_complaint_percent: float = s.key(
        (int, float),
        0.1,
        "status warns when an issue's complaints exceed this share.",
        convert=s.non_negative_float,
    )
    max_size: int = s.key(
        int,
        1_000_000,
        "Bytes; a larger message in the bounce mailbox is counted, not read.",
        convert=s.positive,
    )


@dataclass(frozen=True)
class MailingList:
    """[lists.KEY]: a letter readers can choose. Without any, two: the series and the blog."""

    key: str
    name: str = s.key(
        str, doc="What readers choose, e.g. 'Torsdagstips varje vecka'.", convert=s.nonempty
    )
    description: str = s.key(str, "", "One sentence about it, shown on the form.")
    content: str = s.key(
        str,
        "tips",
        "What it carries: tips (the weekly issue) or posts (new blog posts).",
        convert=s.one_of("tips", "posts"),
    )
    cadence: str = s.key(
        str,
        "each",
        "For posts: each (a mail per post, when it is published) or weekly (one "
        "letter on the series day at [tips] time with the week's posts).",
        convert=s.one_of("each", "weekly"),
    )
    subject: str | None = s.key(
        str,
        None,
        "For posts: the subject template (like [newsletter] subject); default: "
        "'<site>: <title>', or '<site>: N new posts' in the site's language.",
    )


@dataclass(frozen=True)
class SmtpConfig:
    """[smtp]: a mail server. Without it, mail goes to the outbox folder."""

    host: str = s.key(str, doc="The server's host name.", convert=s.nonempty)
    port: int = s.key(int, None, "Port; derived: 465 (ssl), 587 (starttls) or 25.", convert=s.port)
    security: str = s.key(str, "starttls", "ssl, starttls or none.", convert=s.security)
    user: str | None = s.key(
        str, None, "Login name; the password comes from BLOGTOOL_SMTP_PASSWORD or the keyring."
    )
    timeout: float = s.key(
        (int, float), 30, "Seconds to wait for the server.", convert=s.non_negative_float
    )
    max_attempts: int = s.key(int, 5, "Tries per message before giving up.", convert=s.positive)
    retry_delay: float = s.key(
        (int, float),
        2.0,
        "Seconds before the first retry; doubles each time.",
        convert=s.non_negative_float,
    )
    pipelining: bool = s.key(
        bool,
        True,
        "Use PIPELINING (RFC 2920) when the server offers it: one round trip for "
        "MAIL, RCPT and DATA.",
    )
    connections: int = s.key(
        int,
        4,
        "Connections to the server at once while sending an issue; a relay's "
        "documented limit goes here (1: one at a time).",
        convert=s.positive,
    )


# The sections with a fixed set of keys, in the order blogtool.toml and 'blogtool config' use.
