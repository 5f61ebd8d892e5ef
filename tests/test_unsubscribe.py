"""The unsubscribe endpoint over real HTTP on 127.0.0.1, fed the link from a real message."""

from __future__ import annotations

import email
import os
import signal
import socket
import threading
import urllib.error
import urllib.request
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from blogtool.config import load_config
from blogtool.web.app import make_app
from blogtool.web.server import make_server

from .conftest import NOW, SECRET
from .processes import Started, blogtool, listening, serving_waitress, wait_for
from .smtp_sink import free_port
from .test_mail import SEND_NOW


@pytest.fixture
def mailed(run, sample_site, monkeypatch):
    """Two subscribers, an issue sent to the outbox; returns each one's unsubscribe URL."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for address in ("anna@example.se", "bo@example.se"):
        assert run("subscribers", "add", address, now=SEND_NOW).exit_code == 0
    assert run("newsletter", "build", now=SEND_NOW).exit_code == 0
    assert run("newsletter", "send", now=SEND_NOW).exit_code == 0
    links = {}
    for path in (sample_site / "outbox").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        https = msg["List-Unsubscribe"].split(",")[0].strip().strip("<>")
        links[str(msg["To"])] = https
    return links


@pytest.fixture
def endpoint(sample_site, mailed):
    """The app under waitress, the server production runs."""
    config = load_config(sample_site)
    socket_map: dict = {}
    app = make_app(config, SECRET.encode(), lambda: NOW)
    server = make_server(app, "127.0.0.1", 0, socket_map=socket_map)
    with serving_waitress(server, socket_map):
        yield f"http://127.0.0.1:{server.effective_port}"


def local(endpoint: str, link: str) -> str:
    parts = urlsplit(link)
    return f"{endpoint}{parts.path}?{parts.query}"


def request(url: str, data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def statuses(run) -> dict[str, str]:
    import json

    return {
        s["email"]: s["status"] for s in json.loads(run("subscribers", "list", "--json").stdout)
    }


def test_one_click_post_unsubscribes_only_that_person(run, mailed, endpoint):
    url = local(endpoint, mailed["anna@example.se"])
    status, body = request(url)  # a link preview or a scanner: nothing happens
    assert status == 200 and "Avregistrera mig" in body
    assert statuses(run) == {"anna@example.se": "active", "bo@example.se": "active"}
    status, body = request(url, b"List-Unsubscribe=One-Click")
    assert status == 200 and "Du är avregistrerad" in body
    assert statuses(run) == {"anna@example.se": "unsubscribed", "bo@example.se": "active"}
    shown = run("subscribers", "show", "anna@example.se").stdout
    assert "status changed: Sat 28 Nov 2026 09:00 (one-click (RFC 8058))" in shown
    assert request(url, b"List-Unsubscribe=One-Click")[0] == 200  # twice is fine


def test_links_mailed_before_the_reader_service_was_set_up_keep_working(run, sample_site, mailed):
    """Mail sent without [web] carries /avregistrera; once [web] moves the service under
    /nyhetsbrev/, that address still shows the page and takes the one-click POST."""
    from .conftest import WEB_CONFIG

    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + WEB_CONFIG, "utf-8")
    loaded = load_config(sample_site)
    assert loaded.web.base_url and "/nyhetsbrev/" in loaded.newsletter.unsubscribe_url
    socket_map: dict = {}
    app = make_app(loaded, SECRET.encode(), lambda: NOW)
    server = make_server(app, "127.0.0.1", 0, socket_map=socket_map)
    with serving_waitress(server, socket_map):
        endpoint = f"http://127.0.0.1:{server.effective_port}"
        old = mailed["anna@example.se"]
        assert urlsplit(old).path == "/avregistrera"
        status, body = request(local(endpoint, old))
        assert status == 200 and "Avregistrera mig" in body
        status, body = request(local(endpoint, old), b"List-Unsubscribe=One-Click")
        assert status == 200 and "Du är avregistrerad" in body
        assert statuses(run) == {"anna@example.se": "unsubscribed", "bo@example.se": "active"}
        # The English default address of the same page answers too; other paths still do not.
        english = local(endpoint, mailed["bo@example.se"]).replace("/avregistrera", "/unsubscribe")
        assert request(english)[0] == 200
        assert request(endpoint + "/avregistrera-inte?t=x")[0] == 404


def test_forged_or_altered_tokens_change_nothing(run, mailed, endpoint):
    good = mailed["bo@example.se"]
    other_id = mailed["anna@example.se"].split("t=")[1].split(".")[0]
    forged = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # altered signature
        good.split("t=")[0] + "t=" + other_id + "." + good.split(".")[-1],  # someone else's id
        good.split("t=")[0] + "t=1",
        good.split("t=")[0],
    ]
    for link in forged:
        status, body = request(local(endpoint, link), b"List-Unsubscribe=One-Click")
        assert status == 400 and "Länken fungerar inte" in body, link
    assert set(statuses(run).values()) == {"active"}


def test_the_confirmation_form_works_in_a_browser_way(run, mailed, endpoint):
    url = local(endpoint, mailed["bo@example.se"])
    token = url.split("t=")[1]
    status, body = request(endpoint + urlsplit(url).path, f"t={token}".encode())
    assert status == 200 and "Du är avregistrerad" in body
    assert statuses(run)["bo@example.se"] == "unsubscribed"


def test_token_from_a_mailto_request(run, mailed, monkeypatch):
    token = mailed["anna@example.se"].split("t=")[1]
    result = run("unsubscribe", "token", f"unsubscribe {token}")
    assert result.exit_code == 0 and "unsubscribed: anna@example.se" in result.stdout
    result = run("unsubscribe", "token", token[:-3] + "xyz")
    assert result.exit_code == 1 and "not valid" in result.stderr
    monkeypatch.setenv("BLOGTOOL_SECRET", "ett-helt-annat-hemligt-varde")
    result = run("unsubscribe", "token", mailed["bo@example.se"].split("t=")[1])
    assert result.exit_code == 1 and statuses(run)["bo@example.se"] == "active"


# --- the endpoint under abuse (the real command, in its own process, over raw sockets) ----------


@pytest.fixture
def served(sample_site, mailed, monkeypatch):
    """`blogtool unsubscribe serve` as production runs it; yields (port, process)."""
    port = free_port()
    env = {**os.environ, "BLOGTOOL_SECRET": SECRET, "BLOGTOOL_NOW": NOW.isoformat()}
    command = blogtool("--site", str(sample_site), "unsubscribe", "serve", "--port", str(port))
    with Started(command, env=env) as process:
        # Its own words that it listens (a probe of the port could reach another process that
        # got the same free port, and a SIGTERM would then come before this one's handler).
        process.wait_for_line(rf"http://127\.0\.0\.1:{port}/")
        yield port, process


def raw(port: int, request: bytes, timeout: float = 60.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while True:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response else 0


@pytest.mark.parametrize(
    "query",
    ["t=1.%C3%A5", "t=99999999999999999999999.A", "t=" + "9" * 5000 + ".AAAA", "t=", "t=%00"],
)
def test_malformed_tokens_are_a_clear_400(served, query):
    port, _ = served
    response = raw(port, f"GET /avregistrera?{query} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    assert status_of(response) == 400, response[:200]
    assert b"Traceback" not in response


@pytest.mark.parametrize("length", ["abc", "-1", "99999999999999999999"])
def test_a_bad_content_length_is_refused_at_once(served, length):
    port, _ = served
    request = f"POST /avregistrera HTTP/1.0\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request.encode())
        chunks = []
        # The server answers and closes without waiting for a body: the read ends at its
        # close (a server that held the connection would leave it to time out).
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    assert 400 <= status_of(response) < 500, response[:200]


def test_only_the_unsubscribe_path_answers(run, mailed, served):
    port, _ = served
    token = next(iter(mailed.values())).split("t=", 1)[1]
    body = b"List-Unsubscribe=One-Click"
    for path in ("/admin", "/", "/avregistrera/../admin", "/avregistreraX"):
        request = (
            f"POST {path}?t={token} HTTP/1.0\r\nHost: x\r\nContent-Type: "
            f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        assert status_of(raw(port, request)) == 404, path
    assert "0 unsubscribed" in run("subscribers", "count").stdout


def test_head_answers_without_a_body(mailed, served):
    port, _ = served
    link = next(iter(mailed.values()))
    query = link.split("?", 1)[1]
    response = raw(port, f"HEAD /avregistrera?{query} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    head, _, body = response.partition(b"\r\n\r\n")
    assert status_of(response) == 200 and body == b""
    assert b"Content-Length: " in head


def test_half_sent_requests_neither_pile_up_threads_nor_block_others(mailed, served):
    port, process = served
    stalled = []
    try:
        for _ in range(400):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn.sendall(b"POST /avregistrera HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            stalled.append(conn)
        link = next(iter(mailed.values()))
        query = link.split("?", 1)[1]
        response = raw(port, f"GET /avregistrera?{query} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        assert status_of(response) == 200
        status = Path(f"/proc/{process.pid}/status").read_text()
        threads = int(
            next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Threads:"))
        )
        assert threads <= 16, threads
    finally:
        for conn in stalled:
            conn.close()


def test_sigterm_stops_the_server_cleanly(served):
    _, process = served
    process.signal(signal.SIGTERM)
    assert process.wait() == 0
    assert "Traceback" not in process.stderr()


class Recorded:
    """Stands for the server where the point is that its loop never starts."""

    def __init__(self) -> None:
        self.runs = 0

    def run(self) -> None:
        self.runs += 1


def test_a_stop_asked_for_before_the_loop_starts_is_kept_and_never_a_traceback():
    # The port answers as soon as it is bound, so a supervisor's SIGTERM can come while the
    # sender thread is still starting. It must mean "do not start serving", not an
    # interrupt in the middle of start-up (click's "Aborted!", exit 1) or the default action.
    from blogtool.web.server import Stopper

    before = signal.getsignal(signal.SIGTERM)
    server = Recorded()
    with Stopper() as stopper:
        os.kill(os.getpid(), signal.SIGTERM)
        stopper.serve(server)
        os.kill(os.getpid(), signal.SIGTERM)  # a second one while shutting down: logged only
    assert server.runs == 0 and stopper.requested
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_stop_while_serving_ends_the_real_loop_once():
    from blogtool.web.server import Stopper

    socket_map: dict[int, object] = {}

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = make_server(app, "127.0.0.1", 0, socket_map=socket_map)
    port = server.effective_port

    def stop_when_answering() -> None:
        wait_for(lambda: listening(port), "the server listening")
        os.kill(os.getpid(), signal.SIGTERM)

    with Stopper() as stopper:
        thread = threading.Thread(target=stop_when_answering)
        thread.start()
        try:
            stopper.serve(server)  # returns when the signal ends the loop
        finally:
            thread.join()
            server.close()
        os.kill(os.getpid(), signal.SIGTERM)  # after the loop: no KeyboardInterrupt
    assert stopper.requested and not stopper.serving
