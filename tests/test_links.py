"""`check --links` against real HTTP servers on 127.0.0.1: what is broken is listed by file and
line, and nothing else; a host that never answers costs its timeout and holds up no other."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import NOW, Run

POST = """---
title: Länkar
date: 2026-11-02T09:00:00+01:00
summary: Länkar till andra webbplatser.
---

Första stycket.

- [Fungerar]({a}/ok)
- [Flyttad]({a}/flyttad)
- [Borta]({a}/borta)
- [Trasig server]({a}/fel)
- [Loop]({a}/loop-1)
- [Kräver inloggning]({a}/intranat)
- [HEAD vägras]({a}/bara-get)
- [Långsam men svarar]({b}/sakta)
- [Svarar aldrig]({c}/tyst)
- [Finns inte](http://finns-inte.invalid/sida)

Ett exempel på hur en länk skrivs:

    [I ett kodblock]({a}/borta-i-kod)

<!-- [I en kommentar]({a}/borta-i-kommentar) -->
"""


class Host:
    """One web server on 127.0.0.1 (its own port: another host to the checker), counting what
    it was asked and how many requests it held at once."""

    def __init__(self, routes):
        self.asked: Counter[tuple[str, str]] = Counter()
        self.busy = 0
        self.most = 0
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends a request that waits for it
        self.waiting = threading.Event()  # a request is waiting now
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                with host.lock:
                    host.asked[(self.command, self.path)] += 1
                    host.busy += 1
                    host.most = max(host.most, host.busy)
                try:
                    status, headers = routes(self.command, self.path, host)
                finally:
                    # Done before the answer goes: the client asks its next question only
                    # once it has this answer, so two counted at once were asked at once.
                    with host.lock:
                        host.busy -= 1
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_HEAD = do_GET = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=30)


def site_a(method, path, host):
    redirects = {
        "/flyttad": "/ok",
        "/loop-1": "/loop-2",
        "/loop-2": "/loop-1",
        "/intranat": "https://login.example.se/adfs/ls/?wa=wsignin1.0",
    }
    if path in redirects:
        return 301, {"Location": redirects[path]}
    if path == "/ok":
        return 200, {}
    if path == "/fel":
        return 500, {}
    if path == "/bara-get":
        return (405, {"Allow": "GET"}) if method == "HEAD" else (200, {})
    return 404, {}


def site_b(method, path, host):
    # Slow but within the timeout: it answers once the never-answering host is waiting, which
    # shows the two were asked at the same time.
    host.other.waiting.wait(timeout=60)
    return 200, {}


def site_c(method, path, host):
    host.waiting.set()
    host.release.wait(timeout=60)  # until the checker gives up (the test's end at the latest)
    return 200, {}


@pytest.fixture
def hosts():
    a, b, c = Host(site_a), Host(site_b), Host(site_c)
    b.other = c
    with a, b, c:
        yield a, b, c


@pytest.fixture
def linked_site(empty_site, hosts):
    a, b, c = hosts
    config = empty_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace("https://naturkartan.se/sv/vaxjo", f"{a.url}/ok")
        + f'app_store = "{a.url}/app-finns-inte"\n\n[check]\nlink_timeout = 2\n',
        "utf-8",
    )
    (empty_site / "posts" / "2026-11-02-lankar.md").write_text(
        POST.format(a=a.url, b=b.url, c=c.url), "utf-8"
    )
    return empty_site


def lines_of(site: Path) -> dict[str, int]:
    text = (site / "posts" / "2026-11-02-lankar.md").read_text("utf-8").splitlines()
    return {line.split("](")[1].rstrip(")"): n for n, line in enumerate(text, 1) if "](" in line}


def test_check_links_lists_exactly_the_broken_ones_by_file_and_line(linked_site, hosts):
    a, b, c = hosts
    result = Run(linked_site)("check", "--links")
    assert result.exit_code == 1 and "Traceback" not in result.output
    at = lines_of(linked_site)
    post = "posts/2026-11-02-lankar.md"
    expected = {
        f"{post}:{at[a.url + '/borta']}: error: link {a.url}/borta: 404 Not Found",
        f"{post}:{at[a.url + '/fel']}: error: link {a.url}/fel: 500 Internal Server Error",
        f"{post}:{at[a.url + '/loop-1']}: error: link {a.url}/loop-1: a redirect loop ({a.url}/loop-1)",
        f"{post}:{at[a.url + '/intranat']}: error: link {a.url}/intranat: redirects to a login page "
        "(https://login.example.se/adfs/ls/?wa=wsignin1.0)",
        f"{post}:{at[c.url + '/tyst']}: error: link {c.url}/tyst: no answer within 2 s",
        f"{post}:{at['http://finns-inte.invalid/sida']}: error: link http://finns-inte.invalid/sida: no such host",
    }
    config_line = next(
        n
        for n, line in enumerate((linked_site / "blogtool.toml").read_text().splitlines(), 1)
        if line.startswith("app_store")
    )
    expected.add(
        f"blogtool.toml:{config_line}: error: [services.naturkartan] app_store: link "
        f"{a.url}/app-finns-inte: 404 Not Found"
    )
    reported = {line for line in result.stderr.splitlines() if "link " in line}
    assert reported == expected
    assert (
        "Links: 11 checked on 4 sites, 7 broken (0 from the last day's answers)." in result.stdout
    )
    # Links in code and comments are not links; the one-request-per-host rule held; HEAD
    # first and GET where HEAD was refused; the slow host was asked while the silent one hung.
    assert not any("kod" in path or "kommentar" in path for _m, path in a.asked)
    assert a.most == 1 and b.most == 1 and c.most == 1
    assert a.asked[("HEAD", "/bara-get")] == 1 and a.asked[("GET", "/bara-get")] == 1
    assert a.asked[("HEAD", "/ok")] >= 1 and a.asked[("GET", "/ok")] == 0
    assert "/sakta" not in result.stderr


def test_answers_are_kept_for_a_day(linked_site, hosts):
    a, _b, _c = hosts
    run = Run(linked_site)
    assert run("check", "--links").exit_code == 1
    asked = sum(a.asked.values())
    second = run("check", "--links", now=NOW + dt.timedelta(hours=23))
    assert "(11 from the last day's answers)" in second.stdout
    assert sum(a.asked.values()) == asked  # nobody was asked again
    assert sum(1 for line in second.stderr.splitlines() if ": link http" in line) == 7
    third = run("check", "--links", now=NOW + dt.timedelta(hours=25))
    assert "(0 from the last day's answers)" in third.stdout and sum(a.asked.values()) > asked


def test_without_links_check_asks_nobody(linked_site, hosts):
    a, b, c = hosts
    result = Run(linked_site)("check")
    assert result.exit_code == 0, result.output
    assert sum(a.asked.values()) + sum(b.asked.values()) + sum(c.asked.values()) == 0
