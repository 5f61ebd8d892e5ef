"""The two mails the reader service sends one person: the link that confirms a sign-up, and
the link to what is stored about them. Plain text and HTML, from templates like every mail."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

import jinja2

from blogtool.config import Config
from blogtool.site.templates import make_environment, render, words


def reader_message(
    config: Config,
    template: str,
    to: str,
    now: dt.datetime,
    env: jinja2.Environment | None = None,
    reply_to: str | None = None,
    **context: Any,
) -> bytes:
    """``email/<template>.txt`` and ``.html`` as one message to ``to``; the subject is the
    ``<template>_subject`` phrase of words.txt. ``env``: the caller's template environment
    (a server keeps one), else a new one. ``reply_to``: where an answer goes, when not to the
    newsletter's own Reply-To (a reader's report is answered to the reader)."""
    env = env or make_environment(config)
    word = words(env, config)
    message = EmailMessage(policy=SMTP)
    message["From"] = config.newsletter.from_address
    if reply_to or config.newsletter.reply_to:
        message["Reply-To"] = reply_to or config.newsletter.reply_to
    message["To"] = to
    message["Subject"] = word(f"{template.replace('-', '_')}_subject")
    message["Date"] = format_datetime(now.astimezone(config.site.timezone))
    message["Message-ID"] = make_msgid(domain=config.site.domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to it
    message.set_content(render(env, f"email/{template}.txt", config, **context))
    message.add_alternative(
        render(env, f"email/{template}.html", config, **context), subtype="html"
    )
    return message.as_bytes()
