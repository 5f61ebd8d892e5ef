"""Running the reader service in production: waitress, an access log without addresses, a
sender thread that mails what the service queued, and a clean stop on SIGTERM.

waitress is pure Python (it runs on the Windows servers many municipalities use too), keeps a
fixed pool of worker threads, handles connections without a thread each, and closes idle or
half-sent requests after a timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import mimetypes
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from blogtool.config import Config
from blogtool.delivery import outgoing
from blogtool.delivery.transports import Transport
from blogtool.store import opened
from blogtool.web.app import ReaderService
from blogtool.web.http import LONG_FORM, App, StartResponse

log = logging.getLogger("blogtool.web")


def access_logged(app: App) -> App:
    """One line per request: client (hashed), method, path without the query (links carry
    tokens), status, size and time. No address is ever logged."""

    def logged(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        seen: dict[str, str] = {}

        def capture(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            seen["size"] = dict(headers).get("Content-Length", "-")
            return start_response(status, headers, *rest)

        result = app(environ, capture)
        client = hashlib.sha256(str(environ.get("REMOTE_ADDR", "")).encode()).hexdigest()[:12]
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))[:200]
        log.info(
            '%s "%s %s" %s %s %.0fms',
            client,
            environ.get("REQUEST_METHOD", "-"),
            path,
            seen.get("status", "-"),
            seen.get("size", "-"),
            (time.monotonic() - started) * 1000,
        )
        return result

    return logged


def with_site(app: ReaderService, public: Path) -> App:
    """The built site as static files beside the service, as a web server in front of it
    would serve them (for trying the service on one machine; production uses nginx)."""
    root = public.resolve()

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if app.route_of(path) is not None:
            return app(environ, start_response)
        target = (root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            target = root / "404.html"
            status = "404 Not Found"
        else:
            status = "200 OK"
        body = target.read_bytes() if target.is_file() else b"Not found\n"
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/xml", "image/svg+xml"):
            kind += "; charset=utf-8"
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    return serve


RETRY = 5.0  # seconds before the sender tries again after a failure (a locked or full disk)


class Sender:
    """Sends what the service queued, at once (``wake``) and every ``interval`` seconds, in one
    thread of its own, so a slow mail server never holds up a page."""

    def __init__(
        self,
        config: Config,
        transport: Callable[[], Transport],
        sender: str,
        now: Callable[[], dt.datetime],
        interval: float = 60.0,
    ):
        self.config, self.transport, self.sender, self.now = config, transport, sender, now
        self.interval = interval
        # Work the service put off until after it answered (``ReaderService.resolve_requests``).
        self.prepare: Callable[[sqlite3.Connection], None] = lambda db: None
        self.event = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, name="blogtool-sender", daemon=True)

    def wake(self) -> None:
        self.event.set()

    def loop(self) -> None:
        pause = self.interval
        while not self.stopping:
            self.event.wait(pause)
            self.event.clear()
            try:
                with opened(self.config.state_path) as db:
                    self.prepare(db)
                    done = outgoing.drain(db, self.transport(), self.sender, self.now())
                if done.sent or done.failed:
                    log.info(
                        "mail: %d sent, %d failed, %d waiting", done.sent, done.failed, done.waiting
                    )
                pause = self.interval
            except Exception as exc:  # the service keeps answering, and tries again soon
                log.error("mail: %s", exc)
                pause = min(self.interval, RETRY)

    def start(self) -> None:
        self.thread.start()
        self.wake()  # whatever an earlier run left queued

    def stop(self) -> None:
        self.stopping = True
        self.wake()
        if self.thread.ident is not None:  # started
            self.thread.join(timeout=30)


def make_server(
    app: App,
    host: str,
    port: int,
    trusted_proxy: str | None = None,
    socket_map: dict[int, Any] | None = None,
    max_body: int = LONG_FORM,
) -> Any:
    """waitress, as production runs it. ``.run()`` serves until ``.close()``, which must be
    called in the thread that runs it (waitress's loop is not thread-safe): ``socket_map`` is
    the loop's map (create_server's ``map``), for a caller that adds its own dispatcher to stop
    it from inside. ``max_body``: the largest request body, in bytes."""
    from waitress.server import create_server

    proxy: dict[str, Any] = {}
    if trusted_proxy:
        proxy = {
            "trusted_proxy": trusted_proxy,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
        }
    return create_server(
        app,
        map=socket_map,
        host=host,
        port=port,
        threads=8,
        # Many slow or stalled clients must not lock out the others: poll() has no 1024-socket
        # ceiling, and the limit stays below the usual 1024 open files.
        connection_limit=900,
        asyncore_use_poll=True,
        channel_timeout=20,
        max_request_header_size=16384,
        max_request_body_size=max_body,
        ident="blogtool",
        clear_untrusted_proxy_headers=True,
        **proxy,
    )


class Stopper:
    """SIGTERM and SIGINT stop the service. Enter it before the socket is bound: a signal that
    comes as soon as the port answers then asks for a stop instead of killing the process or
    landing in the middle of start-up. KeyboardInterrupt, which ends waitress's loop after its
    workers finish, is raised only while the loop runs, and only once; a signal before the loop
    means it never starts, one after it is only logged."""

    def __init__(self) -> None:
        self.requested = False
        self.serving = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> Stopper:
        self.previous = {s: signal.signal(s, self.handle) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def handle(self, signum: int, frame: Any) -> None:
        log.info("stopping (signal %d)", signum)
        if self.requested:
            return
        self.requested = True
        if self.serving:
            raise KeyboardInterrupt

    def serve(self, server: Any) -> None:
        """Run ``server`` until a stop is asked for (at once if one already was)."""
        try:
            self.serving = True
            if not self.requested:
                server.run()
        except KeyboardInterrupt:
            pass
        finally:
            self.serving = False
