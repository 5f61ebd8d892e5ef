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
from urllib.parse import parse_qs, urlsplit

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


MAX_BODY = 4096  # a one-click POST is a few dozen bytes
_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Robots-Tag", "noindex"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
]

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_app(config: Config, secret: bytes, now: Callable[[], dt.datetime]) -> App:
    """The WSGI application for [newsletter] unsubscribe_url, and for that path only."""
    env = make_environment(config)
    db_path: Path = config.state_path
    own_path = urlsplit(config.newsletter.unsubscribe_url).path.rstrip("/") or "/"

    def answer(
        start_response: Callable[..., Any],
        head: bool,
        code: str,
        body: bytes,
        kind: str = "text/html; charset=utf-8",
        extra: tuple[tuple[str, str], ...] = (),
    ) -> list[bytes]:
        length = ("Content-Length", str(len(body)))
        start_response(code, [("Content-Type", kind), length, *_HEADERS, *extra])
        return [] if head else [body]

    def page(
        respond: Callable[[str, bytes], list[bytes]], code: str, **context: Any
    ) -> list[bytes]:
        return respond(code, render(env, "unsubscribe.html", config, **context).encode("utf-8"))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        head = method == "HEAD"

        def respond(code: str, body: bytes) -> list[bytes]:
            return answer(start_response, head, code, body)

        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).rstrip("/")
        if (path or "/") != own_path:
            return answer(start_response, head, "404 Not Found", b"Not found\n", "text/plain")
        if method not in ("GET", "HEAD", "POST"):
            allow = (("Allow", "GET, HEAD, POST"),)
            return answer(start_response, head, "405 Method Not Allowed", b"", "text/plain", allow)
        token = (parse_qs(environ.get("QUERY_STRING", "")).get("t") or [""])[0]
        if method == "POST":
            form = _form(environ)
            if form is None:
                return page(respond, "400 Bad Request", state="invalid", token="")
            token = token or (form.get("t") or [""])[0]
            how = "one-click (RFC 8058)" if form.get("List-Unsubscribe") == ["One-Click"] else ""
            with opened(db_path) as db:
                outcome = unsubscribe(db, secret, token, now(), how or "web form")
            if outcome.status == "invalid":
                return page(respond, "400 Bad Request", state="invalid", token="")
            return page(respond, "200 OK", state="done", token="")
        with opened(db_path) as db:
            row = find(db, secret, token)
        if row is None:
            return page(respond, "400 Bad Request", state="invalid", token="")
        state = "done" if row["status"] == "unsubscribed" else "confirm"
        return page(respond, "200 OK", state=state, token=token)

    return app


def _form(environ: dict[str, Any]) -> dict[str, list[str]] | None:
    """The POSTed form, or None for a body that is malformed or larger than a form is."""
    length = str(environ.get("CONTENT_LENGTH") or "0").strip()
    if not length.isdigit() or int(length) > MAX_BODY:
        return None
    body = environ["wsgi.input"].read(int(length))
    return parse_qs(body.decode("utf-8", "replace"))


def make_server(app: App, host: str, port: int) -> Any:
    """waitress, as production runs it: a fixed pool of worker threads, connections handled
    without a thread each, idle or half-sent requests closed after a timeout, a size limit on
    requests. ``.run()`` serves until ``.close()``."""
    from waitress.server import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=4,
        # Many slow or stalled clients must not lock out the others: poll() has no 1024-socket
        # ceiling, and the limit stays below the usual 1024 open files.
        connection_limit=900,
        asyncore_use_poll=True,
        channel_timeout=20,
        max_request_header_size=16384,
        max_request_body_size=MAX_BODY * 4,
        ident="blogtool",
        clear_untrusted_proxy_headers=True,
    )
