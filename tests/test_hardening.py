"""Regression tests for the defects found by trying to break blogtool (one section a defect)."""

from __future__ import annotations

import datetime as dt
import email
import sqlite3
from email import policy
from email.utils import getaddresses

import pytest

from .conftest import SECRET, STOCKHOLM

AFTER_TIP = dt.datetime(2026, 11, 26, 8, 5, tzinfo=STOCKHOLM)


def _messages(site):
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((site / "outbox").glob("*.eml"))
    ]


def _recipients(message) -> list[str]:
    fields = [message.get_all(h, []) for h in ("To", "Cc", "Bcc")]
    return [addr for _, addr in getaddresses([str(v) for f in fields for v in f])]


# --- 1. a line break in a subscriber's name ------------------------------------------------------


def test_a_line_break_in_a_name_is_cleaned_on_the_way_in(run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    result = run("subscribers", "add", "ok4@example.se", "--name", "Four\r\nBcc: x@evil.example")
    assert result.exit_code == 0, result.stderr
    shown = run("subscribers", "show", "ok4@example.se").stdout
    assert "name: Four Bcc: x@evil.example\n" in shown
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    assert run("newsletter", "send", now=AFTER_TIP).exit_code == 0
    [message] = _messages(sample_site)
    assert message["Bcc"] is None
    assert _recipients(message) == ["ok4@example.se"]


def test_a_name_too_long_is_refused_with_one_line(run):
    result = run("subscribers", "add", "lang@example.se", "--name", "Å" * 201)
    assert result.exit_code == 1
    assert "the name is 201 characters long; expected at most 200" in result.stderr


def test_names_stored_before_the_fix_never_stop_a_send(run, sample_site, monkeypatch):
    """Bad names already in the database: everyone still gets exactly their own message."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for address in ("a@example.se", "b@example.se", "c@example.se", "d@example.se"):
        assert run("subscribers", "add", address).exit_code == 0
    db = sqlite3.connect(sample_site / ".blogtool" / "state.db")
    bad = {
        "b@example.se": "Four\r\nBcc: x@evil.example",
        "c@example.se": "Lång" * 40 + "\r\nBcc: y@evil.example",
    }
    for address, name in bad.items():
        db.execute("UPDATE subscribers SET name = ? WHERE email = ?", (name, address))
    db.commit()
    db.close()
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    result = run("newsletter", "send", now=AFTER_TIP)
    assert result.exit_code == 0, result.output
    assert "4 sent, 0 failed" in result.stdout
    messages = _messages(sample_site)
    assert sorted(r for m in messages for r in _recipients(m)) == [
        "a@example.se", "b@example.se", "c@example.se", "d@example.se",
    ]  # fmt: skip
    for message in messages:
        assert message["Bcc"] is None and len(_recipients(message)) == 1


def test_a_message_that_cannot_be_composed_fails_alone(run, sample_site, monkeypatch):
    from blogtool.mail.compose import MessageFactory

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for address in ("a@example.se", "b@example.se", "c@example.se"):
        assert run("subscribers", "add", address).exit_code == 0
    original = MessageFactory.render

    def render(self, recipient, message_id, now):
        if recipient.email == "b@example.se":
            raise ValueError("something in b's data")
        return original(self, recipient, message_id, now)

    monkeypatch.setattr(MessageFactory, "render", render)
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    result = run("newsletter", "send", now=AFTER_TIP)
    assert result.exit_code == 1
    assert "2 sent, 1 failed" in result.stdout
    assert "failed: b@example.se: the message could not be composed" in result.stderr
    assert sorted(r for m in _messages(sample_site) for r in _recipients(m)) == [
        "a@example.se",
        "c@example.se",
    ]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Anna\u2028Andersson", "Anna Andersson"),
        ("\u202eevil\u202c Name", "evil Name"),
        ("  Anna \t  Andersson ", "Anna Andersson"),
        ("Zoë Ågren", "Zoë Ågren"),
    ],
)
def test_names_are_normalised(given, stored):
    from blogtool.mail.subscribers import clean_name

    assert clean_name(given) == stored
