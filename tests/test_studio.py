"""The studio over real HTTP: a waitress server on 127.0.0.1 with the studio's application,
the sample site's files, a real state database; the browser's walk is in
test_browser_studio.py.

Every change the studio makes is checked on disk: what it wrote, and every byte it did not
mean to change."""

from __future__ import annotations

import datetime as dt
import email
import http.client
import io
import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from email import policy
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import frontmatter
import pytest
from PIL import Image

from blogtool.config import load_config
from blogtool.delivery.transports import OutboxTransport
from blogtool.newsletter.proofing import approved_at, coming_issue
from blogtool.store import opened
from blogtool.studio import history
from blogtool.studio.app import Studio
from blogtool.studio.auth import Gate
from blogtool.web.server import make_server

from .conftest import NOW, SECRET, Run, write
from .processes import serving_waitress

PUBLISHER = "anna.lind@vaxjo.example"
WRITER = "erik.berg@vaxjo.example"
POST = "posts/2026-11-20-ett-ar-med-e-tjanster.md"
DRAFT = "posts/2026-12-01-ett-utkast.md"
DRAFT_TEXT = """\
---
# A comment the studio must keep.
title: "Ett utkast"
date: 2026-12-01
author: Kommundirektören
summary: Om hur vi   skriver.
tags:
  - e-tjänster
  - digitalisering
draft: true
---

Första stycket, som ingen rör.
"""


class Client:
    """A person's browser, as far as HTTP goes: a cookie, Origin on every POST, no
    redirects followed (a test looks at each answer)."""

    def __init__(self, base: str):
        self.base = base
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookie = ""
        self.headers: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        sent = {"Host": f"{self.host}:{self.port}", **self.headers, **(headers or {})}
        if self.cookie:
            sent["Cookie"] = self.cookie
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            self.cookie = value.split(";", 1)[0]
        return response, data.decode("utf-8", "replace")

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, fields: dict | list, origin: str | None = None, accept=None):
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": origin or self.base,
        }
        if accept:
            headers["Accept"] = accept
        return self.request("POST", path, urlencode(fields, doseq=True).encode(), headers)

    def post_multipart(self, path: str, fields: dict, files: dict[str, tuple[str, bytes]]):
        boundary = "----studio-test-boundary"
        out = io.BytesIO()
        for name, value in fields.items():
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            )
            out.write(str(value).encode("utf-8") + b"\r\n")
        for name, (filename, data) in files.items():
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            )
            out.write(data + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Origin": self.base,
        }
        return self.request("POST", path, out.getvalue(), headers)

    def csrf(self, path: str = "/") -> str:
        _response, page = self.get(path)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def form_of(self, path: str) -> dict[str, str]:
        """The editor's fields as its page fills them in."""
        _response, page = self.get(path)
        form = page[
            page.index('<form id="editor"') : page.index("</form>", page.index('id="editor"'))
        ]
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
        for name, value in re.findall(
            r'<input id="f-\w+" name="(\w+)" type="(?:text|datetime-local)" value="([^"]*)"', form
        ):
            fields[name] = value
        for name, value in re.findall(
            r'<textarea id="f-\w+" name="(\w+)"[^>]*>(.*?)</textarea>', form, re.S
        ):
            fields[name] = _unescape(value)
        for name, options in re.findall(
            r'<select id="f-\w+" name="(\w+)"[^>]*>(.*?)</select>', form, re.S
        ):
            chosen = re.search(r'<option value="([^"]*)" selected>', options)
            fields[name] = chosen.group(1) if chosen else ""
        return {k: _unescape(v) for k, v in fields.items()}


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def studio_server(root: Path, user: str = PUBLISHER, clock=None, **config_changes):
    config = load_config(root)
    clock = clock or Clock(NOW)
    gate = Gate(config, SECRET.encode(), clock, user)
    app = Studio(
        config, SECRET.encode(), clock, gate, lambda: OutboxTransport(config.outbox_dir),
        **config_changes,
    )  # fmt: skip
    with opened(config.state_path):
        pass
    socket_map: dict = {}
    server = make_server(app, "127.0.0.1", 0, socket_map=socket_map, max_body=12 * 1024 * 1024)
    with serving_waitress(server, socket_map):
        base = f"http://127.0.0.1:{server.effective_port}"
        yield app, gate, base


def logged_in(gate: Gate, base: str) -> Client:
    client = Client(base)
    response, _page = client.get(f"/login?token={gate.login_token}")
    assert response.status == 303, response.status
    return client


@pytest.fixture
def studio(sample_site):
    write(sample_site / DRAFT, DRAFT_TEXT)
    with studio_server(sample_site) as (app, gate, base):
        yield sample_site, app, gate, logged_in(gate, base)


def png(size=(64, 48), colour=(30, 120, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


# --- logging in ---------------------------------------------------------------------------------


def test_the_login_address_works_once_and_sets_a_strict_session_cookie(sample_site):
    with studio_server(sample_site) as (_app, gate, base):
        client = Client(base)
        response, _page = client.get("/")
        assert response.status == 401
        token = gate.login_token
        response, _page = client.get(f"/login?token={token}")
        assert response.status == 303 and response.headers["Location"] == "/"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=43200" in cookie
        assert "Secure" not in cookie  # plain http on this machine; https adds it
        response, page = client.get("/")
        assert response.status == 200 and "<h1>Översikt</h1>" in page
        assert "Content-Security-Policy" in response.headers
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]

        # Spent: the same token logs nobody else in; a new one does.
        other = Client(base)
        assert other.get(f"/login?token={token}")[0].status == 403
        assert gate.login_token != token
        assert other.get(f"/login?token={gate.login_token}")[0].status == 303


def test_a_forged_or_expired_session_is_refused(sample_site):
    clock = Clock(NOW)
    with studio_server(sample_site, clock=clock) as (_app, gate, base):
        client = logged_in(gate, base)
        assert client.get("/")[0].status == 200
        name, value = client.cookie.split("=", 1)
        forged = Client(base)
        forged.cookie = f"{name}={value[:-2]}xx"
        assert forged.get("/")[0].status == 401
        clock.now = NOW + dt.timedelta(hours=13)  # [studio] session is 12h
        assert client.get("/")[0].status == 401


def test_single_sign_on_names_the_person_only_from_the_trusted_proxy(sample_site):
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace(
            "[studio.people]",
            '[studio]\nuser_header = "X-Forwarded-User"\ntrusted_proxy = "127.0.0.1"\n\n[studio.people]',
        ),
        "utf-8",
    )
    with studio_server(sample_site) as (_app, _gate, base):
        client = Client(base)
        client.headers["X-Forwarded-User"] = WRITER
        response, page = client.get("/")
        assert response.status == 200 and WRITER in page and "skribent" in page
        client.headers["X-Forwarded-User"] = "someone.else@example.se"
        assert client.get("/")[0].status == 401
    with studio_server(sample_site, trusted_proxy="192.0.2.1") as (_app, _gate, base):
        client = Client(base)  # 127.0.0.1 is not the proxy now: its header names nobody
        client.headers["X-Forwarded-User"] = PUBLISHER
        assert client.get("/")[0].status == 401


# --- changes need the session's token, from the studio's pages ------------------------------------


def test_a_post_without_the_token_or_from_another_site_changes_nothing(studio):
    root, _app, _gate, client = studio
    before = (root / DRAFT).read_bytes()
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["title"] = "Kapad"
    response, _page = client.post(f"/edit/{DRAFT}", {**fields, "csrf": "fel"})
    assert response.status == 403
    response, _page = client.post(f"/edit/{DRAFT}", fields, origin="https://evil.example")
    assert response.status == 403
    assert (root / DRAFT).read_bytes() == before


# --- writing ------------------------------------------------------------------------------------


def test_a_new_post_is_a_draft_file_with_the_fields_and_text_written(studio):
    root, _app, _gate, client = studio
    csrf = client.csrf("/new/post")
    response, _page = client.post(
        "/new/post",
        {
            "csrf": csrf,
            "title": "Vinterväghållning: så prioriterar vi",
            "summary": "Vilka gator plogas först, och varför.",
            "tags": "trafik, vinter",
            "date": "2026-12-15T07:30",
            "body": "Först plogar vi **busslinjerna**.\r\n\r\nSedan cykelvägarna.\r\n",
            "action": "save",
        },
    )
    assert response.status == 303, _page
    location = response.headers["Location"]
    assert location.startswith("/edit/posts/2026-11-28-vintervaghallning-sa-prioriterar-vi.md")
    path = root / "posts/2026-11-28-vintervaghallning-sa-prioriterar-vi.md"
    post = frontmatter.loads(path.read_text("utf-8"))
    assert post["title"] == "Vinterväghållning: så prioriterar vi"
    assert post["summary"] == "Vilka gator plogas först, och varför."
    assert post["tags"] == ["trafik", "vinter"]
    assert post["draft"] is True
    assert str(post["date"]).startswith("2026-12-15T07:30")
    assert post.content == "Först plogar vi **busslinjerna**.\n\nSedan cykelvägarna."
    assert b"\r" not in path.read_bytes()
    _response, page = client.get(location)
    assert "Sparat." in page
    with opened(load_config(root).state_path) as db:
        done = [(e.action, e.person) for e in history.of_path(db, str(path.relative_to(root)))]
    assert done == [("create", PUBLISHER)]
    # The command line reads what the studio wrote.
    assert "vintervaghallning" in Run(root)("list").stdout


def test_a_save_changes_only_the_lines_of_what_changed(studio):
    """Title edited in the studio: that line, nothing else. Then the command line schedules
    it (two lines), and a save in the studio without a change writes nothing at all."""
    root, _app, _gate, client = studio
    fields = client.form_of(f"/edit/{DRAFT}")
    assert fields["title"] == "Ett utkast" and fields["tags"] == "e-tjänster, digitalisering"
    fields["title"] = "Ett utkast: nu med kolon"
    response, _page = client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})
    assert response.status == 303
    after = (root / DRAFT).read_text("utf-8")
    assert after == DRAFT_TEXT.replace('title: "Ett utkast"', "title: 'Ett utkast: nu med kolon'")

    run = Run(root)
    assert run("schedule", DRAFT, "--at", "2026-12-20 09:00").exit_code == 0
    scheduled = (root / DRAFT).read_bytes()
    fields = client.form_of(f"/edit/{DRAFT}")
    response, _page = client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})
    assert response.status == 303
    assert (root / DRAFT).read_bytes() == scheduled

    # The topics as a list in brackets, the rest as it was.
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["tags"] = "e-tjänster, vinter"
    assert client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})[0].status == 303
    text = (root / DRAFT).read_text("utf-8")
    assert "tags: [e-tjänster, vinter]\ndraft: false\n" in text
    assert (
        "# A comment the studio must keep.\n" in text and "summary: Om hur vi   skriver.\n" in text
    )
    assert text.endswith("\n\nFörsta stycket, som ingen rör.\n")


def test_a_file_with_windows_line_endings_keeps_them(studio):
    root, _app, _gate, client = studio
    (root / DRAFT).write_bytes(DRAFT_TEXT.replace("\n", "\r\n").encode())
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["body"] = "Första stycket, som ingen rör.\r\n\r\nEtt nytt stycke.\r\n"
    assert client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})[0].status == 303
    raw = (root / DRAFT).read_bytes()
    assert raw == (DRAFT_TEXT + "\nEtt nytt stycke.\n").replace("\n", "\r\n").encode()


def test_a_save_over_a_file_changed_on_disk_is_refused_showing_both(studio):
    root, _app, _gate, client = studio
    fields = client.form_of(f"/edit/{DRAFT}")
    theirs = DRAFT_TEXT.replace("Första stycket", "Kollegans stycke")
    (root / DRAFT).write_text(theirs, "utf-8")  # a colleague, the command line, a git pull
    fields["body"] = "Mitt eget stycke.\n"
    response, page = client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})
    assert response.status == 409
    assert (root / DRAFT).read_text("utf-8") == theirs
    assert "Kollegans stycke" in page and "Mitt eget stycke." in page
    assert "-Kollegans stycke, som ingen rör." in page and "+Mitt eget stycke." in page


def test_an_invalid_value_is_shown_at_its_field_and_nothing_is_written(studio):
    root, _app, _gate, client = studio
    before = (root / DRAFT).read_bytes()
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["date"] = "2026-13-45T08:00"
    response, page = client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})
    assert response.status == 400
    assert (root / DRAFT).read_bytes() == before
    checks = re.search(r'<ul class="checks" id="c-date"[^>]*>(.*?)</ul>', page, re.S).group(1)
    assert "Fel:" in checks


# --- scheduling ---------------------------------------------------------------------------------


def test_a_writer_is_refused_a_publishers_actions_in_the_page_and_the_server(sample_site):
    write(sample_site / DRAFT, DRAFT_TEXT)
    with studio_server(sample_site, user=WRITER) as (_app, gate, base):
        client = logged_in(gate, base)
        _response, page = client.get(f"/edit/{DRAFT}")
        assert 'value="schedule"' not in page and "En publicist schemalägger" in page
        fields = client.form_of(f"/edit/{DRAFT}")
        fields["date"] = "2026-12-20T09:00"
        before = (sample_site / DRAFT).read_bytes()
        for action in ("schedule", "publish", "unschedule"):
            response, page = client.post(f"/edit/{DRAFT}", {**fields, "action": action})
            assert response.status == 403 and "Bara en publicist" in page
        assert (sample_site / DRAFT).read_bytes() == before
        # A writer saves drafts, but not over what is scheduled or published.
        response, _page = client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})
        assert response.status == 303
        fields = client.form_of(f"/edit/{POST}")
        fields["title"] = "Ändrad av en skribent"
        before = (sample_site / POST).read_bytes()
        assert client.post(f"/edit/{POST}", {**fields, "action": "save"})[0].status == 403
        assert (sample_site / POST).read_bytes() == before
        response, _page = client.post("/newsletter/approve", {"csrf": client.csrf(), "digest": "x"})
        assert response.status == 403


def test_schedule_and_unschedule_with_the_command_lines_rules(studio):
    root, _app, _gate, client = studio
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["date"] = "2026-12-20T09:00"
    response, _page = client.post(f"/edit/{DRAFT}", {**fields, "action": "schedule"})
    assert response.status == 303 and "done=scheduled" in response.headers["Location"]
    post = frontmatter.loads((root / DRAFT).read_text("utf-8"))
    assert post["draft"] is False and str(post["date"]) == "2026-12-20T09:00+01:00"
    _response, page = client.get(f"/edit/{DRAFT}")
    assert "schemalagd" in page and 'value="unschedule"' in page

    fields = client.form_of(f"/edit/{DRAFT}")
    response, _page = client.post(f"/edit/{DRAFT}", {**fields, "action": "unschedule"})
    assert response.status == 303
    assert frontmatter.loads((root / DRAFT).read_text("utf-8"))["draft"] is True

    # A time that has passed asks first; yes publishes it at once.
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["date"] = "2026-11-27T09:00"
    response, page = client.post(f"/edit/{DRAFT}", {**fields, "action": "schedule"})
    assert response.status == 200 and "har passerat" in page
    assert frontmatter.loads((root / DRAFT).read_text("utf-8"))["draft"] is True
    response, _page = client.post(
        f"/edit/{DRAFT}", {"csrf": fields["csrf"], "action": "schedule", "confirm": "yes"}
    )
    assert response.status == 303 and "done=published" in response.headers["Location"]
    post = frontmatter.loads((root / DRAFT).read_text("utf-8"))
    assert post["draft"] is False and str(post["date"]) == "2026-11-27T09:00+01:00"
    with opened(load_config(root).state_path) as db:
        actions = [e.action for e in history.of_path(db, DRAFT)]
    assert actions == ["publish", "save", "unschedule", "schedule", "save"]


def test_an_unready_item_is_not_scheduled_and_the_reasons_are_shown(studio):
    root, _app, _gate, client = studio
    csrf = client.csrf("/new/post")
    response, _page = client.post(
        "/new/post", {"csrf": csrf, "title": "Halvfärdigt", "action": "save"}
    )
    path = root / "posts/2026-11-28-halvfardigt.md"
    fields = client.form_of(f"/edit/{path.relative_to(root)}")
    assert "Skriv inlägget här" in fields["body"]  # what 'new' writes, until it is replaced
    fields["date"] = "2026-12-20T09:00"
    response, page = client.post(
        f"/edit/{path.relative_to(root)}", {**fields, "action": "schedule"}
    )
    assert response.status == 400
    assert "fortfarande texten" in page  # the placeholder, next to the text
    assert frontmatter.loads(path.read_text("utf-8"))["draft"] is True


# --- the preview and the checks -----------------------------------------------------------------


def test_the_preview_renders_the_form_as_the_site_with_the_checks_by_field(studio):
    root, _app, _gate, client = studio
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["title"] = "En rubrik som syns direkt"
    fields["summary"] = ""
    fields["body"] = (
        "Detta är en mening med väldigt många administrativa organisationsbegrepp och "
        "myndighetsgemensamma verksamhetsutvecklingsområden som ingen förstår " * 3
    )
    response, data = client.post("/preview", fields, accept="application/json")
    assert response.status == 200
    found = json.loads(data)
    assert "LIX" in found["checks"]["body"][0]["text"]
    assert found["checks"]["summary"][0]["severity"] == "warning"
    assert (root / DRAFT).read_text("utf-8") == DRAFT_TEXT  # a preview writes nothing
    response, page = client.get(found["page"])
    assert response.status == 200
    assert re.search(r"<h1[^>]*>En rubrik som syns direkt</h1>", page)
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]
    style = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert style.startswith("/preview/")
    response, _css = client.get(style)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/css")
    # Without script, the form posts to the frame and gets the page itself.
    response, page = client.post("/preview", fields)
    assert response.status == 200 and "En rubrik som syns direkt" in page


# --- pictures -----------------------------------------------------------------------------------


def test_a_picture_is_kept_beside_the_item_only_if_it_is_one(studio):
    root, _app, _gate, client = studio
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["image_alt"] = "En plogbil på en snöig gata."
    response, _page = client.post_multipart(
        f"/edit/{DRAFT}",
        {**fields, "action": "save"},
        {"image_file": ("Plogbil i Växjö.PNG", png())},
    )
    assert response.status == 303
    assert (root / "posts/plogbil-i-vaxjo.png").read_bytes() == png()
    post = frontmatter.loads((root / DRAFT).read_text("utf-8"))
    assert (
        post["image"] == "plogbil-i-vaxjo.png"
        and post["image_alt"] == "En plogbil på en snöig gata."
    )
    # The preview shows it, made as the build makes it.
    fields = client.form_of(f"/edit/{DRAFT}")
    _response, data = client.post("/preview", fields, accept="application/json")
    _response, page = client.get(json.loads(data)["page"])
    src = re.search(r'<img[^>]+src="(/preview/[^"]+)"', page).group(1)
    response, _body = client.get(src)
    assert response.status == 200 and response.headers["Content-Type"].startswith("image/")

    # Dropped in the editor (the script posts it at once): the same name for the same picture.
    upload = {"csrf": fields["csrf"], "rel": DRAFT, "kind": "post"}
    response, data = client.post_multipart(
        "/upload", upload, {"image_file": ("x.png", png((10, 10)))}
    )
    assert response.status == 200 and json.loads(data) == {"name": "x.png"}
    response, data = client.post_multipart(
        "/upload", upload, {"image_file": ("x.png", png((10, 10)))}
    )
    assert json.loads(data) == {"name": "x.png"}

    before = sorted(p.name for p in (root / "posts").iterdir())
    response, page = client.post_multipart(
        "/upload", upload, {"image_file": ("virus.png", b"MZ\x90\x00 not a picture")}
    )
    assert (response.status == 400 and "Ingen bild" in page) or "Inte en bild" in page
    assert sorted(p.name for p in (root / "posts").iterdir()) == before


def test_a_picture_over_the_limit_is_refused(studio):
    root, _app, _gate, client = studio
    config = root / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + "\n[studio]\nmax_upload = 1\n", "utf-8")
    with studio_server(root) as (_app, gate, base):
        client = logged_in(gate, base)
        noise = Image.effect_noise((800, 800), 100).convert("RGB")
        out = io.BytesIO()
        noise.save(out, "PNG")
        assert len(out.getvalue()) > 1024 * 1024
        upload = {"csrf": client.csrf(), "rel": DRAFT, "kind": "post"}
        response, _page = client.post_multipart(
            "/upload", upload, {"image_file": ("stor.png", out.getvalue())}
        )
        assert response.status in (400, 413)
        assert not (root / "posts/stor.png").exists()


# --- the planner and the newsletter ---------------------------------------------------------------


def test_the_planner_shows_each_week_and_offers_a_tip_for_an_empty_one(studio):
    root, _app, _gate, client = studio
    _response, page = client.get("/plan")
    assert "Boka tid för bygglovsrådgivning" in page  # the tip of 10 December
    empty = re.findall(r'href="/new/tip\?date=([\d-]+)"', page)
    assert empty and empty[0] == "2026-12-17"
    _response, editor = client.get(f"/new/tip?date={empty[0]}")
    assert 'value="2026-12-17T08:00"' in editor
    csrf = client.csrf("/new/tip")
    response, _page = client.post(
        "/new/tip",
        {"csrf": csrf, "title": "Julens öppettider", "service": "biblioteket",
         "date": "2026-12-17T08:00", "summary": "Så har biblioteket öppet i jul.",
         "body": "Biblioteket har öppet som vanligt utom på julafton.\n", "action": "save"},
    )  # fmt: skip
    assert response.status == 303
    tip = frontmatter.loads((root / "tips/2026-12-17-julens-oppettider.md").read_text("utf-8"))
    assert tip["service"] == "biblioteket" and str(tip["date"]).startswith("2026-12-17T08:00")
    _response, page = client.get("/plan")
    assert "Julens öppettider" in page
    assert re.findall(r'href="/new/tip\?date=([\d-]+)"', page)[0] == "2026-12-24"


def test_the_newsletter_is_shown_tested_and_approved_by_a_publisher(sample_site):
    config_file = sample_site / "blogtool.toml"
    config_file.write_text(
        config_file.read_text("utf-8") + "\n[newsletter]\napproval = true\n", "utf-8"
    )
    with studio_server(sample_site) as (_app, gate, base):
        client = logged_in(gate, base)
        response, page = client.get("/newsletter")
        assert response.status == 200 and "Inte godkänt än" in page
        digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)
        response, letter = client.get("/newsletter/letter")
        assert "style-src 'unsafe-inline'" in response.headers["Content-Security-Policy"]
        assert "Hitta ett utegym" in letter  # the tip of 26 November, not mailed yet

        csrf = client.csrf("/newsletter")
        assert client.post("/newsletter/approve", {"csrf": csrf, "digest": "old"})[0].status == 409
        response, _page = client.post("/newsletter/approve", {"csrf": csrf, "digest": digest})
        assert response.status == 303
        config = load_config(sample_site)
        with opened(config.state_path) as db:
            from blogtool.content.load import load_site

            coming = coming_issue(load_site(config), db, NOW)
            assert coming is not None and approved_at(db, coming.digest) is not None
        _response, page = client.get("/newsletter?done=approved")
        assert "Godkänt." in page

        response, _page = client.post("/newsletter/test", {"csrf": csrf})
        assert response.status == 303
        sent = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(config.outbox_dir.glob("*.eml"))
        ]
        assert [str(m["To"]) for m in sent] == [PUBLISHER]
        assert str(sent[0]["Subject"]).startswith("[Korrektur]")


# --- who did what ---------------------------------------------------------------------------------


def test_every_change_is_in_the_history_and_a_commit_by_the_person(studio):
    root, _app, _gate, client = studio
    git = shutil.which("git")
    assert git is not None
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"],
    ):
        subprocess.run([git, "-C", str(root), *args], check=True, capture_output=True)
    config = root / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + "\n[studio]\ngit_commit = true\n", "utf-8")
    with studio_server(root) as (_app, gate, base):
        client = logged_in(gate, base)
        fields = client.form_of(f"/edit/{DRAFT}")
        fields["title"] = "Sparat och incheckat"
        assert client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})[0].status == 303
        _response, page = client.get(f"/edit/{DRAFT}")
        assert f"{PUBLISHER} – sparade" in page
    log = subprocess.run(
        [git, "-C", str(root), "log", "-1", "--format=%an <%ae>%n%s", "--name-only"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    assert log[0] == "anna.lind <anna.lind@vaxjo.example>"
    assert log[1] == f"saved: {DRAFT}" and log[-1] == DRAFT
    status = Run(root)("status").stdout
    assert f"{PUBLISHER}" in status and DRAFT in status


def test_an_english_site_gets_the_studio_in_english(tmp_path):
    """Its words come from the catalogues in the site's language: the English source strings
    here, with no Swedish word among the labels a person finds things by."""
    root = tmp_path / "site"
    shutil.copytree(Path(__file__).parent / "english_site", root)
    with studio_server(root, user="editor") as (_app, gate, base):
        client = logged_in(gate, base)
        _response, page = client.get("/new/tip")
        for label in (
            "Title",
            "Summary",
            "Text",
            "Topics",
            "Service",
            "Publishes",
            "Picture",
            "Picture description",
        ):
            assert f">{label}</label>" in page, label
        for word in ("Rubrik", "Sammanfattning", "Spara", "Schemalägg"):
            assert word not in page
        assert ">Save</button>" in page and ">Schedule</button>" in page
        _response, page = client.get("/plan")
        assert "<h1>Planner</h1>" in page and "Write a tip for this week" in page


def test_a_link_in_posts_that_leads_out_of_the_site_is_not_opened(studio, tmp_path):
    root, _app, _gate, client = studio
    secret = tmp_path / "hemligt.md"
    secret.write_text("---\ntitle: Hemligt\n---\n\nLösenordet är 1234.\n", "utf-8")
    (root / "posts/lank.md").symlink_to(secret)
    for path in ("/edit/posts/lank.md", "/show/posts/lank.md", "/edit/posts/../blogtool.toml"):
        response, page = client.get(path)
        assert response.status == 404 and "1234" not in page


def test_a_file_that_does_not_parse_opens_with_what_it_says_and_its_problems(studio):
    """Not saved over (the studio writes only valid files), but shown as it is."""
    root, _app, _gate, client = studio
    broken = DRAFT_TEXT.replace("date: 2026-12-01", "date: 2026-13-01")
    (root / DRAFT).write_text(broken, "utf-8")
    response, page = client.get(f"/edit/{DRAFT}")
    assert response.status == 200
    assert 'value="Ett utkast"' in page and "Första stycket, som ingen rör." in page
    checks = re.search(r'<ul class="checks" id="c-date"[^>]*>(.*?)</ul>', page, re.S).group(1)
    assert "Fel:" in checks
    fields = client.form_of(f"/edit/{DRAFT}")
    fields["title"] = "Ny rubrik"
    response, _page = client.post(f"/edit/{DRAFT}", {**fields, "action": "save"})
    assert response.status == 400
    assert (root / DRAFT).read_text("utf-8") == broken


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_picture_of_more_pixels_than_pillow_decodes_safely_is_refused(studio):
    """A small file that unpacks to 120 megapixels (Pillow itself only warns below twice its
    limit of about 89): refused before anything is stored or made of it."""
    root, _app, _gate, client = studio
    out = io.BytesIO()
    Image.new("1", (12000, 10000)).save(out, "PNG")
    assert len(out.getvalue()) < 100_000 and Image.MAX_IMAGE_PIXELS < 12000 * 10000
    upload = {"csrf": client.csrf(), "rel": DRAFT, "kind": "post"}
    response, page = client.post_multipart(
        "/upload", upload, {"image_file": ("bomb.png", out.getvalue())}
    )
    assert response.status == 400 and "Inte en bild" in page
    assert not (root / "posts/bomb.png").exists()
