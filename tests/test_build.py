"""The static site and its feeds, built from the sample site with the clock pinned."""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import shutil
from pathlib import Path

import feedparser
import pytest

from blogtool import parallel
from blogtool.cli.env import Env
from blogtool.cli.publish import _run_build
from blogtool.config import load_config
from blogtool.content import load
from blogtool.content.load import load_site
from blogtool.errors import BlogtoolError
from blogtool.site.build import BuildOptions, build
from blogtool.site.pages import SiteView

from .conftest import NOW, REPO, SECRET, STOCKHOLM, Run, snapshot, write
from .test_kill import _tree

BASE = "https://blogg.vaxjo.example/"
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)
FEEDS = ["feed.xml", "atom.xml", "torsdagstips/feed.xml", "torsdagstips/atom.xml"]


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def public(sample_site) -> Path:
    return sample_site / "public"


def test_build_writes_the_whole_site(run, public):
    result = run("build")
    assert result.exit_code == 0, result.stderr
    assert re.search(
        r"Built .*public: \d+ written, 0 unchanged, 0 removed(, \d+ pictures? made)? in [\d.]+ s",
        result.stdout,
    )
    for path in [
        "index.html",
        "404.html",
        "sitemap.xml",
        "robots.txt",
        *FEEDS,
        "vi-arbetar-i-floden-inte-i-stupror/index.html",
        "torsdagstips/index.html",
        "torsdagstips/hitta-ut-i-naturen-med-vaxjo-naturkarta/index.html",
        "tagg/natur/index.html",
        "tagg/e-tjanster/index.html",
        "tjanst/naturkartan/index.html",
        "arkiv/index.html",
        "arkiv/2026/10/index.html",
        "static/style.css",
    ]:
        assert (public / path).is_file(), path
    # Not yet due, or a draft: nowhere on the site.
    everything = "".join(
        p.read_text("utf-8") for p in public.rglob("*") if p.suffix in (".html", ".xml")
    )
    for hidden in (
        "folj-islaget",
        "Följ isläget",
        "Tack för i år",
        "Budgeten för 2027",
        "bygglovsradgivning",
    ):
        assert hidden not in everything, hidden

    page = (public / "torsdagstips/hitta-ut-i-naturen-med-vaxjo-naturkarta/index.html").read_text(
        "utf-8"
    )
    assert '<html lang="sv">' in page
    assert "torsdag 22 oktober 2026" in page
    assert '<time datetime="2026-10-22T08:00:00+02:00">' in page
    # The card: not "this week's" on a tip's own page weeks later; a button and the apps.
    assert '<p class="service-label">Tjänst i tipset</p>' in page and "Veckans tjänst" not in page
    assert '<h2 id="tjanst-naturkartan">Växjö Naturkarta</h2>' in page
    assert '<a class="button service-web" href="https://naturkartan.se/sv/vaxjo">' in page
    assert '<span class="store-small">Ladda ned i</span> <span class="store-name">App Store' in page
    # The first tip: a way to the next one and to the series, none to an earlier one.
    assert 'rel="next" href="/torsdagstips/lana-e-bocker-fran-biblioteket/"' in page
    assert 'rel="prev"' not in page and "Fler tips: alla Torsdagstips" in page
    assert "Torsdagstips</a> #1" in page

    series = (public / "torsdagstips/index.html").read_text("utf-8")
    titles = re.findall(r'<h2><a href="/torsdagstips/[^"]+/">([^<]+)</a></h2>', series)
    assert titles[0] == "Hitta ett utegym nära dig" and titles[-1].startswith("Hitta ut i naturen")
    assert '<li value="6">' in series and '<li value="1">' in series

    service = (public / "tjanst/naturkartan/index.html").read_text("utf-8")
    assert "Hitta ut i naturen med Växjö Naturkarta" in service and "Hitta ett utegym" in service
    assert "Låna e-böcker" not in service

    sitemap = (public / "sitemap.xml").read_text("utf-8")
    assert (
        f"<loc>{BASE}vi-arbetar-i-floden-inte-i-stupror/</loc><lastmod>2026-10-15</lastmod>"
        in sitemap
    )
    assert f"Sitemap: {BASE}sitemap.xml" in (public / "robots.txt").read_text("utf-8")
    assert (public / "404.html").read_text("utf-8").count("<h1>") == 1


def test_feeds_parse_cleanly_and_match_the_content(run, public):
    assert run("build").exit_code == 0
    site = load_site(load_config(public.parent))
    published = sorted(
        (i for i in site.items if i.is_published(NOW)), key=lambda i: i.date, reverse=True
    )
    expected = {
        "feed.xml": published,
        "atom.xml": published,
        "torsdagstips/feed.xml": [i for i in published if i.kind.value == "tip"],
        "torsdagstips/atom.xml": [i for i in published if i.kind.value == "tip"],
    }
    for name, items in expected.items():
        raw = (public / name).read_bytes()
        feed = feedparser.parse(raw)
        assert feed.bozo == 0, (name, feed.get("bozo_exception"))
        assert [e.title for e in feed.entries] == [i.title for i in items], name
        self_links = [link.href for link in feed.feed.links if link.rel == "self"]
        assert self_links == [BASE + name], name
        assert feed.feed.language == "sv"
        for entry, item in zip(feed.entries, items, strict=True):
            assert entry.link.startswith(BASE) and entry.link.endswith(f"/{item.slug}/")
            assert entry.id == entry.link  # a stable guid: the permalink
            assert dt.datetime(*entry.published_parsed[:6], tzinfo=dt.UTC) == item.date
            html = entry.content[0].value
            assert not re.search(r'(href|src)="/', html), "relative URL in feed content"
            if item.service == "naturkartan":
                assert "Växjö Naturkarta" in html and "https://naturkartan.se/sv/vaxjo" in html
        if name.endswith("feed.xml"):
            text = raw.decode("utf-8")
            dates = re.findall(r"<pubDate>([^<]+)</pubDate>", text)
            assert dates and all(RFC822.match(d) for d in dates), dates
            last = re.search(r"<lastBuildDate>([^<]+)</lastBuildDate>", text).group(1)
            assert last == dates[0]  # the newest item's date, not the build time
            assert "<content:encoded><![CDATA[" in text
            assert text.count("<description>") == len(items) + 1
            assert '<guid isPermaLink="true">' in text


def test_scheduled_tip_enters_the_feed_on_the_first_build_after_its_time(run, public):
    due = dt.datetime(2026, 12, 3, 8, 0, tzinfo=STOCKHOLM)
    assert run("build", now=due - dt.timedelta(minutes=1)).exit_code == 0
    feed = feedparser.parse((public / "torsdagstips/feed.xml").read_bytes())
    assert "Följ isläget innan du går ut på sjön" not in [e.title for e in feed.entries]
    assert not (public / "torsdagstips/folj-islaget-innan-du-gar-ut-pa-sjon").exists()

    result = run("build", now=due)
    assert result.exit_code == 0
    feed = feedparser.parse((public / "torsdagstips/feed.xml").read_bytes())
    assert feed.entries[0].title == "Följ isläget innan du går ut på sjön"
    assert feed.entries[0].published == "Thu, 03 Dec 2026 08:00:00 +0100"
    assert (public / "torsdagstips/folj-islaget-innan-du-gar-ut-pa-sjon/index.html").is_file()


def test_rebuild_with_nothing_changed_writes_nothing(run, public):
    assert run("build").exit_code == 0
    before_bytes = snapshot(public)
    before_times = mtimes(public)
    result = run("build")
    assert result.exit_code == 0
    assert re.search(r": 0 written, \d+ unchanged, 0 removed", result.stdout)
    assert mtimes(public) == before_times
    assert snapshot(public) == before_bytes
    for name in FEEDS:
        assert (public / name).read_bytes() == before_bytes[name]


def test_one_changed_post_rerenders_what_shows_the_change(run, sample_site, public):
    """An edit of a post's text re-renders its page and the feeds that carry the text; its
    summary re-renders the lists too. Other pages are left alone."""
    assert run("build").exit_code == 0
    post = sample_site / "posts/2026-10-15-vi-arbetar-i-floden-inte-i-stupror.md"
    lists = {"index.html", "arkiv/2026/10/index.html", "tagg/samverkan/index.html"}
    page = "vi-arbetar-i-floden-inte-i-stupror/index.html"
    for old, new, shown in [
        ("Det här tar tid.", "Det här tar tid, men det lönar sig.", {page, "feed.xml", "atom.xml"}),
        ("summary: När en invånare", "summary: När en person", {page, *lists}),
    ]:
        before = mtimes(public)
        post.write_text(post.read_text("utf-8").replace(old, new), "utf-8")
        result = run("build")
        assert result.exit_code == 0
        after = mtimes(public)
        changed = {p for p in after if after[p] != before.get(p)}
        assert shown <= changed, new
        if page not in lists:
            assert not (lists - shown) & changed, new  # a list does not show the text
        assert "torsdagstips/feed.xml" not in changed
        assert "valkommen-till-kommunbloggen/index.html" not in changed
        assert "torsdagstips/hitta-ut-i-naturen-med-vaxjo-naturkarta/index.html" not in changed
        assert new.split(": ")[-1] in (public / page).read_text("utf-8")


def test_a_site_with_its_own_list_template_gets_its_lists_rendered_on_any_change(
    run, sample_site, public
):
    """A template of the site's own may show an item's text in a list; then a text edit
    re-renders the lists as well."""
    write(
        sample_site / "templates/partials/item_list.html",
        "{% for entry in entries %}<div>{{ entry['item'].body }}</div>{% endfor %}\n",
    )
    assert run("build").exit_code == 0
    before = mtimes(public)
    post = sample_site / "posts/2026-10-15-vi-arbetar-i-floden-inte-i-stupror.md"
    post.write_text(post.read_text("utf-8").replace("Det här tar tid.", "Det tar tid."), "utf-8")
    assert run("build").exit_code == 0
    after = mtimes(public)
    assert after["index.html"] != before["index.html"]
    assert "Det tar tid." in (public / "index.html").read_text("utf-8")


def _entry(page: Path, url: str) -> str:
    """The list entry (``<li>…</li>``) of the item at ``url`` on a list page."""
    html = page.read_text("utf-8")
    at = html.index(f'<a href="{url}">')
    return html[html.rindex("<li", 0, at) : html.index("</li>", at) + len("</li>")]


def test_an_item_is_the_same_entry_on_every_list_and_a_site_may_reword_it(run, sample_site, public):
    """An item's entry is made once and shown on every list it is on (the home page, its
    topics, its month and year), the same there as it is made; a site's own
    partials/list_entry.html is what every list then shows."""
    assert run("build").exit_code == 0
    url = "/vi-arbetar-i-floden-inte-i-stupror/"
    lists = ["index.html", "tagg/samverkan/index.html", "tagg/arbetssatt/index.html",
             "arkiv/2026/index.html", "arkiv/2026/10/index.html"]  # fmt: skip
    entries = {_entry(public / page, url) for page in lists}
    assert len(entries) == 1
    (entry,) = entries
    assert entry.startswith('<li class="item-post">') and "Vi arbetar i flöden" in entry
    assert '<time datetime="2026-10-15T09:00:00+02:00">torsdag 15 oktober 2026' in entry
    assert "När en invånare behöver hjälp" in entry
    write(
        sample_site / "templates/partials/list_entry.html",
        '<li class="egen"><a href="{{ entry["url"] }}">{{ entry["item"].title|upper }}</a></li>\n',
    )
    assert run("build").exit_code == 0
    for page in lists:
        assert _entry(public / page, url) == (
            f'<li class="egen"><a href="{url}">VI ARBETAR I FLÖDEN, INTE I STUPRÖR</a></li>'
        )


def test_an_entry_is_made_once_however_many_lists_show_it(sample_site):
    view = SiteView(load_site(load_config(sample_site)), NOW, False, False, "fp")
    made: list[str] = []
    render = view.render

    def counting(name: str, **context: object) -> str:
        made.append(name)
        return render(name, **context)

    view.render = counting  # type: ignore[method-assign]
    context = {"heading": "Lista", "intro": "", "service": None, "page_title": "Lista"}
    first = view.list_page("listing.html", view.items[:3], **context)
    second = view.list_page("listing.html", view.items[:5], **context)
    assert made.count("partials/list_entry.html") == 5
    assert made.count("listing.html") == 2
    assert second.count(b"<li class=") == 5 and first.count(b"<li class=") == 3


def test_the_site_is_read_from_several_threads_at_once(sample_site):
    """The studio reads the site in a thread as it starts while requests read it in others:
    each reading parses every file (no cache here) and gets the whole site."""
    from concurrent.futures import ThreadPoolExecutor

    config = load_config(sample_site)
    alone = [i.rel for i in load_site(config).items]

    def read(_n: int) -> list[str]:
        return [i.rel for i in load_site(config).items]

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(read, range(24)))
    assert len(alone) > 10 and all(rels == alone for rels in together)


def test_a_list_renders_outside_a_site_build_too(sample_site):
    """The environment every part of blogtool starts from renders a list's entries as well
    (each one on its own), not only the site's pages."""
    from blogtool.site.templates import make_environment

    config = load_config(sample_site)
    item = load_site(config).items[0]
    entry = {"item": item, "summary": "Sammanfattning", "url": "/x/", "date": item.date}
    html = (
        make_environment(config)
        .get_template("partials/item_list.html")
        .render(entries=[entry, entry])
    )
    assert html.count('<a href="/x/">') == 2 and "Sammanfattning" in html


def test_a_preview_lists_drafts_with_their_status(run, tmp_path):
    out = tmp_path / "preview"
    assert run("build", "--drafts", "--future", "--output", str(out)).exit_code == 0
    entry = _entry(out / "index.html", "/budgeten-for-2027-vad-betyder-den-for-dig/")
    assert "Utkast – inte publicerat" in entry
    published = _entry(out / "index.html", "/ett-ar-med-nya-e-tjanster/")
    assert 'class="status' not in published


def test_template_or_config_change_rebuilds_everything(run, sample_site, public):
    assert run("build").exit_code == 0
    before = mtimes(public)
    copied = ("static/", "bilder/", "media/")  # files published by their content
    pages = {p for p in before if not p.startswith((*copied, "pagefind/"))}
    static = sum(1 for p in before if p.startswith(copied))
    write(
        sample_site / "templates/404.html",
        '{% extends "base.html" %}{% block content %}<h1>Borta</h1>{% endblock %}\n',
    )
    result = run("build")
    # Every page is rendered again; the stylesheet and the pictures are published by content
    # and have not changed.
    assert f"{len(pages)} written, {static} unchanged" in result.stdout
    after = mtimes(public)
    assert all(after[p] != before[p] for p in pages)
    assert "<h1>Borta</h1>" in (public / "404.html").read_text("utf-8")
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace('title = "Kommunbloggen"', 'title = "Växjöbloggen"'),
        "utf-8",
    )
    result = run("build")
    assert f"{len(pages)} written, {static} unchanged" in result.stdout
    assert "Växjöbloggen" in (public / "index.html").read_text("utf-8")


def test_deleted_post_disappears(run, sample_site, public):
    assert run("build").exit_code == 0
    (sample_site / "posts/2026-11-20-ett-ar-med-e-tjanster.md").unlink()
    result = run("build")
    assert re.search(r", [1-9]\d* removed", result.stdout)
    assert not (public / "ett-ar-med-nya-e-tjanster").exists()
    assert not (public / "tagg/digitalisering").exists()


def test_failed_build_leaves_the_previous_site_intact(run, sample_site, public):
    assert run("build").exit_code == 0
    before = snapshot(public)
    times = mtimes(public)
    post = sample_site / "posts/2026-09-10-valkommen-till-kommunbloggen.md"
    post.write_text(post.read_text("utf-8") + "\nNy rad.\n", "utf-8")
    config = load_config(sample_site)
    site = load_site(config)
    with pytest.raises(BlogtoolError, match="injected failure"):
        build(site, NOW, BuildOptions(output=public, jobs=1), fail_after=2)
    assert snapshot(public) == before and mtimes(public) == times
    assert not [p for p in sample_site.iterdir() if "staging" in p.name]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{% extends 'base.html' %}\n{% block content %}\n{% if %}\n{% endblock %}\n",
            "templates/item.html:3: template syntax error",
        ),
        (
            "{% extends 'base.html' %}\n{% block content %}\n<p>{{ no_such_thing }}</p>\n{% endblock %}\n",
            "templates/item.html:3: undefined variable: 'no_such_thing' is undefined",
        ),
    ],
)
@pytest.mark.parametrize("big", [False, True], ids=["small", "big"])
def test_template_errors_name_the_template_and_line(
    run, sample_site, public, template, expected, big, monkeypatch
):
    """Also for a big site, whose templates are compiled while its files are parsed: a
    template that does not compile is reported by the page that uses it, as for a small one."""
    if big:
        _force_pooled_load(monkeypatch)
    assert run("build").exit_code == 0
    before = snapshot(public)
    write(sample_site / "templates/item.html", template)
    result = run("build")
    assert result.exit_code == 1
    first, *more = result.stderr.strip().splitlines()
    # One line for the template, named by the first item it broke, however many it broke.
    assert first.startswith("posts/") and expected in first, result.stderr
    assert "more: posts/" in first
    assert more == ["Error: 1 problem found; nothing was changed."]
    assert "Traceback" not in result.stderr
    assert snapshot(public) == before


@pytest.mark.parametrize("output", ["posts", ".", "..", "templates/out"])
def test_output_over_the_sources_is_refused(run, sample_site, output):
    before = snapshot(sample_site)
    result = run("build", "--output", str(sample_site / output))
    assert result.exit_code == 1
    assert "output directory" in result.stderr
    assert snapshot(sample_site) == before


def test_content_errors_stop_the_build_before_anything_is_written(run, sample_site, public):
    assert run("build").exit_code == 0
    before = snapshot(public)
    write(sample_site / "posts/trasig.md", "---\ntitle: [\n---\n")
    result = run("build")
    assert result.exit_code == 1
    assert "posts/trasig.md:2: error: front matter is not valid YAML" in result.stderr
    assert snapshot(public) == before


def test_preview_flags_show_marked_drafts_and_future_but_feeds_stay_clean(
    run, sample_site, tmp_path
):
    out = tmp_path / "preview"
    result = run("build", "--drafts", "--future", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    draft = (out / "budgeten-for-2027-vad-betyder-den-for-dig/index.html").read_text("utf-8")
    assert "Utkast – inte publicerat" in draft
    future = (out / "torsdagstips/folj-islaget-innan-du-gar-ut-pa-sjon/index.html").read_text(
        "utf-8"
    )
    assert "Schemalagt – publiceras torsdag 3 december 2026 kl. 08:00" in future
    assert '<meta name="robots" content="noindex">' in future
    for name in FEEDS:
        text = (out / name).read_text("utf-8")
        assert "Följ isläget" not in text and "Budgeten" not in text
    assert "Disallow: /" in (out / "robots.txt").read_text("utf-8")


def test_feed_content_is_sanitised_but_pages_keep_trusted_html(run, sample_site, public):
    write(
        sample_site / "posts/inbaddat.md",
        "---\ntitle: 'Säkert <script>alert(1)</script>'\ndate: 2026-11-27T10:00:00+01:00\n---\n"
        'Se kartan:\n\n<iframe src="https://naturkartan.se/embed" title="Karta"></iframe>\n\n'
        '<script>track()</script>\n\n<object data="x.swf"></object><embed src="y.swf">\n\n'
        "[Läs mer](/arkiv/) och ![Karta över leder](/static/karta.png)\n",
    )
    assert run("build").exit_code == 0
    page = (public / "sakert-script-alert-1-script/index.html").read_text("utf-8")
    assert "<iframe" in page  # staff HTML passes through to the page
    assert "<h1>Säkert &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert "<title>Säkert &lt;script&gt;" in page
    feed = feedparser.parse((public / "feed.xml").read_bytes())
    entry = next(e for e in feed.entries if e.title.startswith("Säkert"))
    html = entry.content[0].value
    for tag in ("<script", "<iframe", "<object", "<embed", "track()"):
        assert tag not in html
    assert f'href="{BASE}arkiv/"' in html and f'src="{BASE}static/karta.png"' in html
    assert 'alt="Karta över leder"' in html


def test_an_rss_description_is_the_summary_as_text_never_as_markup(run, sample_site, public):
    import xml.etree.ElementTree as ET

    summary = "Om <b>fet</b> text & <script>alert(1)</script>"
    write(
        sample_site / "posts/sammanfattning.md",
        f"---\ntitle: Sammanfattning\ndate: 2026-11-27T10:00:00+01:00\nsummary: '{summary}'\n"
        "---\nText.\n",
    )
    assert run("build").exit_code == 0
    raw = (public / "feed.xml").read_bytes()
    item = next(
        i for i in ET.fromstring(raw).iter("item") if i.findtext("title") == "Sammanfattning"
    )
    # The description is HTML (as RSS readers read it) that shows the summary's characters.
    assert (
        item.findtext("description")
        == "Om &lt;b&gt;fet&lt;/b&gt; text &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    )
    entry = next(e for e in feedparser.parse(raw).entries if e.title == "Sammanfattning")
    assert "<script" not in entry.summary and "<b>" not in entry.summary
    assert "&lt;script&gt;" in entry.summary


def test_home_is_paginated_newest_first(run, sample_site, public):
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8").replace("per_page = 10", "per_page = 3"), "utf-8")
    assert run("build").exit_code == 0
    first = (public / "index.html").read_text("utf-8")
    assert first.index("Hitta ett utegym") < first.index("Ett år med nya e-tjänster")
    assert 'rel="next" href="/sida/2/"' in first
    last = (public / "sida/3/index.html").read_text("utf-8")
    assert "Välkommen till kommunbloggen" in last and 'rel="next"' not in last


def test_the_search_index_can_be_left_out_and_leaves_nothing_behind(run, sample_site, public):
    assert run("build").exit_code == 0
    assert (public / "pagefind/pagefind-ui.js").is_file()
    (part,) = _parts(public / "pagefind")  # a small site: one part
    index = {p.name for p in (public / "pagefind" / part).iterdir()}
    assert "index" in index and "fragment" in index
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace("[build]\n", "[build]\nsearch = false\n", 1), "utf-8")
    assert run("build").exit_code == 0
    assert not (public / "pagefind").exists()  # not carried over from the last release
    config.write_text(text, "utf-8")
    assert run("build").exit_code == 0
    assert (public / "pagefind/pagefind-ui.js").is_file()


def test_a_build_freezes_the_site_it_loaded_and_the_preview_server_does_not(run, sample_site):
    """The one-shot commands keep the loaded site out of the cyclic collector's passes; the
    preview server loads the site again on every change and must let the old ones go."""

    gc.unfreeze()
    assert run("build").exit_code == 0
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    env = Env(sample_site, environ={"BLOGTOOL_NOW": NOW.isoformat()})
    written = []
    for _ in range(2):  # the first build and a rebuild
        result = _run_build(env, sample_site / "preview", True, True, None, serving=True)
        written.append(result.written)
        assert gc.get_freeze_count() == 0
    assert written[0] > 0


_POST = "posts/2026-10-15-vi-arbetar-i-floden-inte-i-stupror.md"
_TIP = "tips/2026-10-22-hitta-ut-i-naturen.md"


@pytest.mark.parametrize(
    "path, old, new",
    [
        (_POST, "Det här tar tid.", "Det tar tid."),  # the text
        (_POST, "summary: När en invånare", "summary: När en person"),
        (_POST, "summary: När en invånare behöver hjälp ska hon inte behöva veta hur vi är "
         "organiserade.\n", ""),  # no summary: the text's first paragraph is shown
        (_POST, "title: Vi arbetar i flöden", "title: Nu arbetar vi i flöden"),  # a new address
        (_POST, "date: 2026-10-15T09:00:00+02:00", "date: 2026-09-01T09:00:00+02:00"),
        (_POST, "tags: [arbetssätt, samverkan]", "tags: [arbetssätt]"),
        (_POST, "author: Kommundirektören", "author: Kommunikationsenheten"),
        (_POST, "author: Kommundirektören", "author: Kommundirektören\ndraft: true"),
        (_TIP, "service: naturkartan", "service: etjanster"),
        ("posts/2026-11-20-ett-ar-med-e-tjanster.md", "image: sjon-i-vinterljus.jpg\n", ""),
    ],
    ids=["text", "summary", "no-summary", "title", "date", "tags", "author", "draft",
         "service", "picture"],
)  # fmt: skip
def test_no_page_is_left_stale_by_a_change_of_any_field(run, sample_site, path, old, new):
    """Lists are re-rendered on what they show, not on every change of an item; whatever
    changes, the site is then what a build from nothing makes."""

    assert run("build").exit_code == 0
    source = sample_site / path
    text = source.read_text("utf-8")
    assert old in text
    source.write_text(text.replace(old, new), "utf-8")
    result = run("build")
    assert result.exit_code == 0, result.output
    fresh = sample_site.parent / "fresh"
    shutil.copytree(
        sample_site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool")
    )
    assert Run(fresh)("build").exit_code == 0
    assert _tree(sample_site / "public") == _tree(fresh / "public")


def _force_pooled_load(monkeypatch) -> None:
    """Load the sample site as a big one: on two forked workers, whatever this machine has."""
    monkeypatch.setattr(load, "_PARALLEL_LOAD", 2)
    monkeypatch.setattr(load.os, "cpu_count", lambda: 2)


def test_a_big_site_parses_on_every_core_to_the_same_result(sample_site, monkeypatch):
    """A site of 800 files or more is parsed by a pool of forked workers, which are sent the
    files' places in a list made before the fork. Forced on for the sample site (with a
    broken post among its files), it loads what the one-process way loads."""
    (sample_site / "posts" / "2026-11-30-trasig.md").write_text(
        "---\ntitle: [oavslutad\n---\nText.\n", "utf-8"
    )
    config = load_config(sample_site)
    monkeypatch.setattr(load, "_PARALLEL_LOAD", 10**9)
    alone = load_site(config)
    _force_pooled_load(monkeypatch)
    pooled = load_site(config)
    assert len(alone.items) > 10
    assert pooled.items == alone.items
    assert pooled.problems == alone.problems
    assert any("trasig" in str(p.path) for p in pooled.problems)


@pytest.mark.parametrize("count, jobs", [(5000, 2), (5000, 8), (801, 2), (30, 4), (1, 2), (0, 2)])
def test_work_is_cut_into_parts_that_shrink_as_it_runs_out(count, jobs):
    """The parse and the render hand their workers parts: every piece of work once, in order;
    each part no bigger than the one before; the first a quarter of a worker's share, the
    last ones small, so that no worker is left with a big part while the others wait."""
    made = parallel.parts(range(count), jobs)
    assert [n for part in made for n in part] == list(range(count))
    sizes = [len(part) for part in made]
    assert sizes == sorted(sizes, reverse=True)
    if count >= 8 * jobs * 4:
        assert sizes[0] == count // (jobs * 4)
        assert sizes[-1] <= parallel.SMALLEST and len(made) < 12 * jobs * 4
    assert all(size <= max(parallel.SMALLEST, count // (jobs * 4)) for size in sizes)


def test_pages_rendered_on_two_workers_are_those_of_one(sample_site, monkeypatch):
    """A build on two workers writes exactly the files a build in one process writes."""
    monkeypatch.setattr("blogtool.site.engine.PARALLEL_THRESHOLD", 1)
    other = sample_site.parent / "en-process"
    shutil.copytree(sample_site, other)
    assert Run(sample_site)("build", "--jobs", "2").exit_code == 0
    assert Run(other)("build", "--jobs", "1").exit_code == 0
    assert snapshot(sample_site / "public") == snapshot(other / "public")


def test_the_scheduled_run_on_two_workers_publishes_what_one_process_builds(
    sample_site, monkeypatch
):
    """``run``, the command cron calls, parses and renders a big site on worker processes:
    it publishes exactly what a build in one process does, and the next run finds nothing
    to do (what it learnt of the content was kept)."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)  # (the run also sends what is due)
    other = sample_site.parent / "en-process"
    shutil.copytree(sample_site, other)
    monkeypatch.setattr("blogtool.site.engine.PARALLEL_THRESHOLD", 1)
    _force_pooled_load(monkeypatch)
    result = Run(sample_site)("run")
    assert result.exit_code == 0, result.stderr
    assert "Built " in result.stderr
    assert Run(other)("build", "--jobs", "1").exit_code == 0
    assert snapshot(sample_site / "public") == snapshot(other / "public")
    again = Run(sample_site)("run")
    assert again.exit_code == 0 and "nothing to do" in again.stderr, again.stderr


def test_a_build_records_its_library_versions_and_an_upgrade_renders_every_page(
    run, sample_site, tmp_path, monkeypatch
):
    """A build records the versions of the libraries that shape its pages. After an upgrade
    of Markdown (a newer distribution installed into a folder Python imports from, first in
    the path) every page is rendered again, not only changed ones (and not none, though no
    source changed): no page is left as the old version rendered it. The versions kept in
    the state folder between runs are not taken for the new ones."""
    from importlib import metadata

    from blogtool import version

    installed = tmp_path / "site-packages"
    installed.mkdir()
    monkeypatch.syspath_prepend(str(installed))
    version.forget()  # (each command of a real site is a process of its own)
    first = run("build")
    assert first.exit_code == 0, first.stderr
    (manifest,) = (sample_site / ".blogtool" / "builds").glob("*.json")
    recorded = json.loads(manifest.read_text("utf-8"))
    assert recorded["libraries"] == version.library_versions()
    assert recorded["libraries"]["Markdown"] == metadata.version("Markdown") != "3.12"
    kept = json.loads((sample_site / ".blogtool" / "cache" / "libraries.json").read_bytes())
    assert kept["versions"] == recorded["libraries"]
    pages = len(recorded["pages"])

    version.forget()
    again = run("build")
    assert again.exit_code == 0 and "0 written" in again.output, again.output

    # pip install markdown==3.12, as the installed distribution's metadata tells it
    dist = installed / "markdown-3.12.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: Markdown\nVersion: 3.12\n")
    version.forget()
    try:
        upgraded = run("build")
    finally:
        version.forget()
    assert upgraded.exit_code == 0, upgraded.stderr
    assert f"{pages} written, 0 unchanged" in upgraded.output, upgraded.output
    assert json.loads(manifest.read_text("utf-8"))["libraries"]["Markdown"] == "3.12"


def test_library_versions_are_kept_between_runs_until_a_distribution_is_installed(
    tmp_path, monkeypatch
):
    """What the metadata said is read back from the state folder while the distributions
    installed in every folder on the path are as they were; an install asks again."""
    from blogtool import version

    installed = tmp_path / "site-packages"
    installed.mkdir()
    monkeypatch.syspath_prepend(str(installed))
    state = tmp_path / "state"
    version.forget()
    found = version.library_versions(state)
    kept = state / "cache" / "libraries.json"
    held = json.loads(kept.read_text("utf-8"))
    assert held["versions"] == found and found["Jinja2"]
    held["versions"]["Jinja2"] = "0.0-kept"  # told apart from what the metadata says
    kept.write_text(json.dumps(held), "utf-8")
    version.forget()
    assert version.library_versions(state)["Jinja2"] == "0.0-kept"
    (installed / "other-1.0.dist-info").mkdir()  # pip install other
    version.forget()
    try:
        assert version.library_versions(state) == found
    finally:
        version.forget()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_page_that_cannot_be_rendered_is_one_line_naming_its_file(run, sample_site, jobs):
    """Two items whose pages fail (a site template that breaks on each in its own way): each is
    one line naming its file and the reason, every other page is still tried, and nothing is
    published: the live site stays as it was. On one process and on two workers."""
    assert run("build").exit_code == 0
    before = _tree(sample_site / "public")
    template = sample_site / "templates" / "item.html"  # the site's own, from the default
    template.write_text(
        (REPO / "blogtool" / "templates" / "item.html")
        .read_text("utf-8")
        .replace(
            "<h1>{{ item.title }}</h1>",
            '<h1>{{ item.title }}{% if item.slug == "ett-ar-med-nya-e-tjanster" %}'
            "{{ item.values.nothing.x }}{% endif %}"
            '{% if item.slug == "valkommen-till-kommunbloggen" %}{{ 1 // 0 }}{% endif %}</h1>',
        ),
        "utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("blogtool.site.engine.PARALLEL_THRESHOLD", 1)
        result = run("build", "--jobs", jobs)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "posts/2026-09-10-valkommen-till-kommunbloggen.md: error: templates/item.html:6: "
        "template error: integer division or modulo by zero",
        "posts/2026-11-20-ett-ar-med-e-tjanster.md: error: templates/item.html:6: undefined "
        "variable: 'dict object' has no attribute 'nothing'",
        "Error: 2 problems found; nothing was changed.",
    ]
    assert _tree(sample_site / "public") == before


def test_a_body_markdown_cannot_read_is_one_line_naming_its_file(run, sample_site, monkeypatch):
    """A Markdown release that crashes on a text (3.6 and 3.9 each did on some): ``check`` and
    ``build`` name the file and the reason in one line, and nothing is published."""
    import markdown

    assert run("build").exit_code == 0
    before = _tree(sample_site / "public")
    real = markdown.Markdown.convert

    def breaks_on_one(self, source):
        if "Hej och välkommen!" in source:
            raise IndexError("list index out of range")
        return real(self, source)

    monkeypatch.setattr(markdown.Markdown, "convert", breaks_on_one)
    post = sample_site / "posts/2026-09-10-valkommen-till-kommunbloggen.md"
    post.write_text(post.read_text("utf-8") + "\nEn rad till.\n", "utf-8")  # read anew
    for command in ("check", "build"):
        result = run(command)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.stderr
        assert (
            "posts/2026-09-10-valkommen-till-kommunbloggen.md:8: error: Markdown cannot read "
            "the text (IndexError: list index out of range)"
        ) in result.stderr.splitlines()
    assert _tree(sample_site / "public") == before


def test_a_template_change_renders_pages_again_but_converts_no_markdown(
    run, sample_site, monkeypatch
):
    """Each item's HTML is kept by its content digest and the library versions: a changed
    template renders every page again without converting one body; an edited post converts
    only itself."""
    import markdown

    converted: list[str] = []
    real = markdown.Markdown.convert

    def counting(self, source):
        converted.append(source)
        return real(self, source)

    assert run("build").exit_code == 0
    monkeypatch.setattr(markdown.Markdown, "convert", counting)
    template = sample_site / "templates" / "item.html"
    default = (REPO / "blogtool" / "templates" / "item.html").read_text("utf-8")
    template.write_text(default.replace("<h1>", '<h1 class="rubrik">'), "utf-8")
    result = run("build")
    assert result.exit_code == 0, result.output
    page = (sample_site / "public" / "valkommen-till-kommunbloggen" / "index.html").read_text()
    assert '<h1 class="rubrik">' in page and "Hej och välkommen!" in page
    assert converted == []
    post = sample_site / "posts/2026-09-10-valkommen-till-kommunbloggen.md"
    post.write_text(post.read_text("utf-8") + "\nEn rad till.\n", "utf-8")
    assert run("build").exit_code == 0
    assert len(converted) == 1 and "En rad till." in converted[0]


def _parts(index: Path) -> list[str]:
    """The index's parts, as the search page reads them from bundles.js."""
    import json

    script = (index / "bundles.js").read_text("utf-8")
    prefix = "window.blogtoolSearch = "
    assert script.startswith(prefix)
    return [part.rstrip("/") for part in json.loads(script[len(prefix) :].rstrip().rstrip(";"))]


def _page_count(index: Path) -> int:
    """How many pages the index holds, over all its parts."""
    import json

    count = 0
    for part in _parts(index):
        entry = json.loads((index / part / "pagefind-entry.json").read_text("utf-8"))
        count += sum(language["page_count"] for language in entry["languages"].values())
    return count


def test_a_changed_page_goes_live_before_the_search_index_is_made_again(
    run, sample_site, public, monkeypatch
):
    """Pagefind indexes the whole site (seconds at thousands of posts), so it is off the
    critical path: the new release is swapped in with the live index (hard links), and the
    new index is made in the live release afterwards and put in place by renames."""
    from blogtool.site import search

    assert run("build").exit_code == 0
    before = _page_count(public / "pagefind")
    write(
        sample_site / "posts/2026-11-27-ny-text.md",
        "---\ntitle: En ny text\ndate: 2026-11-27T09:00:00+01:00\nsummary: Ny.\n---\nIsvak.\n",
    )
    seen = {}
    real_index = search.index

    def observed(release, series, out=None):
        # When Pagefind starts, the site a reader gets is already the new one.
        seen["live"] = public.resolve() == release.resolve()
        seen["page"] = (public / "en-ny-text/index.html").is_file()
        seen["count"] = _page_count(public / "pagefind")
        # Written beside the releases, never into the one served (a build may reuse it).
        seen["out"] = (out.parent, out.name.startswith(".public.search-"))
        return real_index(release, series, out)

    monkeypatch.setattr(search, "index", observed)
    assert run("build").exit_code == 0
    assert seen == {"live": True, "page": True, "count": before, "out": (sample_site, True)}
    assert _page_count(public / "pagefind") == before + 1
    release = public.resolve()
    assert not (release / ".pagefind-old").exists()
    assert not list(sample_site.glob(".public.search-*"))
    listed = set(release.with_name(release.name + ".files").read_text("utf-8").splitlines())
    made = {
        p.relative_to(release).as_posix() for p in (release / "pagefind").rglob("*") if p.is_file()
    }
    assert made and made <= listed
    assert not any(name.startswith(".pagefind") for name in listed)


def _ended(pids: list[int]) -> bool:
    """Whether these processes (not our children: their parent, a build, has ended) ended."""
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return False
    return True


def _stop_indexers(pids: list[int]) -> None:
    import contextlib
    import os
    import signal

    for pid in pids:  # each in a session (and process group) of its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _big_site(sample_site: Path) -> dict[str, str]:
    """The sample site taken for a big one ([build] search_background = 1): the environment
    to run its commands in."""
    import os

    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8").replace("[build]\n", "[build]\nsearch_background = 1\n", 1)
    config.write_text(text, "utf-8")
    return {**os.environ, "BLOGTOOL_NOW": NOW.isoformat(), "BLOGTOOL_SECRET": SECRET}


def _cli(site: Path, env: dict[str, str], *args: str) -> str:
    import subprocess

    from .processes import blogtool

    done = subprocess.run(
        blogtool("--site", str(site), *args), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _new_post(site: Path, n: int) -> None:
    write(
        site / f"posts/2026-11-2{n}-ny-{n}.md",
        f"---\ntitle: Ny text {n}\ndate: 2026-11-2{n}T09:00:00+01:00\nsummary: Ny.\n---\nIsvak.\n",
    )


def test_a_big_sites_build_returns_and_the_search_index_follows_in_its_own_process(
    sample_site, public
):
    """From [build] search_background pages on (here 1), the command ends once the changed
    page is live; the index is made by `blogtool search-index`, which the build starts in a
    session of its own. While that one waits its turn (the test holds the index's lock),
    builds go on and the old index is served; then the index follows, of the newest release."""
    import fcntl
    import os

    from blogtool.site import search

    from .processes import wait_for

    env = _big_site(sample_site)
    pids: list[int] = []
    lock = os.open(sample_site / ".blogtool/search.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        assert "follows in process" not in _cli(sample_site, env, "build", "--wait")
        before = _page_count(public / "pagefind")
        fcntl.flock(lock, fcntl.LOCK_EX)  # an index being made, as long as the test likes
        for n in range(3):
            _new_post(sample_site, n)
            said = _cli(sample_site, env, "build")  # (would wait on the lock if it waited)
            pids += [int(m) for m in re.findall(r"follows in process (\d+)", said)]
            assert (public / f"ny-text-{n}/index.html").is_file()  # live as the command ends
        assert len(pids) == 3 and _page_count(public / "pagefind") == before
        os.close(lock)  # the lock is free: the waiting processes go, one at a time
        lock = -1
        wait_for(lambda: _ended(pids), "the indexers to end")
        assert search.owed(load_config(sample_site)) is None  # nothing owed any more
        assert _page_count(public / "pagefind") == before + 3
        release = public.resolve()
        listed = set(release.with_name(release.name + ".files").read_text("utf-8").splitlines())
        index = {
            p.relative_to(release).as_posix()
            for p in (release / "pagefind").rglob("*")
            if p.is_file()
        }
        assert {n for n in listed if n.startswith("pagefind/")} == index
        # Nothing beside the releases: no index being made, nothing a build set aside (the
        # reused releases' older indexes, deleted after the swap).
        beside = {p.name for p in sample_site.glob(".public*")}
        assert beside == {".public.releases", ".public.previous"}, beside
        assert not list(release.glob(".pagefind*"))
        log = (sample_site / ".blogtool/search.log").read_text("utf-8")
        assert log.count("the search index is made again") == 1, log  # the others: none owed
        assert log.count("no search index was owed") == 2 and "Traceback" not in log
    finally:
        if lock >= 0:
            os.close(lock)
        _stop_indexers(pids)


def test_an_index_made_while_a_build_swaps_in_a_newer_release_is_made_again(
    sample_site, public, monkeypatch
):
    """A build that comes while Pagefind reads the live release owes a new index: the one
    being made is put in place (its release is still kept), and the newest release is then
    indexed in turn, so the index that stays counts the later post too."""
    from blogtool.site import search
    from blogtool.site.build import index_search

    from .processes import wait_for

    env = _big_site(sample_site)
    pids: list[int] = []
    try:
        _cli(sample_site, env, "build", "--wait")
        before = _page_count(public / "pagefind")
        _new_post(sample_site, 1)
        said = _cli(sample_site, env, "build")
        pids += [int(m) for m in re.findall(r"follows in process (\d+)", said)]
        wait_for(lambda: _ended(pids), "the first post's index")
        assert _page_count(public / "pagefind") == before + 1
        _new_post(sample_site, 2)
        (sample_site / ".blogtool/search-pending").write_text("by hand", "utf-8")
        real_index = search.index
        read: list[Path] = []

        def meanwhile(release, series, out=None):
            read.append(release.resolve())
            if len(read) == 1:  # a build comes as Pagefind reads the live release
                pids.extend(
                    int(m)
                    for m in re.findall(
                        r"follows in process (\d+)", _cli(sample_site, env, "build")
                    )
                )
            return real_index(release, series, out)

        monkeypatch.setattr(search, "index", meanwhile)
        config = load_config(sample_site)
        assert index_search(config, public) is True
        assert len(read) == 2 and read[1] == public.resolve() != read[0]
        assert search.owed(config) is None
        assert _page_count(public / "pagefind") == before + 2
        wait_for(lambda: _ended(pids), "the build's own indexer")
        assert search.owed(load_config(sample_site)) is None  # nothing owed any more
    finally:
        _stop_indexers(pids)


def test_status_says_when_a_search_index_is_owed_and_nobody_makes_it(run, sample_site, public):
    """A background index that failed or was stopped leaves its marker: status names it as a
    problem (and how to make it), but not while a process holds the index's lock."""
    import fcntl
    import os

    assert run("build").exit_code == 0
    said = "the search index is older than the pages"
    assert said not in run("status").output
    (sample_site / ".blogtool/search-pending").write_text("r-x", "utf-8")
    assert said in run("status").output and "blogtool search-index" in run("status").output
    lock = os.open(sample_site / ".blogtool/search.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert said not in run("status").output  # being made
    finally:
        os.close(lock)
    result = run("search-index")
    assert result.exit_code == 0 and "the search index is made again" in result.output
    assert said not in run("status").output


def test_a_build_or_run_with_nothing_to_write_makes_an_index_left_owed(
    run, sample_site, public, monkeypatch
):
    """A build killed between its swap and its index, or an index process stopped, leaves the
    index owed (here: killed between install's two renames, the live release has none). The
    next build makes it though it has no page to write, and so does the next scheduled run,
    which no person watches; neither touches it while a process holds the index's lock."""
    import fcntl
    import os

    from blogtool.site import search

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)  # (the run also mails the week's issue)
    config = load_config(sample_site)
    assert run("run").exit_code == 0  # built, indexed, and recorded as the run's state
    pages = _page_count(public / "pagefind")
    assert pages > 0

    def stopped() -> None:
        release = public.resolve()
        (release / "pagefind").rename(release / search.OLD)
        (sample_site / ".blogtool/search-pending").write_text(release.name, "utf-8")
        assert search.owed(config) == "owed" and not (public / "pagefind").exists()

    stopped()
    lock = os.open(sample_site / ".blogtool/search.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a process making it: left to that one
        result = run("build")
        assert result.exit_code == 0 and "0 written" in result.output, result.output
        assert search.owed(config) == "making" and not (public / "pagefind").exists()
    finally:
        os.close(lock)
    result = run("build")
    assert result.exit_code == 0 and "0 written" in result.output, result.output
    assert search.owed(config) is None and _page_count(public / "pagefind") == pages
    assert not list(public.resolve().glob(".pagefind*"))

    stopped()
    result = run("run")
    assert result.exit_code == 0, result.output
    assert "nothing to do" in result.output  # the quiet way: no source changed, nothing due
    assert "made the search index that a stopped build had left owed" in result.output
    assert search.owed(config) is None and _page_count(public / "pagefind") == pages
    assert "search index" not in run("run").output  # made once

    # A big site's build leaves it to a process of its own, as a build that wrote pages does.
    from .processes import wait_for

    env = _big_site(sample_site)
    _cli(sample_site, env, "build", "--wait")
    stopped()
    said = _cli(sample_site, env, "build")
    pids = [int(m) for m in re.findall(r"follows in process (\d+)", said)]
    try:
        assert "0 written" in said and len(pids) == 1, said
        wait_for(lambda: _ended(pids), "the index's own process")
        assert search.owed(config) is None and _page_count(public / "pagefind") == pages
    finally:
        _stop_indexers(pids)


def test_when_pagefind_fails_the_pages_stay_live_with_the_index_they_had(
    run, sample_site, public, monkeypatch
):
    from blogtool.site import search
    from blogtool.site.engine import BuildError

    assert run("build").exit_code == 0
    before = _page_count(public / "pagefind")
    write(
        sample_site / "posts/2026-11-27-ny-text.md",
        "---\ntitle: En ny text\ndate: 2026-11-27T09:00:00+01:00\nsummary: Ny.\n---\nIsvak.\n",
    )

    def broken(release, series, out=None):
        (out or release / "pagefind").mkdir(parents=True, exist_ok=True)  # half-made
        raise BuildError("the search index could not be made (Pagefind): out of memory")

    monkeypatch.setattr(search, "index", broken)
    result = run("build")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the pages are live, but with the search index as it was" in result.stderr
    assert (public / "en-ny-text/index.html").is_file()
    assert _page_count(public / "pagefind") == before
    monkeypatch.undo()
    assert run("build").exit_code == 0  # the next build makes it, and leaves nothing behind
    assert _page_count(public / "pagefind") == before + 1
    assert not list(sample_site.glob(".public.search-*"))
    assert not list(public.resolve().glob(".pagefind*"))


def test_a_big_sites_index_comes_in_parts_and_a_change_makes_one_part_again(
    run, sample_site, public, monkeypatch
):
    """Pagefind's memory grows with what it reads, so a big site is indexed in parts of at
    most PART_BYTES of pages, one Pagefind process each. A changed post makes its part again;
    the other parts are linked from the index as it was."""
    from blogtool.site import search

    assert run("build").exit_code == 0
    whole = _page_count(public / "pagefind")
    items = [p for p in public.rglob("index.html") if "data-pagefind-body" in p.read_text("utf-8")]
    assert whole == len(items) >= 8  # the posts and tips, no list
    monkeypatch.setattr(search, "PART_BYTES", 12_000)  # the sample site in several parts
    made: list[list[str]] = []
    real = search._pagefind

    def counted(release, pages, out):
        made.append(pages)
        return real(release, pages, out)

    monkeypatch.setattr(search, "_pagefind", counted)
    post = sample_site / "posts/2026-09-10-valkommen-till-kommunbloggen.md"
    post.write_text(post.read_text("utf-8") + "\nEtt tillägg.\n", "utf-8")
    assert run("build").exit_code == 0
    parts = _parts(public / "pagefind")
    assert len(parts) >= 3 and len(made) == len(parts), made  # the size changed: all anew
    assert _page_count(public / "pagefind") == whole
    assert sorted(page for pages in made for page in pages) == sorted(
        p.relative_to(public).as_posix() for p in items
    )
    entries = {part: (public / "pagefind" / part / "pagefind-entry.json").stat() for part in parts}
    made.clear()
    post.write_text(post.read_text("utf-8") + "\nEtt tillägg till.\n", "utf-8")
    assert run("build").exit_code == 0
    assert len(made) == 1 and any("valkommen" in page for page in made[0])  # its part alone
    now = _parts(public / "pagefind")
    assert len(now) == len(parts) and len(set(now) - set(parts)) == 1
    kept = [part for part in now if part in parts]
    for part in kept:  # the same files, linked: not made again
        assert (public / "pagefind" / part / "pagefind-entry.json").stat().st_ino == entries[
            part
        ].st_ino
    assert _page_count(public / "pagefind") == whole
    assert not list(sample_site.glob(".public.search-*"))
    # The site's title is on every page, in the head, the header and the footer, where
    # Pagefind does not read: every page is written again, and no part is made again.
    made.clear()
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8").replace('title = "', 'title = "Nya ', 1), "utf-8")
    assert run("build").exit_code == 0
    assert "Nya " in (public / "valkommen-till-kommunbloggen/index.html").read_text("utf-8")
    assert made == [] and _parts(public / "pagefind") == now
    # A site built many times reuses a spare release, which keeps the parts it has in common
    # with the live index, and has the live index's parts and no other.
    tip = sample_site / "tips/2026-10-22-hitta-ut-i-naturen.md"
    for text in ("\nFler ord.\n", "\nÄnnu fler ord.\n"):
        tip.write_text(tip.read_text("utf-8") + text, "utf-8")
        assert run("build").exit_code == 0
        release = public.resolve()
        assert {p.name for p in (release / "pagefind").glob("s-*")} == set(
            _parts(public / "pagefind")
        )
        assert _page_count(public / "pagefind") == whole
        listed = set(release.with_name(release.name + ".files").read_text("utf-8").splitlines())
        index = {
            p.relative_to(release).as_posix()
            for p in (release / "pagefind").rglob("*")
            if p.is_file()
        }
        assert index <= listed and {n for n in listed if n.startswith("pagefind/")} == index


def test_a_search_index_that_cannot_be_written_is_a_build_error(run, sample_site, public):
    """What the file system refuses while the index is made (a full disk, a release that
    builds reused meanwhile) is one message, as Pagefind's own failure is: no traceback."""
    from blogtool.site import search
    from blogtool.site.engine import BuildError

    assert run("build").exit_code == 0
    blocker = write(sample_site / "not-a-folder", "x")
    with pytest.raises(BuildError, match=r"the search index could not be made: .*not-a-folder"):
        search.index(public.resolve(), "torsdagstips", blocker / "index")


def test_templates_that_mark_no_page_for_search_get_every_page_indexed(run, sample_site, public):
    """A site's own base.html without data-pagefind-body: Pagefind's own rule, every page whole
    (the lists too), rather than no search at all."""
    default = (REPO / "blogtool/templates/base.html").read_text("utf-8")
    assert " data-pagefind-body" in default
    own = default.replace("{% if page_item %} data-pagefind-body{% endif %}", "")
    assert own != default
    write(sample_site / "templates/base.html", own)
    assert run("build").exit_code == 0
    assert "data-pagefind-body" not in (public / "index.html").read_text("utf-8")
    items = len(list(public.glob("*/index.html"))) + len(
        list(public.glob("torsdagstips/*/index.html"))
    )
    assert _page_count(public / "pagefind") == items > 10


def test_a_search_part_is_named_by_what_pagefind_reads_of_its_pages():
    """The language, the body, tags marked for Pagefind and the pictures after the body count;
    the head, the header and the footer's words do not (a site's title is in all three)."""
    from blogtool.site.search import _read_by_pagefind

    page = (
        b'<html lang="sv"><head><title>A - Site</title></head><body><header>Site</header>'
        b"<main data-pagefind-body><h1>A</h1><p>Text</p></main>"
        b'<footer>Site <img src="/f.png" alt=""></footer></body></html>'
    )
    read = _read_by_pagefind(page)
    assert read is not None
    assert _read_by_pagefind(page.replace(b"Site", b"Other site")) == read
    for changed in (b"Text", b'lang="sv"', b"/f.png"):
        assert _read_by_pagefind(page.replace(changed, b"x")) != read, changed
    assert _read_by_pagefind(page.replace(b" data-pagefind-body", b"")) is None


def test_a_series_titled_in_signs_alone_has_its_tips_indexed(run, sample_site, public):
    """A series' title of signs alone gives it no folder of its own (its tips are at the top):
    the search index still finds them, and the build does not fail on the empty name."""
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace('title = "Torsdagstips"', 'title = ":"'), "utf-8"
    )
    result = run("build")
    assert result.exit_code == 0, result.output
    tip = public / "hitta-ut-i-naturen-med-vaxjo-naturkarta/index.html"
    assert tip.is_file()
    items = [p for p in public.glob("*/index.html") if "data-pagefind-body" in p.read_text("utf-8")]
    assert _page_count(public / "pagefind") == len(items) >= 8
