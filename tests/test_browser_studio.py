"""The studio in headless Chromium, as the communications office uses it: ``blogtool studio``
started as a process, logged in to through the address it prints first, a post written with a
picture and scheduled, a tip written from an empty week of the planner, the newsletter
approved, a writer refused, a save over a file changed on disk refused; axe-core checks every
page at a computer's width and a phone's.

The files the studio wrote are read back from disk."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import frontmatter
import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

from blogtool.config import load_config
from blogtool.content.load import load_site
from blogtool.newsletter.proofing import approved_at, coming_issue
from blogtool.store import opened

from .conftest import NOW, SECRET, WAIT_MS, serious_violations, write
from .processes import Started, blogtool

pytestmark = pytest.mark.browser
PUBLISHER = "anna.lind@vaxjo.example"
WRITER = "erik.berg@vaxjo.example"
DRAFT = "posts/2026-12-01-om-snoplogning.md"
DRAFT_TEXT = """\
---
title: Om snöplogning
date: 2026-12-01
summary: Hur vi plogar.
draft: true
---

Det första stycket.
"""
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _patient_expect():
    expect.set_options(timeout=WAIT_MS)  # a busy machine is slow, not wrong
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def site(sample_site) -> Path:
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + "\n[newsletter]\napproval = true\n", "utf-8")
    write(sample_site / DRAFT, DRAFT_TEXT)
    return sample_site


def started(site: Path, user: str) -> Started:
    env = {
        **os.environ,
        "BLOGTOOL_NOW": NOW.isoformat(),
        "BLOGTOOL_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    return Started(blogtool("--site", str(site), "studio", "--port", "0", "--user", user), env=env)


def login_url(process: Started) -> str:
    """The first line the command prints."""
    match = process.wait_for_line(r"^http://127\.0\.0\.1:\d+/login\?token=\S+$", stream="stdout")
    assert process.stdout().splitlines()[0] == match.group(0)
    return match.group(0)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


def checked(page, where: str, found: dict[str, list[str]]) -> None:
    """axe-core's serious and critical findings on the page as it is now."""
    page.wait_for_load_state("load")
    problems = serious_violations(Axe(), page)
    if problems:
        found[where] = problems


def test_a_publisher_and_a_writer_work_in_the_studio(site, browser):
    failures: list[str] = []
    axe: dict[str, list[str]] = {}
    with started(site, PUBLISHER) as studio:
        url = login_url(studio)
        base = url.split("/login")[0]
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on(
            "response",
            lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None,
        )

        # 1. In through the printed address.
        page.goto(url)
        expect(page.locator("h1")).to_have_text("Översikt")
        checked(page, "overview", axe)

        # 2. A new post: the preview follows the typing.
        page.get_by_role("link", name="Nytt inlägg").first.click()
        expect(page.locator("h1")).to_have_text("Nytt inlägg")
        checked(page, "new post", axe)
        page.get_by_label("Rubrik").fill("Snöröjning i hela kommunen")
        preview = page.frame_locator("#preview")
        expect(preview.locator("h1")).to_have_text("Snöröjning i hela kommunen")
        page.get_by_label("Sammanfattning").fill("Så plogar vi när snön kommer.")
        page.get_by_label("Ämnen").fill("vinter, trafik")
        page.get_by_label("Text").fill(
            "Vi börjar med **busslinjerna**.\n\nSedan tar vi cykelvägarna."
        )
        expect(preview.locator("strong")).to_have_text("busslinjerna")

        # A picture, chosen (the script stores it at once) and described.
        page.get_by_label("Bild", exact=True).set_input_files(
            files=[{"name": "Plogbil.png", "mimeType": "image/png", "buffer": png()}]
        )
        expect(page.locator("#f-image-current")).to_have_text("Nu: plogbil.png.")
        page.get_by_label("Bildbeskrivning").fill("En orange plogbil på en snöig gata.")
        expect(
            preview.get_by_role("img", name="En orange plogbil på en snöig gata.")
        ).to_be_visible()

        # 3. Scheduled.
        page.get_by_label("Publiceras").fill("2026-12-15T07:30")
        page.get_by_role("button", name="Schemalägg").click()
        expect(page.locator("#notice")).to_have_text("Sparat och schemalagt.")
        checked(page, "editor, scheduled", axe)

        # 4. On disk, as the command line writes it.
        path = site / "posts/2026-11-28-snorojning-i-hela-kommunen.md"
        post = frontmatter.loads(path.read_text("utf-8"))
        assert post["title"] == "Snöröjning i hela kommunen"
        assert post["summary"] == "Så plogar vi när snön kommer."
        assert post["tags"] == ["vinter", "trafik"]
        assert post["image"] == "plogbil.png"
        assert post["image_alt"] == "En orange plogbil på en snöig gata."
        assert str(post["date"]) == "2026-12-15T07:30+01:00" and post["draft"] is False
        assert post.content == "Vi börjar med **busslinjerna**.\n\nSedan tar vi cykelvägarna."
        assert (site / "posts/plogbil.png").read_bytes() == png()

        # 5. In the planner, in its week; a tip from an empty week.
        page.get_by_role("link", name="Planering").click()
        expect(page.locator("h1")).to_have_text("Planering")
        checked(page, "planner", axe)
        week = page.locator("li.week", has=page.get_by_role("heading", name=re.compile("Vecka 51")))
        expect(week.get_by_role("link", name="Snöröjning i hela kommunen")).to_be_visible()
        page.get_by_role("link", name="Skriv ett tips för den här veckan").first.click()
        expect(page.get_by_label("Publiceras")).to_have_value("2026-12-17T08:00")
        checked(page, "new tip", axe)
        page.get_by_label("Rubrik").fill("Julens öppettider på biblioteket")
        page.get_by_label("Tjänst").select_option(label="Bibliotekets e-medier")
        page.get_by_label("Sammanfattning").fill("Så har biblioteket öppet i jul.")
        page.get_by_label("Text").fill("Biblioteket har öppet som vanligt, utom på julafton.")
        page.get_by_role("button", name="Spara").click()
        expect(page.locator("#notice")).to_have_text("Sparat.")
        tip = frontmatter.loads(
            (site / "tips/2026-12-17-julens-oppettider-pa-biblioteket.md").read_text("utf-8")
        )
        assert tip["service"] == "biblioteket" and tip["draft"] is True
        assert str(tip["date"]) == "2026-12-17T08:00+01:00"

        # 6. The coming newsletter, approved.
        page.get_by_role("link", name="Nyhetsbrev").click()
        expect(page.locator("h1")).to_have_text("Nästa nyhetsbrev")
        expect(page.get_by_text("Inte godkänt än: det väntar på en publicist.")).to_be_visible()
        checked(page, "newsletter", axe)
        page.get_by_role("button", name="Godkänn").click()
        expect(page.get_by_role("status")).to_have_text("Godkänt: det går ut när det är dags.")
        config = load_config(site)
        with opened(config.state_path) as db:
            coming = coming_issue(load_site(config), db, NOW)
            assert coming is not None and approved_at(db, coming.digest) is not None

        # 7. A time that has passed asks first.
        page.goto(f"{base}/edit/{DRAFT}")
        page.get_by_label("Publiceras").fill("2026-11-27T09:00")
        page.get_by_role("button", name="Schemalägg").click()
        expect(page.locator("h1")).to_have_text("Tiden har passerat")
        checked(page, "confirm", axe)
        page.get_by_role("link", name="Nej, gå tillbaka och ändra tiden").click()

        # 8. A save over a file changed on disk: refused, both versions shown.
        expect(page.get_by_label("Text")).to_have_value("Det första stycket.\n")
        theirs = DRAFT_TEXT.replace("Det första stycket.", "Kollegans stycke.")
        (site / DRAFT).write_text(theirs, "utf-8")
        page.get_by_label("Text").fill("Mitt stycke.")
        page.get_by_role("button", name="Spara").click()
        expect(page.locator("h1")).to_have_text("Ändrad på disken")
        expect(page.get_by_role("textbox", name="På disken nu")).to_have_value(
            re.compile("Kollegans stycke")
        )
        expect(page.get_by_role("textbox", name="Din version")).to_have_value(
            re.compile("Mitt stycke")
        )
        assert (site / DRAFT).read_text("utf-8") == theirs
        checked(page, "conflict", axe)

        # 9. Every page again at a phone's width.
        phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        mobile = phone.new_page()
        mobile.set_default_timeout(WAIT_MS)
        mobile.goto(studio_login(studio, base))
        for path in ("/", "/plan", "/new/post", "/new/tip", f"/edit/{DRAFT}", "/newsletter"):
            mobile.goto(base + path)
            checked(mobile, f"phone {path}", axe)
        (site / DRAFT).write_text(DRAFT_TEXT, "utf-8")
        mobile.goto(f"{base}/edit/{DRAFT}")
        (site / DRAFT).write_text(theirs, "utf-8")
        mobile.get_by_label("Text").fill("Mitt stycke.")
        mobile.get_by_role("button", name="Spara").click()
        expect(mobile.locator("h1")).to_have_text("Ändrad på disken")
        checked(mobile, "phone conflict", axe)
        # The page for a browser that is not logged in, at both widths.
        for viewport in (DESKTOP, PHONE):
            stranger = browser.new_context(viewport=viewport)
            door = stranger.new_page()
            response = door.goto(base + "/")
            assert response is not None and response.status == 401
            expect(door.locator("h1")).to_have_text("Logga in först")
            checked(door, f"not logged in {viewport['width']}", axe)
            stranger.close()
        phone.close()
        context.close()

    # 10. A writer: no publisher's buttons, and the server refuses the action itself.
    with started(site, WRITER) as studio:
        url = login_url(studio)
        base = url.split("/login")[0]
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.goto(f"{base}/edit/{DRAFT}")
        expect(page.get_by_text("En publicist schemalägger det du skriver")).to_be_visible()
        assert page.get_by_role("button", name="Schemalägg").count() == 0
        checked(page, "writer's editor", axe)
        before = (site / DRAFT).read_bytes()
        csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
        response = page.request.post(
            f"{base}/edit/{DRAFT}",
            form={"csrf": csrf, "action": "schedule", "date": "2026-12-20T09:00"},
            headers={"Origin": base},
        )
        assert response.status == 403
        assert "Bara en publicist kan göra det" in response.text()
        assert (site / DRAFT).read_bytes() == before
        page.goto(f"{base}/newsletter")
        assert page.get_by_role("button", name="Godkänn").count() == 0
        context.close()

    assert failures == []
    assert axe == {}


def studio_login(studio: Started, base: str) -> str:
    """The next login address, which the studio prints on stderr after one is used."""
    match = studio.wait_for_line(rf": ({re.escape(base)}/login\?token=\S+)$")
    return match.group(1)
