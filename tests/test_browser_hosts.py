"""Nothing from other hosts: every page of the built sample site, opened in Chromium, makes no
request to any host but the site's own (the Swedish data protection authority has ruled
against public sites that hand their visitors to third parties)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .conftest import Run, serving, write

pytestmark = pytest.mark.browser


def test_no_page_of_the_built_site_loads_anything_from_another_host(sample_site, browser):
    assert Run(sample_site)("build").exit_code == 0
    public = sample_site / "public"
    pages = sorted(
        p.relative_to(public.resolve()).as_posix()
        for p in public.resolve().rglob("*.html")
        if 'http-equiv="refresh"' not in p.read_text("utf-8", "replace")
    )
    assert len(pages) > 40  # every page: posts, tips, lists, topics, months, search, 404
    own = urlsplit("https://blogg.vaxjo.example/").hostname
    with serving(public) as base:
        here = urlsplit(base).netloc
        elsewhere: list[str] = []
        context = browser.new_context()

        def watch(route) -> None:
            url = urlsplit(route.request.url)
            if url.scheme in ("data", "blob") or url.netloc == here:
                route.continue_()
                return
            if url.hostname != own:
                elsewhere.append(f"{route.request.url} (from {route.request.frame.url})")
            route.abort()  # never leave this machine

        context.route("**/*", watch)
        page = context.new_page()
        for path in pages:
            page.goto(f"{base}/{path}", wait_until="load")
        context.close()
    assert elsewhere == []


def test_the_watch_sees_a_page_that_does_load_from_another_host(tmp_path, browser):
    """The same watch, on a page that embeds a map from another host: it is caught."""
    write(
        tmp_path / "karta/index.html",
        '<!DOCTYPE html><html lang="sv"><title>Karta</title>'
        '<iframe src="https://maps.example.com/embed?q=vaxjo" title="Karta"></iframe></html>',
    )
    with serving(tmp_path) as base:
        requested: list[str] = []
        context = browser.new_context()

        def watch(route) -> None:
            if urlsplit(route.request.url).netloc != urlsplit(base).netloc:
                requested.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", watch)
        page = context.new_page()
        page.goto(f"{base}/karta/", wait_until="load")
        context.close()
    assert any("maps.example.com" in url for url in requested)
