"""The built sample site in a real browser: headless Chromium (Debian's package) driven by
Playwright, over a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from blogtool.site.serve import make_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def served_site(run, sample_site) -> Iterator[str]:
    result = run("build")
    assert result.exit_code == 0, result.stderr
    server = make_server(sample_site / "public", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser():
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


ACCESSIBILITY_PROBE = """() => {
  const problems = [];
  if (document.documentElement.lang !== 'sv') problems.push('lang is ' + document.documentElement.lang);
  for (const img of document.images) if (!img.hasAttribute('alt')) problems.push('img without alt: ' + img.src);
  let last = 0;
  for (const h of document.querySelectorAll('h1,h2,h3,h4,h5,h6')) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) problems.push('heading skips from h' + last + ' to h' + level);
    last = level;
  }
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  if (!document.querySelector('main')) problems.push('no main landmark');
  for (const a of document.querySelectorAll('a')) if (!a.textContent.trim() && !a.getAttribute('aria-label')) problems.push('empty link');
  return problems;
}"""


def test_sample_site_in_chromium(served_site, browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    failed: list[str] = []
    page.on("requestfailed", lambda req: failed.append(req.url))

    response = page.goto(served_site + "/")
    assert response is not None and response.status == 200
    assert page.title() == "Kommunbloggen"
    assert page.locator("h1").inner_text() == "Kommunbloggen"
    dates = page.locator("time").all_inner_texts()
    assert any(
        re.fullmatch(r"(måndag|tisdag|onsdag|torsdag|fredag|lördag|söndag) \d{1,2} \w+ 2026", d)
        for d in dates
    ), dates
    assert page.evaluate(ACCESSIBILITY_PROBE) == []
    # The stylesheet loaded from the site itself, not from elsewhere.
    color = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert color == "rgb(238, 244, 250)"

    # The series page leads to the first tip, which shows the nature-map card.
    page.get_by_role("link", name="Torsdagstips").first.click()
    page.wait_for_load_state()
    assert page.title() == "Torsdagstips – Kommunbloggen"
    page.locator("li[value='1'] h2 a").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Hitta ut i naturen med Växjö Naturkarta"
    card = page.locator(".service-card")
    assert card.is_visible()
    assert "Växjö Naturkarta" in card.locator("h2").inner_text()
    assert (
        card.get_by_role("link", name="Öppna Växjö Naturkarta").get_attribute("href")
        == "https://naturkartan.se/sv/vaxjo"
    )
    assert page.locator("time").inner_text() == "torsdag 22 oktober 2026"
    assert page.evaluate(ACCESSIBILITY_PROBE) == []

    # Narrow screens: nothing wider than the viewport.
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    assert errors == [] and failed == []

    response = page.goto(served_site + "/finns-inte/")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Sidan finns inte"
    assert page.evaluate(ACCESSIBILITY_PROBE) == []
    page.close()
