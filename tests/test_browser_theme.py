"""The default theme in headless Chromium, at a phone's width and a desktop's, in light and in
dark mode (the emulated prefers-color-scheme): nothing scrolls sideways, every picture loads,
the search finds a tip by a Swedish word from its body, and axe-core finds nothing serious.
The built sample site is served as plain static files, as a web server would."""

from __future__ import annotations

import os

import pytest
from axe_playwright_python.sync_playwright import Axe

from .conftest import WAIT_MS, serious_violations, serving, visit

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "post": "/ett-ar-med-nya-e-tjanster/",
    "tip": "/torsdagstips/hitta-ut-i-naturen-med-vaxjo-naturkarta/",
    "series": "/torsdagstips/",
    "tag index": "/tagg/",
    "service index": "/tjanst/",
    "archive": "/arkiv/",
    "search": "/sok/?q=slottsruinen",
    "404": "/finns-inte/",
}
LOAD_ALL_PICTURES = """async () => {
  for (const img of document.images) img.loading = 'eager';
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  return [...document.images].filter(img => !(img.complete && img.naturalWidth > 0))
                             .map(img => img.currentSrc || img.src);
}"""


# make test: a phone in dark mode and a desktop in light; make soak: all four.
LOOKS = [(390, "dark"), (1280, "light")] + (
    [(390, "light"), (1280, "dark")] if os.environ.get("BLOGTOOL_SOAK") == "1" else []
)


@pytest.mark.parametrize(("width", "scheme"), LOOKS, ids=[f"{w}-{s}" for w, s in LOOKS])
def test_every_page_fits_loads_and_passes_axe(served_site, browser, width, scheme):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, locale="sv-SE"
    )
    page = context.new_page()
    bad: list[str] = []
    page.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: bad.append(f"failed {r.url}"))
    page.on("pageerror", lambda exc: bad.append(f"script error {exc}"))
    axe = Axe()
    for name, path in PAGES.items():
        visit(page, served_site + path, name)
        assert page.evaluate(LOAD_ALL_PICTURES) == [], name
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name}: {scroll} px wide at {width}"
        dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        assert dark == (scheme == "dark")
        serious = serious_violations(axe, page)
        assert serious == [], f"{name} at {width} px, {scheme}: {serious}"
    bad = [b for b in bad if not b.startswith("404 ") or "/finns-inte/" not in b]
    assert bad == []
    context.close()


def test_dark_mode_is_the_readers_choice(served_site, browser):
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(served_site + "/")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours["light"] == "rgb(255, 255, 255)"
    assert colours["dark"] == "rgb(20, 23, 26)"


def test_the_search_finds_a_tip_by_a_word_from_its_body(served_site, browser):
    page = browser.new_page()
    page.goto(served_site + "/")
    page.get_by_role("searchbox", name="Sök på webbplatsen").fill("slottsruinen")
    page.get_by_role("button", name="Sök").click()
    page.wait_for_selector(".pagefind-ui__result", timeout=WAIT_MS)
    results = page.locator(".pagefind-ui__result-link").all_inner_texts()
    assert "Hitta ut i naturen med Växjö Naturkarta" in results
    page.close()


def test_the_newsletter_follows_the_readers_dark_setting(run, sample_site, browser):
    assert run("newsletter", "build", "--since", "2026-10-20").exit_code == 0
    out = sample_site / "brev"
    assert run("newsletter", "preview", "--output", str(out)).exit_code == 0
    url = (out / "newsletter-1.html").as_uri()
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(url)
        colours[scheme] = page.evaluate(
            "[getComputedStyle(document.querySelector('.container')).backgroundColor,"
            " getComputedStyle(document.querySelector('h1')).color]"
        )
        context.close()
    assert colours["light"] == ["rgb(255, 255, 255)", "rgb(27, 27, 27)"]
    assert colours["dark"] == ["rgb(29, 39, 49)", "rgb(230, 230, 230)"]


def test_without_a_search_index_the_search_page_says_so(run, sample_site, browser):
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace("[build]\n", "[build]\nsearch = false\n", 1), "utf-8")
    assert run("build").exit_code == 0
    with serving(sample_site / "public") as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{url}/sok/?q=natur")
        page.locator("#sok", has_text="Sökningen är inte tillgänglig här").wait_for()
        assert errors == []
        page.close()


def _found(url: str, browser, word: str) -> int:
    """How many pages the search page says it found for ``word``."""
    import re

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/sok/?q={word}")
    page.wait_for_selector(".pagefind-ui__result", timeout=WAIT_MS)
    message = page.locator(".pagefind-ui__message").inner_text()
    page.close()
    assert errors == []
    return int(re.search(r"\d+", message).group())


def test_an_index_in_parts_is_searched_as_one(run, sample_site, browser, monkeypatch):
    """A big site's index comes in parts (a few MB of pages each, for Pagefind's memory): the
    search page merges them, and finds what one index would."""
    from blogtool.site import search

    assert run("build").exit_code == 0
    with serving(sample_site / "public") as url:
        whole = _found(url, browser, "och")
    monkeypatch.setattr(search, "PART_BYTES", 12_000)
    post = sample_site / "posts/2026-09-10-valkommen-till-kommunbloggen.md"
    post.write_text(post.read_text("utf-8") + "\nEtt tillägg.\n", "utf-8")
    assert run("build").exit_code == 0
    script = (sample_site / "public/pagefind/bundles.js").read_text("utf-8")
    assert script.count("s-") >= 3
    with serving(sample_site / "public") as url:
        assert _found(url, browser, "och") == whole >= 5
