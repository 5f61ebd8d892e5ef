"""An English site (tests/english_site, ``language = "en"``): its pages, feeds, newsletter and
reader-service pages carry no Swedish word of the default templates, and its addresses use the
English words."""

from __future__ import annotations

import datetime as dt
import email
import re
import shutil
from email import policy
from pathlib import Path

import feedparser
import pytest
from babel.messages.pofile import read_po

from blogtool import i18n

from .conftest import SECRET, Run
from .processes import serving_waitress
from .test_web import Clock, Service

ENGLISH_SITE = Path(__file__).parent / "english_site"
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
BASE = "https://blog.riverside.example/"


def _pieces(theirs: str, ours: str, shortest: int, phrases: bool) -> list[str]:
    """Pieces of one side of the Swedish catalogue (``theirs``: "string" for the Swedish,
    "id" for the English source) that the other side lacks, placeholders and tags cut out:
    what must not turn up in a text of the other language."""
    catalog = read_po((i18n.LOCALE_DIR / "sv" / "LC_MESSAGES" / "blogtool.po").open("rb"))

    def texts(message: object, side: str) -> tuple[str, ...]:
        value = getattr(message, side)
        return tuple(value) if isinstance(value, tuple) else (value or "",)

    other = " ".join(" ".join(texts(m, ours)) for m in catalog if m.id).lower()
    found = set()
    for message in catalog:
        for text in texts(message, theirs):
            for piece in re.split(r"%\(\w+\)[sd]|\{[^}]*\}|<[^>]+>", text):
                piece = piece.strip(" .,:;!?()[]-–\n\"'")
                if len(piece) < shortest or piece.lower() in other or piece.isdigit():
                    continue
                if phrases and " " not in piece:
                    continue
                found.add(piece)
    return sorted(found, key=len, reverse=True)


# Every piece of Swedish the catalogue gives a reader or a user that is not also English (a
# link's %(url)s, 'Status', 'tips'); and the mirror image, English phrases Swedish lacks.
SWEDISH = _pieces("string", "id", 4, phrases=False)


def visible(html: str) -> str:
    """What a person reads or hears of a page: its text and the attributes shown or spoken
    (form field names and ids are the service's own, not words)."""
    said = re.findall(r'(?:alt|title|aria-label|placeholder|content|value)="([^"]*)"', html)
    return re.sub(r"<[^>]+>", " ", html) + " " + " ".join(said)


ENGLISH = _pieces("id", "string", 5, phrases=True)


def swedish_in(text: str) -> list[str]:
    shown = visible(text)
    return [word for word in SWEDISH if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", shown)]


@pytest.fixture
def english(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "site"
    shutil.copytree(ENGLISH_SITE, root)
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    return root


def test_the_swedish_word_list_is_not_empty_and_catches_a_template_word():
    assert len(SWEDISH) > 200
    assert swedish_in("<a>Hoppa till innehållet</a>") == ["Hoppa till innehållet"]
    assert swedish_in("Skip to content, Thursday tips") == []
    assert "Skip to content" in ENGLISH and "Hoppa till innehållet" not in ENGLISH


def test_english_pages_and_feeds_have_no_swedish_and_english_addresses(english):
    run = Run(english)
    result = run("build", now=NOW)
    assert result.exit_code == 0, result.stderr
    public = english / "public"
    for folder in ("tag", "archive", "service", "search", "thursday-tips"):
        assert (public / folder / "index.html").is_file(), folder
    for swedish in ("tagg", "arkiv", "tjanst", "sok", "bilder", "sida", "torsdagstips"):
        assert not (public / swedish).exists(), swedish
    assert (public / "tag" / "parks" / "index.html").is_file()
    assert (public / "archive" / "2026" / "11" / "index.html").is_file()
    assert (public / "service" / "parkmap" / "index.html").is_file()
    checked = 0
    for path in sorted(public.rglob("*")):
        if path.suffix not in (".html", ".xml", ".txt") or "pagefind" in path.parts:
            continue
        text = path.read_text("utf-8")
        assert swedish_in(text) == [], path.relative_to(public)
        checked += 1
    assert checked >= 12
    home = (public / "index.html").read_text("utf-8")
    assert '<html lang="en">' in home and "Skip to content" in home
    assert 'href="/tag/"' in home and 'href="/archive/"' in home
    assert 'action="/newsletter/subscribe"' in home  # the reader service's English address
    tip = (public / "thursday-tips" / "find-a-park-near-you" / "index.html").read_text("utf-8")
    assert "Service in the tip" in tip and "Open Riverside Park Map" in tip
    for name in ("feed.xml", "thursday-tips/feed.xml", "atom.xml"):
        feed = feedparser.parse((public / name).read_bytes())
        assert feed.bozo == 0, (name, feed.get("bozo_exception"))
        assert feed.feed.language == "en"
    assert feedparser.parse((public / "feed.xml").read_bytes()).feed.subtitle == (
        "Everything from Riverside Council Blog"
    )


def test_the_english_newsletter_and_its_headers_are_english(english):
    run = Run(english)
    (english / "readers.csv").write_text("email,name\nreader@example.org,Robin\n", "utf-8")
    assert run("subscribers", "import", str(english / "readers.csv"), now=NOW).exit_code == 0
    built = run("newsletter", "build", "--since", "2026-11-01", now=NOW)
    assert built.exit_code == 0, built.stderr
    sent = run("newsletter", "send", now=NOW)
    assert sent.exit_code == 0, sent.stderr
    [eml] = sorted((english / "outbox").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Subject"].startswith("Thursday tips week 48: Find a park near you")
    assert message["From"] == "Riverside Council Blog <newsletter@blog.riverside.example>"
    assert "/unsubscribe?t=" in message["List-Unsubscribe"]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Read on the web" in html and "Read on the web:" in text
    assert "THIS WEEK'S SERVICE: Riverside Park Map" in text  # the featured service
    assert swedish_in(html) == [] and swedish_in(text) == []
    assert swedish_in(str(message["Subject"])) == []


def test_the_english_reader_service_speaks_english_at_english_addresses(english):
    from blogtool.config import load_config

    clock = Clock()
    svc = Service(english, clock, [])
    with serving_waitress(svc.server, svc.socket_map):
        svc.sender.start()
        try:
            config = load_config(english)
            assert config.web_path("subscribe") == "subscribe"
            status, page = svc.request("/newsletter/")
            assert status == 200 and '<html lang="en">' in page
            assert "Subscribe to the newsletter" in page and swedish_in(page) == []
            status, page = svc.request(
                "/newsletter/subscribe", {"epost": "new@example.org", "lista": "thursday-tips"}
            )
            assert status == 200 and "Look in your inbox" in page and swedish_in(page) == []
            [confirm] = svc.mails(wait_for=1)
            assert confirm["Subject"] == "Confirm your subscription to Riverside Council Blog"
            body = confirm.get_body(("plain",)).get_content()
            assert body.startswith("Hello!") and swedish_in(body) == []
            link = svc.link_in(confirm, "confirm")
            assert "/newsletter/confirm?t=" in link
            status, page = svc.request(link)
            assert status == 200 and "Confirm your subscription" in page and swedish_in(page) == []
            status, page = svc.request("/newsletter/my-data")
            assert status == 200 and "My data" in page and swedish_in(page) == []
            status, page = svc.request("/newsletter/nowhere")
            assert status == 404 and "Page not found" in page and swedish_in(page) == []
            # A link mailed before a rename (or by a Swedish default) still answers.
            status, _ = svc.request("/newsletter/mina-uppgifter")
            assert status == 200
        finally:
            svc.sender.stop()


def test_the_swedish_sample_site_has_no_english_words_of_the_templates(run, sample_site):
    assert len(ENGLISH) > 100
    result = run("build")
    assert result.exit_code == 0, result.stderr
    public = sample_site / "public"
    for path in sorted(public.rglob("*.html")):
        if "pagefind" in path.parts:
            continue
        shown = visible(path.read_text("utf-8"))
        found = [w for w in ENGLISH if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", shown)]
        assert found == [], path.relative_to(public)


def test_renaming_an_address_word_on_a_live_site_leaves_redirects(run, sample_site):
    assert run("build").exit_code == 0
    public = sample_site / "public"
    pictures = sorted(p.relative_to(public / "bilder") for p in (public / "bilder").rglob("*.jpg"))
    assert pictures and (public / "tagg" / "natur" / "index.html").is_file()
    config = sample_site / "blogtool.toml"
    original = config.read_text("utf-8")
    config.write_text(original + '\n[urls]\ntag = "amne"\npictures = "img"\n', "utf-8")
    result = run("build")
    assert result.exit_code == 0, result.stderr
    new = (public / "amne" / "natur" / "index.html").read_text("utf-8")
    assert "<h1>Ämne: natur</h1>" in new
    old = (public / "tagg" / "natur" / "index.html").read_text("utf-8")
    target = "https://blogg.vaxjo.example/amne/natur/"
    assert f'<meta http-equiv="refresh" content="0; url={target}">' in old
    assert f'<link rel="canonical" href="{target}">' in old and "noindex" in old
    assert "Sidan har flyttat hit:" in old
    assert 'url=https://blogg.vaxjo.example/amne/"' in (public / "tagg" / "index.html").read_text(
        "utf-8"
    )
    # A picture an old newsletter shows is still at its old address, the same bytes.
    for rel in pictures:
        assert (public / "bilder" / rel).read_bytes() == (public / "img" / rel).read_bytes()
    # Pages now link to the new addresses only.
    assert 'href="/tagg/' not in (public / "index.html").read_text("utf-8")
    # A second rename: both earlier words lead to the newest, build after build.
    config.write_text(original + '\n[urls]\ntag = "topics"\n', "utf-8")
    assert run("build").exit_code == 0
    assert run("build").exit_code == 0
    for word in ("tagg", "amne"):
        text = (public / word / "natur" / "index.html").read_text("utf-8")
        assert "url=https://blogg.vaxjo.example/topics/natur/" in text, word
    assert (public / "img").is_dir()  # the pictures' second word stays served too


ENGLISH_PAGES = {
    "home": "/",
    "post": "/welcome-to-the-council-blog/",
    "tip": "/thursday-tips/find-a-park-near-you/",
    "series": "/thursday-tips/",
    "tag": "/tag/parks/",
    "service": "/service/parkmap/",
    "archive": "/archive/",
    "search": "/search/?q=forty",
    "404": "/no-such-page/",
}


@pytest.mark.browser
def test_english_pages_pass_axe_in_a_real_browser(english, browser):
    from axe_playwright_python.sync_playwright import Axe

    from .conftest import serious_violations, serving, visit

    assert Run(english)("build", now=NOW).exit_code == 0
    with serving(english / "public") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = context.new_page()
        axe = Axe()
        for name, path in ENGLISH_PAGES.items():
            visit(page, url + path, name)
            if name == "search":
                field = page.get_attribute("#sok input", "aria-label")
                assert field == "Search the site"
            assert page.evaluate("document.documentElement.lang") == "en"
            assert serious_violations(axe, page) == [], name
        context.close()


def test_a_site_that_changes_its_language_gets_the_new_words_from_warm_caches(run, sample_site):
    """Fixed texts are translated when a template is compiled, and compiled templates are kept
    between builds: a switch from Swedish to English must not serve the Swedish ones."""
    assert run("build").exit_code == 0
    home = sample_site / "public" / "index.html"
    assert "Hoppa till innehållet" in home.read_text("utf-8")
    swedish_compiled = list((sample_site / ".blogtool" / "cache" / "jinja").glob("*.cache"))
    assert swedish_compiled
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace('language = "sv"', 'language = "en"'), "utf-8"
    )
    result = run("build")
    assert result.exit_code == 0, result.stderr
    # Only the English compiled templates are kept; the Swedish ones went.
    compiled = list((sample_site / ".blogtool" / "cache" / "jinja").glob("*.cache"))
    assert compiled and not set(swedish_compiled) & set(compiled)
    assert len({p.name.split("-", 1)[0] for p in compiled}) == 1
    page = visible(home.read_text("utf-8"))
    for english, swedish in (("Skip to content", "Hoppa till innehållet"), ("Archive", "Arkiv"),
                             ("Search the site", "Sök på webbplatsen")):  # fmt: skip
        assert english in page and swedish not in page


def test_a_fixed_text_renders_as_the_translation_call_would(tmp_path):
    """A fixed text comes out as newstyle gettext makes it: '%%' is one '%', markup in a
    translation is kept, a value is still escaped."""
    from blogtool.config import load_config
    from blogtool.site.templates import make_environment

    (tmp_path / "blogtool.toml").write_text(
        '[site]\ntitle = "T"\nbase_url = "https://t.example/"\nlanguage = "sv"\n', "utf-8"
    )
    env = make_environment(load_config(tmp_path))
    source = (
        '{{ _("Skip to content") }}|{{ _("100%% sure") }}|{{ _("a <b>b</b>") }}|'
        '{{ _("RSS for %(series)s", series="<x>") }}'
    )
    assert env.from_string(source).render() == (
        "Hoppa till innehållet|100% sure|a <b>b</b>|RSS för &lt;x&gt;"
    )


def test_a_text_with_values_is_escaped_where_the_template_escapes(tmp_path):
    """A text with values comes out as newstyle gettext makes it, escaped or not as its
    template is, whatever the value."""
    from blogtool.config import load_config
    from blogtool.site.templates import make_environment

    (tmp_path / "blogtool.toml").write_text(
        '[site]\ntitle = "T"\nbase_url = "https://t.example/"\nlanguage = "sv"\n', "utf-8"
    )
    env = make_environment(load_config(tmp_path))
    html = env.from_string('{{ _("RSS for %(series)s", series=s) }}')
    raw = env.from_string(
        '{% autoescape false %}{{ _("RSS for %(series)s", series=s) }}{% endautoescape %}'
    )
    assert [html.render(s=s) for s in ("A", "<b>", "A")] == ["RSS för A", "RSS för &lt;b&gt;",
                                                              "RSS för A"]  # fmt: skip
    assert raw.render(s="<b>") == "RSS för <b>"
    assert html.render(s="<b>") == "RSS för &lt;b&gt;"
    assert html.render(s=["<i>"]) == "RSS för [&#39;&lt;i&gt;&#39;]"
