"""The preview server: serves a build on 127.0.0.1 and rebuilds when a source file changes."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from blogtool.config import Config


def source_state(config: Config) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every file a build reads; a change in any of them means rebuild."""
    state: dict[str, tuple[int, int]] = {}
    roots = [config.posts_dir, config.tips_dir, config.templates_dir, config.root / "static"]
    for path in [config.path, *(p for r in roots if r.is_dir() for p in r.rglob("*"))]:
        try:
            st = path.stat()
        except OSError:
            continue
        if path.is_file():
            state[str(path)] = (st.st_mtime_ns, st.st_size)
    return state


class Watcher(threading.Thread):
    """Polls the sources every ``interval`` seconds and calls ``rebuild`` after a change."""

    def __init__(self, config: Config, rebuild: Callable[[], None], interval: float = 0.5):
        super().__init__(daemon=True, name="blogtool-watch")
        self.config = config
        self.rebuild = rebuild
        self.interval = interval
        self.stopped = threading.Event()
        self.state = source_state(config)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            current = source_state(self.config)
            if current != self.state:
                self.state = current
                self.rebuild()

    def stop(self) -> None:
        self.stopped.set()


class _Handler(http.server.SimpleHTTPRequestHandler):
    prefix = "/"

    def translate_path(self, path: str) -> str:
        # The site may live below a sub-path of its base URL; serve it there too.
        clean = unquote(urlsplit(path).path)
        if self.prefix != "/" and clean.startswith(self.prefix):
            path = "/" + clean[len(self.prefix) :]
        return super().translate_path(path)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code == 404 and page.is_file():
            body = page.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(
    directory: Path, port: int, prefix: str = "/", host: str = "127.0.0.1"
) -> http.server.ThreadingHTTPServer:
    """An HTTP server on ``host`` (127.0.0.1 unless asked); port 0 picks a free one."""
    handler = functools.partial(
        type("Handler", (_Handler,), {"prefix": prefix}), directory=str(directory)
    )
    kind = _Server6 if ":" in host else http.server.ThreadingHTTPServer
    return kind((host, port), handler)
