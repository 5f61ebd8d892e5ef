"""The reader service over real HTTP: waitress on 127.0.0.1, the real state database, and the
confirmation and data mails read back from the outbox the service sends them to."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import html
import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from email import policy
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from blogtool.config import load_config
from blogtool.delivery.transports import OutboxTransport
from blogtool.newsletter.compose import envelope_sender
from blogtool.web.app import make_app
from blogtool.web.server import Sender, access_logged, make_server

from . import processes
from .conftest import NOW, SECRET, Run  # web_site: the sample site with [web]
from .processes import Started, blogtool, wait_for
from .smtp_sink import free_port

SERIES = "torsdagstips"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


class Service:
    def __init__(self, site: Path, clock: Clock, log: list[str]):
        self.socket_map: dict = {}  # the server's loop, stopped from inside by processes.serving_waitress
        self.site, self.clock, self.log = site, clock, log
        config = load_config(site)
        self.config = config
        self.sender = Sender(
            config, lambda: OutboxTransport(config.outbox_dir), envelope_sender(config), clock,
            interval=0.2,
        )  # fmt: skip
        app = make_app(config, SECRET.encode(), clock, self.sender.wake)
        self.sender.prepare = app.resolve_requests
        self.server = make_server(access_logged(app), "127.0.0.1", 0, socket_map=self.socket_map)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.origin = self.url

    def request(
        self, path: str, data: dict | bytes | None = None, *, method: str | None = None,
        origin: str | None = "", headers: dict | None = None,
    ) -> tuple[int, str]:  # fmt: skip
        body = (
            data
            if isinstance(data, bytes) or data is None
            else urlencode(data, doseq=True).encode()
        )
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        if origin is not None and body is not None:
            req.add_header("Origin", origin or self.origin)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8")

    def local(self, link: str) -> str:
        parts = urlsplit(link)
        return f"{self.url}{parts.path}?{parts.query}"

    def mails(self, wait_for: int = 0) -> list[email.message.EmailMessage]:
        """The mails in the outbox, once there are ``wait_for`` of them and the service has
        no mail left to send (so no more are coming)."""

        def sent() -> list[Path] | None:
            found = sorted(
                self.config.outbox_dir.glob("out-*.eml"), key=lambda p: p.stat().st_mtime_ns
            )
            return found if len(found) >= wait_for and not self.queued() else None

        return [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in processes.wait_for(sent, f"{wait_for} mails in the outbox, none queued")
        ]

    def queued(self) -> int:
        """Mails the service has queued and not yet sent."""
        with contextlib.closing(self.db()) as db:
            query = "SELECT COUNT(*) FROM outgoing WHERE status IN ('queued', 'sending')"
            return db.execute(query).fetchone()[0]

    def link_in(self, message: email.message.EmailMessage, purpose: str) -> str:
        text = message.get_body(("plain",)).get_content()
        return self.local(re.search(rf"https://\S+\?t={purpose}\.\S+", text).group())

    def db(self) -> sqlite3.Connection:
        from blogtool.store import connect

        return connect(self.config.state_path)

    def rows(self, table: str) -> int:
        with self.db() as db:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


@pytest.fixture
def service(web_site, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="blogtool.web")
    svc = Service(web_site, Clock(), [])
    with processes.serving_waitress(svc.server, svc.socket_map):
        svc.sender.start()
        try:
            yield svc
        finally:
            svc.sender.stop()


def sign_up(svc: Service, address: str, lists=(SERIES,), **extra) -> tuple[int, str]:
    return svc.request("/nyhetsbrev/prenumerera", {"epost": address, "lista": list(lists), **extra})


def confirm_link(svc: Service, n: int = 1) -> str:
    return svc.link_in(svc.mails(wait_for=n)[n - 1], "confirm")


def subscriber_rows(svc: Service) -> list[tuple]:
    with svc.db() as db:
        query = "SELECT email, status, consent_source, consent_version FROM subscribers"
        return [tuple(r) for r in db.execute(query)]


# --- the double opt-in ------------------------------------------------------------------------


def test_a_sign_up_is_pending_until_the_button_on_the_link_is_pressed(service):
    status, body = sign_up(service, "Anna.Svensson@Example.se", name="Anna")
    assert status == 200 and "Titta i din inkorg" in body
    assert service.rows("signups") == 1 and subscriber_rows(service) == []
    message = service.mails(wait_for=1)[0]
    assert message["To"] == "Anna.Svensson@example.se"
    assert message["Auto-Submitted"] == "auto-generated"
    link = service.link_in(message, "confirm")
    status, body = service.request(link)  # a link scanner's GET: nothing happens
    assert status == 200 and "Ja, jag vill prenumerera" in body
    assert subscriber_rows(service) == []
    token = link.split("t=")[1]
    status, body = service.request("/nyhetsbrev/bekrafta", {"t": token})
    assert status == 200 and "Tack, nu är du med!" in body
    assert subscriber_rows(service) == [("Anna.Svensson@example.se", "active", "webbformulär", "1")]
    status, body = service.request("/nyhetsbrev/bekrafta", {"t": token})  # a second click
    assert status == 200 and "Redan bekräftad" in body
    assert len(subscriber_rows(service)) == 1


def test_a_pending_sign_up_changes_only_through_its_own_link(service):
    """Someone else posting the form with Anna's address while she has not confirmed changes
    neither her name nor her letters: she gets her own link again, for what she asked."""
    assert sign_up(service, "anna@example.se", namn="Anna")[0] == 200
    assert sign_up(service, "anna@example.se", namn="=Någon annan")[0] == 200
    first, second = service.mails(wait_for=2)
    assert service.link_in(first, "confirm") == service.link_in(second, "confirm")
    assert "Någon annan" not in second.get_body(("plain",)).get_content()
    with service.db() as db:
        row = db.execute("SELECT name, lists FROM signups").fetchone()
    assert tuple(row) == ("Anna", f'["{SERIES}"]')
    token = service.link_in(first, "confirm").split("t=")[1]
    assert service.request("/nyhetsbrev/bekrafta", {"t": token})[0] == 200
    with service.db() as db:
        name = db.execute("SELECT name FROM subscribers").fetchone()[0]
        chosen = [r[0] for r in db.execute("SELECT list FROM subscriptions")]
    assert name == "Anna" and chosen == [SERIES]


def test_the_answer_is_the_same_whatever_the_address_is(service, web_site):
    run = Run(web_site)
    assert run("subscribers", "add", "aktiv@example.se").exit_code == 0
    assert run("subscribers", "add", "slutat@example.se").exit_code == 0
    assert run("subscribers", "remove", "slutat@example.se").exit_code == 0
    assert run("subscribers", "add", "glomd@example.se").exit_code == 0
    assert run("subscribers", "forget", "glomd@example.se", "--yes").exit_code == 0
    sign_up(service, "vantar@example.se")
    answers = {
        address: sign_up(service, address)
        for address in ("ny@example.se", "vantar@example.se", "aktiv@example.se",
                        "slutat@example.se", "glomd@example.se")
    }  # fmt: skip
    assert len(set(answers.values())) == 1, answers
    # Each of them confirms before anything is sent to them; the forgotten one too.
    assert len(service.mails(wait_for=6)) == 6
    forgotten = next(m for m in service.mails() if m["To"] == "glomd@example.se")
    token = service.link_in(forgotten, "confirm").split("t=")[1]
    assert service.request("/nyhetsbrev/bekrafta", {"t": token})[0] == 200
    shown = run("subscribers", "show", "glomd@example.se")
    assert "status: active" in shown.stdout and "consent source: webbformulär" in shown.stdout


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "status", "text"),
    [
        ({"epost": "inte en adress", "lista": SERIES}, 400, "Adressen verkar inte stämma"),
        ({"epost": "anna@example.se"}, 400, "Välj minst ett brev"),
        ({"epost": "anna@example.se", "lista": "katter"}, 400, "Det brevet finns inte"),
        ({"epost": "anna@example.se", "lista": SERIES, "x": "y" * 5000}, 413, "För mycket data"),
    ],
    ids=["invalid-address", "missing-list", "unknown-list", "oversized"],
)
def test_a_bad_form_gets_a_page_and_stores_nothing(service, form, status, text):
    got, body = service.request("/nyhetsbrev/prenumerera", form)
    assert got == status and text in body and '<html lang="sv">' in body
    assert service.rows("signups") == 0 and service.rows("outgoing") == 0


def test_a_wrong_method_gets_405_with_allow(service):
    status, body = service.request("/nyhetsbrev/prenumerera")
    assert status == 405 and "Det går inte att göra så här" in body
    status, _ = service.request("/nyhetsbrev/bekrafta", b"", method="PUT")
    assert status == 405
    status, body = service.request("/nyhetsbrev/finns-inte")
    assert status == 404


def test_forged_expired_and_forgotten_links_change_nothing(service, web_site):
    sign_up(service, "anna@example.se")
    token = confirm_link(service).split("t=")[1]
    forged = [token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
              token.replace("confirm.1.", "confirm.2."), "confirm.1.0.xyz", "prefs." + token[8:]]  # fmt: skip
    for bad in forged:
        status, body = service.request("/nyhetsbrev/bekrafta", {"t": bad})
        assert status == 400 and "Länken fungerar inte" in body, bad
    service.clock.now = NOW + dt.timedelta(days=8)
    status, body = service.request("/nyhetsbrev/bekrafta", {"t": token})
    assert status == 410 and "Länken har gått ut" in body
    assert subscriber_rows(service) == []
    service.clock.now = NOW
    # Forgotten since: the sign-up is gone with the rest of what was kept about the address.
    assert Run(web_site)("subscribers", "forget", "anna@example.se", "--yes").exit_code == 0
    status, body = service.request("/nyhetsbrev/bekrafta", {"t": token})
    assert status == 400 and subscriber_rows(service) == []


def test_a_form_from_another_site_is_refused(service):
    status, body = service.request(
        "/nyhetsbrev/prenumerera",
        {"epost": "a@example.se", "lista": SERIES},
        origin="https://evil.example",
    )
    assert status == 403 and "fel ställe" in body
    status, _ = service.request(
        "/nyhetsbrev/prenumerera", {"epost": "a@example.se", "lista": SERIES}, origin=None
    )
    assert status == 403
    ok, _ = service.request(
        "/nyhetsbrev/prenumerera", {"epost": "a@example.se", "lista": SERIES},
        origin=None, headers={"Referer": "https://blogg.vaxjo.example/torsdagstips/"},
    )  # fmt: skip
    assert ok == 200
    assert service.rows("signups") == 1


def test_the_honeypot_stores_nothing_and_looks_the_same(service):
    status, body = sign_up(service, "robot@example.se", webbplats="http://spam.example")
    assert status == 200 and body == sign_up(service, "manniska@example.se")[1]
    with service.db() as db:
        assert [r[0] for r in db.execute("SELECT email FROM signups")] == ["manniska@example.se"]


# --- limits -----------------------------------------------------------------------------------------


def test_one_client_gets_429_after_its_limit_and_the_count_survives_a_restart(service, web_site):
    for n in range(12):
        assert sign_up(service, f"p{n}@example.se")[0] == 200
    status, body = sign_up(service, "p12@example.se")
    assert status == 429 and "För många försök" in body
    assert service.rows("signups") == 12
    # A new service on the same database still counts this client.
    other = Service(web_site, service.clock, [])
    with processes.serving_waitress(other.server, other.socket_map):
        assert sign_up(other, "p13@example.se")[0] == 429
        service.clock.now = NOW + dt.timedelta(minutes=11)
        assert sign_up(other, "p13@example.se")[0] == 200


def test_one_address_gets_at_most_three_mails_a_day(service):
    for _ in range(6):
        assert sign_up(service, "ivrig@example.se")[0] == 200
    assert len(service.mails(wait_for=3)) == 3  # (and none queued: no more are coming)
    assert service.rows("signups") == 1
    service.clock.now = NOW + dt.timedelta(days=1)
    assert sign_up(service, "ivrig@example.se")[0] == 200
    assert len(service.mails(wait_for=4)) == 4


# --- preferences, lists and my data --------------------------------------------------------------


def test_preferences_from_the_newsletter_choose_what_comes(service, web_site):
    run = Run(web_site)
    for address in ("anna@example.se", "bo@example.se"):
        assert run("subscribers", "add", address).exit_code == 0
    assert run("newsletter", "build", "--since", "2026-11-20", now=NOW).exit_code == 0
    assert run("newsletter", "send", now=NOW).exit_code == 0
    letter = next(
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in service.config.outbox_dir.glob("*.eml")
        if b"anna@example.se" in p.read_bytes() and not p.name.startswith("out-")
    )
    link = service.link_in(letter, "prefs")
    status, body = service.request(link)
    assert status == 200 and "Välj vilka brev du får" in body and "anna@example.se" in body
    token = link.split("t=")[1]
    # Unticking every letter offers to leave, with a way back; it changes nothing by itself.
    status, body = service.request("/nyhetsbrev/installningar", {"t": token, "lista": []})
    assert status == 200 and "Du kryssade inte i något brev" in body
    assert '<form method="post" action="/nyhetsbrev/avregistrera">' in body
    assert "Avregistrera mig" in body and "installningar?t=prefs." in body
    assert "status: active" in run("subscribers", "show", "anna@example.se").stdout
    status, body = service.request(
        "/nyhetsbrev/installningar", {"t": token, "lista": "blogg", "namn": "Anna"}
    )
    assert status == 200 and "Nya blogginlägg" in body
    # The next tips issue goes to Bo only.
    later = NOW + dt.timedelta(days=6)
    assert run("newsletter", "build", now=later).exit_code == 0
    result = run("newsletter", "send", "--dry-run", now=later)
    assert "would send 1 message" in result.stdout
    listed = json.loads(run("subscribers", "list", "--json").stdout)
    assert {s["email"]: s["lists"] for s in listed} == {
        "anna@example.se": ["blogg"],
        "bo@example.se": [SERIES],
    }


def test_my_data_shows_the_record_and_erases_it(service, web_site):
    sign_up(service, "anna@example.se", namn="Anna")
    token = confirm_link(service).split("t=")[1]
    service.request("/nyhetsbrev/bekrafta", {"t": token})
    status, body = service.request("/nyhetsbrev/mina-uppgifter", {"epost": "okand@example.se"})
    same = service.request("/nyhetsbrev/mina-uppgifter", {"epost": "anna@example.se"})
    assert status == 200 and (status, body) == same  # no telling who is here
    link = service.link_in(service.mails(wait_for=2)[1], "data")
    status, body = service.request(link)
    assert status == 200 and "anna@example.se" in body and "webbformulär" in body
    assert "Torsdagstips varje vecka" in body and "Radera mina uppgifter" in body
    data_token = link.split("t=")[1]
    # The download is exactly what the page shows.
    status, download = service.request(link + "&format=json")
    record = json.loads(download)
    assert status == 200 and record["email"] == "anna@example.se" and record["name"] == "Anna"
    assert [x["name"] for x in record["letters"]] == ["Torsdagstips varje vecka"]
    assert record["consent"]["source"] == "webbformulär" and record["status"] == "active"
    # Erasing asks once more; only the second button erases.
    status, body = service.request("/nyhetsbrev/mina-uppgifter/radera", {"t": data_token})
    assert status == 200 and "Radera allt om dig?" in body and 'value="ja"' in body
    assert len(subscriber_rows(service)) == 1
    status, body = service.request(
        "/nyhetsbrev/mina-uppgifter/radera", {"t": data_token, "bekrafta": "ja"}
    )
    assert status == 200 and "raderade" in body
    assert subscriber_rows(service) == [] and service.rows("signups") == 0
    assert service.rows("outgoing") == 0
    assert service.request(link)[0] == 400  # the link is spent with the data
    shown = Run(web_site)("subscribers", "show", "anna@example.se")
    assert shown.exit_code == 1


def test_asking_for_my_data_does_the_same_work_for_a_subscriber_and_a_stranger(web_site):
    """The page answers before anyone is looked up: a subscriber's request and a stranger's
    leave the same row behind (so they take the same time); the sender finds out later."""
    from blogtool.store import opened

    assert Run(web_site)("subscribers", "add", "anna@example.se").exit_code == 0
    config = load_config(web_site)
    app = make_app(config, SECRET.encode(), lambda: NOW)  # no sender: nothing resolves yet
    socket_map: dict = {}
    server = make_server(app, "127.0.0.1", 0, socket_map=socket_map)
    url = f"http://127.0.0.1:{server.effective_port}/nyhetsbrev/mina-uppgifter"
    origin = {"Origin": "https://blogg.vaxjo.example",
              "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip

    def ask(address: str) -> tuple[int, bytes]:
        data = urlencode({"epost": address}).encode()
        req = urllib.request.Request(url, data=data, headers=origin)
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()

    def queued() -> list[tuple]:
        with opened(config.state_path) as db:
            return [tuple(r) for r in db.execute(
                "SELECT purpose, status, message IS NULL, attempts FROM outgoing ORDER BY id")]  # fmt: skip

    with processes.serving_waitress(server, socket_map):
        member, stranger = ask("anna@example.se"), ask("okand@example.se")
    assert member == stranger
    assert queued() == [("my-data-request", "queued", 1, 0)] * 2
    with opened(config.state_path) as db:
        assert db.execute("SELECT COUNT(*) FROM mail_quota").fetchone()[0] == 0
        app.resolve_requests(db)
        rows = [tuple(r) for r in db.execute("SELECT purpose, recipient FROM outgoing")]
    assert rows == [("my-data", "anna@example.se")]  # the stranger's request is forgotten


def test_health_and_an_access_log_without_addresses(service, caplog):
    status, body = service.request("/nyhetsbrev/halsa")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    sign_up(service, "hemlig.person@example.se")
    lines = [r.getMessage() for r in caplog.records if r.name == "blogtool.web"]
    assert any('"POST /nyhetsbrev/prenumerera" 200' in line for line in lines)
    assert not any("hemlig" in line or "@" in line for line in lines)


def test_run_deletes_sign_ups_whose_link_expired(service, web_site):
    sign_up(service, "sen@example.se")
    sign_up(service, "snabb@example.se")
    token = confirm_link(service, 2).split("t=")[1]
    service.request("/nyhetsbrev/bekrafta", {"t": token})
    run = Run(web_site)
    result = run("run", now=NOW + dt.timedelta(days=8))
    assert "deleted 1 unconfirmed sign-ups" in result.stderr
    assert service.rows("signups") == 0  # the confirmed one's row is gone too
    assert [r[0] for r in subscriber_rows(service)] == ["snabb@example.se"]


def test_run_makes_the_data_link_a_stopped_service_left_as_a_request(web_site):
    """The service queued a request for Anna's data link and a stranger's, then stopped
    before its sender got to them: the next run mails Anna her link and forgets the other."""
    run = Run(web_site)
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    app = make_app(load_config(web_site), SECRET.encode(), lambda: NOW)  # no sender at all
    for address in ("anna@example.se", "okand@example.se"):
        body = urlencode({"epost": address}).encode()
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/nyhetsbrev/mina-uppgifter",
                   "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
                   "HTTP_ORIGIN": "https://blogg.vaxjo.example", "REMOTE_ADDR": "127.0.0.1"}  # fmt: skip
        app(environ, lambda status, headers: None)
    result = run("run", now=NOW)
    assert result.exit_code == 0 and "reader mail: 1 sent" in result.stderr, result.stderr
    mailed = [p.read_bytes() for p in (web_site / "outbox").glob("out-*.eml")]
    assert len(mailed) == 1 and b"To: anna@example.se" in mailed[0]
    with sqlite3.connect(web_site / ".blogtool/state.db") as db:
        assert db.execute("SELECT COUNT(*) FROM outgoing WHERE message IS NULL "
                          "AND status = 'queued'").fetchone()[0] == 0  # fmt: skip
    assert "reader mail:" not in run("run", now=NOW).stderr  # nothing left to send


def test_blogtool_web_stops_cleanly_on_sigterm(web_site):
    port = free_port()
    command = blogtool("--site", str(web_site), "web", "--port", str(port))
    env = {"BLOGTOOL_SECRET": SECRET, "PATH": "/usr/bin:/bin", "HOME": str(web_site)}
    with Started(command, env=env) as process:
        wait_for(lambda: _healthy(port), "the service answering", process=process)
        process.signal(signal.SIGTERM)
        assert process.wait() == 0
    err = process.stderr()
    assert "Traceback" not in err and "stopping (signal 15)" in err


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/nyhetsbrev/halsa", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def test_concurrent_sign_ups_under_load_lose_and_double_nothing():
    """A smaller run of bench/signup.py (make bench runs 200 and 50): a real `blogtool web`
    process, sign-ups released at the same moment."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / "bench/signup.py"),
         "--signups", "40", "--same", "20"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pending rows:            40" in result.stdout
    assert "confirmations queued:    40" in result.stdout
    assert "  rows:                    1" in result.stdout


def test_the_my_data_benchmark_runs_and_mails_only_the_subscriber():
    """A smaller run of bench/mydata.py (make bench runs 200): it times the answers, and
    fails if one is not 200 or the subscriber's mails were not all sent."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / "bench/mydata.py"),
         "--requests", "5"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mails sent: 5 (to the subscriber only)" in result.stdout


def test_a_body_that_is_not_a_form_gets_400_and_stores_nothing(service):
    status, body = service.request("/nyhetsbrev/prenumerera", b"epost=\xff\xfe&lista=\xff")
    assert status == 400 and "Formuläret gick inte att läsa" in body
    assert service.rows("signups") == 0


def test_the_pages_still_render_when_the_state_folder_cannot_be_written(web_site):
    """The compiled-template cache lives in the state folder; one that cannot be written (a
    file-size limit makes every write there fail, as a read-only or full disk does) only
    means compiling again: the reader's page still answers 200."""
    import resource
    import signal

    config = load_config(web_site)
    app = make_app(config, SECRET.encode(), lambda: NOW)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))  # any write past byte 0 fails
    try:
        answers: list[str] = []
        body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/nyhetsbrev/"},
                   lambda status, headers: answers.append(status))  # fmt: skip
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert answers == ["200 OK"] and b"<form" in b"".join(body)


def test_a_local_trial_on_127_0_0_1_works_with_the_links_as_mailed(sample_site):
    """[web] base_url may be http on this machine: a sign-up through the real `blogtool web`,
    and the confirmation link as the mail has it, with no rewriting."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/nyhetsbrev/"
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + f'\n[web]\nbase_url = "{base}"\n', "utf-8")
    command = blogtool("--site", str(sample_site), "web", "--port", str(port))
    env = {"BLOGTOOL_SECRET": SECRET, "PATH": "/usr/bin:/bin", "HOME": str(sample_site)}
    outbox = sample_site / "outbox"
    with Started(command, env=env) as process:
        wait_for(lambda: _healthy(port), "the service answering", process=process)
        form = urlencode({"epost": "anna@example.se", "lista": SERIES}).encode()
        request = urllib.request.Request(base + "prenumerera", data=form)
        request.add_header("Origin", f"http://127.0.0.1:{port}")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200
        (mail,) = wait_for(lambda: list(outbox.glob("out-*.eml")), "the confirmation mail")
        message = email.message_from_bytes(mail.read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content()
        link = re.search(rf"{re.escape(base)}\S+\?t=confirm\.\S+", text)
        assert link, text
        with urllib.request.urlopen(link.group(), timeout=60) as response:
            assert response.status == 200
        token = link.group().split("t=", 1)[1]
        confirm = urllib.request.Request(base + "bekrafta", data=urlencode({"t": token}).encode())
        confirm.add_header("Origin", f"http://127.0.0.1:{port}")
        with urllib.request.urlopen(confirm, timeout=60) as response:
            assert "Tack, nu är du med!" in response.read().decode("utf-8")


@pytest.mark.parametrize(
    "url",
    ["http://blogg.vaxjo.example/nyhetsbrev/", "http://192.168.1.10:8080/", "ftp://localhost/"],
)
def test_http_is_refused_for_any_host_but_this_machine(run, sample_site, url):
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + f'\n[web]\nbase_url = "{url}"\n', "utf-8")
    result = run("check")
    assert result.exit_code != 0
    assert "[web] base_url" in result.stderr and "expected an https:// URL" in result.stderr


def test_no_mail_in_the_outbox_is_ever_written_over(service, web_site):
    """Anna signs up, erases everything, and signs up again: her queue rows are gone, so the
    new confirmation gets the first one's queue number. Both mails stay in the outbox."""
    sign_up(service, "anna@example.se", name="Anna")
    first = confirm_link(service)
    service.request("/nyhetsbrev/bekrafta", {"t": first.split("t=")[1]})
    service.request("/nyhetsbrev/mina-uppgifter", {"epost": "anna@example.se"})
    data = service.link_in(service.mails(wait_for=2)[1], "data")
    assert (
        "raderade"
        in service.request(
            "/nyhetsbrev/mina-uppgifter/radera", {"t": data.split("t=")[1], "bekrafta": "ja"}
        )[1]
    )
    outbox = service.config.outbox_dir
    before = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    assert len(before) == 2
    sign_up(service, "anna@example.se", name="Anna igen")
    mails = service.mails(wait_for=3)
    after = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    assert len(after) == 3 and all(after[name] == data for name, data in before.items())
    assert (
        mails[-1]["To"] == "anna@example.se"
        and "prenumerera" in mails[-1].get_body(("plain",)).get_content()
    )


def test_reader_pages_name_the_readers_own_letters_and_tell_the_truth(service, web_site):
    run = Run(web_site)
    # Signing up for both: the language's list ("… och …"), and a way to one's choices.
    sign_up(service, "anna@example.se", lists=(SERIES, "blogg"))
    token = confirm_link(service).split("t=")[1]
    status, body = service.request("/nyhetsbrev/bekrafta", {"t": token})
    assert status == 200 and "Torsdagstips varje vecka och Nya blogginlägg" in body
    prefs = re.search(r'href="([^"]*installningar\?t=prefs\.[^"]+)"', body)
    assert prefs, body
    assert (
        "Välj vilka brev du får" in service.request(service.local(html.unescape(prefs.group(1))))[1]
    )

    # A reader of the blog's letter only: the unsubscribe page names that letter.
    assert run("subscribers", "add", "bo@example.se", "--list", "blogg").exit_code == 0
    assert run("newsletter", "build", "--since", "2026-11-20", now=NOW).exit_code == 0
    from blogtool.store import connect
    from blogtool.subscribers.people import email_key
    from blogtool.subscribers.tokens import make_token

    with connect(service.config.state_path) as db:
        bo = db.execute("SELECT id FROM subscribers WHERE email = 'bo@example.se'").fetchone()[0]
    leave = make_token(SECRET.encode(), bo, email_key("bo@example.se"))
    status, body = service.request(f"/nyhetsbrev/avregistrera?t={leave}")
    assert status == 200 and "Avregistrera dig från Nya blogginlägg" in body
    assert "Torsdagstips" not in body[body.index("<main") : body.index("</main>")]
    status, body = service.request("/nyhetsbrev/avregistrera", {"t": leave})
    assert status == 200 and "Du får inte fler av Nya blogginlägg" in body

    # Bo, unsubscribed, saves choices: told that he gets nothing, and how to come back.
    from blogtool.subscribers.tokens import make_link_token

    link = make_link_token(SECRET.encode(), "prefs", bo, email_key("bo@example.se"))
    status, body = service.request(
        "/nyhetsbrev/installningar", {"t": link, "lista": [SERIES, "blogg"]}
    )
    assert status == 200 and "Men du är avregistrerad" in body and "Du får nu" not in body
    assert "status: unsubscribed" in run("subscribers", "show", "bo@example.se").stdout


# --- the accessibility statement's report form ------------------------------------------------


def test_a_readers_accessibility_report_reaches_the_outbox_addressed_to_the_contact(service):
    """DOS-lagen: readers report what they cannot use. The form on the statement posts here;
    the report is queued and mailed to [accessibility] contact, answerable to the reader."""
    status, body = service.request("/nyhetsbrev/tillganglighet?sida=/torsdagstips/")
    assert status == 200 and "Vad kunde du inte använda?" in body
    assert 'value="/torsdagstips/"' in body  # the page the reader came from, filled in
    report = "Knappen <Prenumerera> går inte att nå med tangentbordet.\nJag använder NVDA."
    status, body = service.request(
        "/nyhetsbrev/tillganglighet",
        {
            "meddelande": report,
            "sida": "https://blogg.vaxjo.example/",
            "epost": "Lasare@Example.se",
        },
    )
    assert status == 200 and "Tack för din rapport" in body and "Vi svarar dig" in body
    (mail,) = service.mails(wait_for=1)
    assert mail["To"] == "kommunikation@vaxjo.example"
    assert mail["Reply-To"] == "Lasare@example.se"  # an answer goes to the reader
    assert mail["Subject"] == "En rapport om tillgängligheten på Kommunbloggen"
    text = mail.get_body(("plain",)).get_content()
    assert "går inte att nå med tangentbordet" in text and "Jag använder NVDA." in text
    assert "Sidans adress: https://blogg.vaxjo.example/" in text
    html_part = mail.get_body(("html",)).get_content()
    assert "&lt;Prenumerera&gt;" in html_part and "<Prenumerera>" not in html_part  # escaped
    assert service.rows("outgoing") == 1  # sent, its content deleted
    with service.db() as db:
        row = db.execute("SELECT purpose, recipient, message FROM outgoing").fetchone()
    assert tuple(row) == ("accessibility", None, None)


def test_an_anonymous_report_is_sent_and_bad_reports_store_nothing(service):
    status, body = service.request("/nyhetsbrev/tillganglighet", {"meddelande": "   "})
    assert status == 400 and "Rapporten är tom" in body
    status, body = service.request(
        "/nyhetsbrev/tillganglighet", {"meddelande": "Text", "epost": "inte en adress"}
    )
    assert status == 400 and "Adressen verkar inte stämma" in body
    status, body = service.request("/nyhetsbrev/tillganglighet", {"meddelande": "ö" * 2001})
    assert status == 400  # over the form's limit of characters, within its bytes
    status, body = service.request("/nyhetsbrev/tillganglighet", {"meddelande": "ö" * 3000})
    assert status == 413 and service.rows("outgoing") == 0
    status, _ = service.request(
        "/nyhetsbrev/tillganglighet", {"meddelande": "Text"}, origin="https://evil.example"
    )
    assert status == 403
    status, body = service.request(
        "/nyhetsbrev/tillganglighet", {"meddelande": "Köp billigt", "webbplats": "spam"}
    )
    assert status == 200 and service.rows("outgoing") == 0  # the honeypot: looks the same
    status, body = service.request("/nyhetsbrev/tillganglighet", {"meddelande": "Kontrasten."})
    assert status == 200 and "Du angav ingen adress" in body
    (mail,) = service.mails(wait_for=1)
    assert mail["Reply-To"] is None and "Kontrasten." in mail.get_body(("plain",)).get_content()


def test_the_report_form_is_not_there_without_a_contact(web_site):
    config = web_site / "blogtool.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace('contact = "kommunikation@vaxjo.example"\n', ""), "utf-8")
    svc = Service(web_site, Clock(), [])
    with processes.serving_waitress(svc.server, svc.socket_map):
        status, _ = svc.request("/nyhetsbrev/tillganglighet")
        assert status == 404
        status, _ = svc.request("/nyhetsbrev/tillganglighet", {"meddelande": "Text"})
        assert status == 404
        assert svc.rows("outgoing") == 0
