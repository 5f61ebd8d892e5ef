"""The built sample site in a real browser: headless Chromium (Debian's package) driven by
Playwright, over a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

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
