"""The unsubscribe endpoint over real HTTP on 127.0.0.1, fed the link from a real message."""

from __future__ import annotations

import email
import threading
import urllib.error
import urllib.request
from email import policy
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from blogtool.config import load_config
from blogtool.mail.web import make_app

from .conftest import NOW, SECRET
from .test_mail import SEND_NOW


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


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
    config = load_config(sample_site)
    server = make_server(
        "127.0.0.1", 0, make_app(config, SECRET.encode(), lambda: NOW), handler_class=Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def local(endpoint: str, link: str) -> str:
    parts = urlsplit(link)
    return f"{endpoint}{parts.path}?{parts.query}"


def request(url: str, data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
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
    assert "status_reason: one-click (RFC 8058)" in shown
    assert request(url, b"List-Unsubscribe=One-Click")[0] == 200  # twice is fine


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
