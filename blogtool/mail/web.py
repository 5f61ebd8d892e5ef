"""The other end of the unsubscribe link: a small WSGI application for the https URL in every
message (RFC 8058 one-click POST from mail clients, and a confirmation page for people), and the
same action for a token that arrives by mail.

A GET never unsubscribes anyone: link scanners and previews fetch URLs. A POST with a valid
token does, at once. Tokens are verified against the subscriber's current address, so a guessed
or altered link changes nothing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from blogtool.config import Config
from blogtool.mail.subscribers import set_status
from blogtool.mail.tokens import parse_token, verify_token
from blogtool.site.templates import make_environment, render
from blogtool.store import opened


@dataclass(frozen=True)
class Outcome:
    status: str  # "unsubscribed", "already", "invalid"
    email: str | None = None


def find(db: sqlite3.Connection, secret: bytes, token: str) -> sqlite3.Row | None:
    parsed = parse_token(token)
    if parsed is None:
        return None
    row = db.execute(
        "SELECT id, email, email_key, status FROM subscribers WHERE id = ?", (parsed[0],)
    ).fetchone()
    if row is None or not verify_token(secret, token, row["email_key"]):
        return None
    found: sqlite3.Row = row
    return found


def unsubscribe(
    db: sqlite3.Connection, secret: bytes, token: str, now: dt.datetime, how: str
) -> Outcome:
    row = find(db, secret, token)
    if row is None:
        return Outcome("invalid")
    if row["status"] == "unsubscribed":
        return Outcome("already", row["email"])
    set_status(db, row["id"], "unsubscribed", now, how)
    return Outcome("unsubscribed", row["email"])


def make_app(
    config: Config, secret: bytes, now: Callable[[], dt.datetime]
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    env = make_environment(config)
    db_path: Path = config.state_path

    def page(start_response: Callable[..., Any], code: str, **context: Any) -> list[bytes]:
        body = render(env, "unsubscribe.html", config, **context).encode("utf-8")
        start_response(
            code,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("X-Robots-Tag", "noindex"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )
        return [body]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        token = (query.get("t") or [""])[0]
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(
                environ["wsgi.input"].read(min(length, 4096)).decode("utf-8", "replace")
            )
            token = token or (form.get("t") or [""])[0]
            one_click = form.get("List-Unsubscribe") == ["One-Click"]
            with opened(db_path) as db:
                outcome = unsubscribe(
                    db, secret, token, now(), "one-click (RFC 8058)" if one_click else "web form"
                )
            if outcome.status == "invalid":
                return page(start_response, "400 Bad Request", state="invalid", token="")
            return page(start_response, "200 OK", state="done", token="")
        if method in ("GET", "HEAD"):
            with opened(db_path) as db:
                row = find(db, secret, token)
            if row is None:
                return page(start_response, "400 Bad Request", state="invalid", token="")
            state = "done" if row["status"] == "unsubscribed" else "confirm"
            return page(start_response, "200 OK", state=state, token=token)
        start_response(
            "405 Method Not Allowed", [("Allow", "GET, HEAD, POST"), ("Content-Length", "0")]
        )
        return [b""]

    return app
