"""The lines of an issue a reader sees before opening it: the subject and the preheader, from
their templates in the config, and the heading of a letter of blog posts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import jinja2

from blogtool.config import Config, MailingList, Service
from blogtool.content.model import Item, Kind
from blogtool.errors import ConfigError
from blogtool.i18n import _
from blogtool.site.templates import bounded_render, make_environment


def _line(
    env: jinja2.Environment, config: Config, key: str, source: str, context: dict[str, Any]
) -> str:
    """A subject or preheader template from the config (``key`` names it in messages),
    rendered with the site's own environment (its filters and globals), sandboxed: a template
    string is data, and must not reach Python's internals (``cycler.__init__.__globals__`` and
    the like). One line, no escaping: it goes in a header and a preview text, not into HTML."""
    try:
        line = bounded_render(env.from_string(source), context)
    except (jinja2.TemplateError, ArithmeticError, ValueError, TypeError) as exc:
        # (the sandbox refuses range(10**8) with OverflowError; a filter may take a bad value)
        raise ConfigError(
            _("{path}: {key}: {exc}; available: {join}, site").format(
                path=config.path, key=key, exc=exc, join=", ".join(sorted(context))
            )
        ) from None
    return " ".join(line.split())


def headlines(
    config: Config,
    word: Callable[..., str],
    context: dict[str, Any],
    mailing_list: MailingList | None,
) -> tuple[str, str, str, str]:
    """Subject, preheader, heading and the letter's name: of the series' issue, or of a
    letter of blog posts (its own subject template, or the words.txt default)."""
    lines = make_environment(config, sandboxed=True).overlay(autoescape=False)
    preheader = _line(lines, config, "[newsletter] preheader", config.newsletter.preheader, context)
    if mailing_list is None:
        subject = _line(lines, config, "[newsletter] subject", config.newsletter.subject, context)
        return subject, preheader, word("newsletter_heading", context["week"]), config.tips.title
    key = f"[lists.{mailing_list.key}] subject"
    subject = (
        _line(lines, config, key, mailing_list.subject, context)
        if mailing_list.subject
        else " ".join(word("posts_subject", context["title"], context["count"]).split())
    )
    return subject, preheader, word("posts_heading", mailing_list.name), mailing_list.name


def issue_context(config: Config, items: list[Item], now: dt.datetime) -> dict[str, Any]:
    """What the subject and the preheader templates may use, besides the environment's
    globals (``site``) and filters: ``tips`` and ``services`` here are this issue's, newest
    first, and ``lead`` is the newest tip. ``items`` newest first."""
    tz = config.site.timezone
    newest = items[0]
    assert newest.date is not None
    tips = [i for i in items if i.kind is Kind.TIP]
    lead = tips[0] if tips else newest
    services: list[Service] = []
    for tip in tips:
        service = config.services.get(tip.service or "")
        if service is not None and service not in services:
            services.append(service)
    local = newest.date.astimezone(tz)
    lead_service = config.services.get(lead.service or "")
    return {
        "items": items,
        "tips": tips,
        "lead": lead,
        "title": lead.title,
        "headline": lead_service.name if lead_service else lead.title,
        "services": services,
        "series": config.tips.title,
        "week": local.isocalendar().week,
        "year": local.isocalendar().year,
        "date": now.astimezone(tz),
        "count": len(items),
    }
