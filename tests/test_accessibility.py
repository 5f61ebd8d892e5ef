"""The accessibility statement (DOS-lagen, in the order of DIGG's model): built from
[accessibility], linked from every page and every letter, kept up to date by `check`."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from pathlib import Path

import pytest

from blogtool.site.accessibility import ratio, theme_contrast

from .conftest import NOW, SECRET, STOCKHOLM, Run

SEND_NOW = dt.datetime(2026, 12, 3, 8, 5, tzinfo=STOCKHOLM)


def text_of(page: str) -> str:
    main = page[page.index("<main") : page.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def set_accessibility(site: Path, **values: str) -> None:
    """Replace keys of the sample site's [accessibility] section (a value of None removes)."""
    config = site / "blogtool.toml"
    text = config.read_text("utf-8")
    for key, value in values.items():
        pattern = re.compile(rf"^{key} = (?:\[[^\]]*\]|[^\n]*)\n", re.M)  # arrays span lines
        line = "" if value is None else f"{key} = {value}\n"
        if pattern.search(text):
            text = pattern.sub(line.replace("\\", "\\\\"), text, count=1)
        else:
            text = text.replace("[accessibility]\n", f"[accessibility]\n{line}", 1)
    config.write_text(text, "utf-8")


def section_line(site: Path) -> int:
    return (site / "blogtool.toml").read_text("utf-8").splitlines().index("[accessibility]") + 1


def test_the_statement_says_what_digg_s_model_asks(run, sample_site):
    assert run("build").exit_code == 0
    page = (sample_site / "public" / "tillganglighet" / "index.html").read_text("utf-8")
    text = text_of(page)
    assert "<h1>Tillgänglighet för Kommunbloggen</h1>" in page
    # Who publishes it, and which service it is about.
    assert "Växjö kommun står bakom den här webbplatsen" in text
    # The compliance status, in the law's words.
    assert "Den här webbplatsen är delvis förenlig med lagen om tillgänglighet" in text
    # What is not accessible and why, and what the law does not cover.
    assert "Bristande förenlighet med lagkraven" in text and "(WCAG 1.1.1)" in text
    assert "Innehåll som inte omfattas av lagstiftningen" in text
    assert "Oskäligt betungande anpassning" not in text  # none is configured
    # The feedback route (no [web] here: the address) and the answer time.
    assert 'href="mailto:kommunikation@vaxjo.example"' in page
    assert "Vi svarar inom 5 arbetsdagar." in text
    # The supervisory authority.
    assert 'href="https://www.digg.se/tdosanmalan"' in page
    # How and when it was assessed, and when the statement was updated.
    assert "självskattning" in text and "Den senaste bedömningen gjordes 2 november 2026." in text
    assert "Redogörelsen uppdaterades senast 2 november 2026." in text
    # What blogtool measured: the theme's contrast, in Swedish numbers.
    found = re.search(r"minst (\d+,\d):1 i de ljusa färgerna och (\d+,\d):1 i de mörka", text)
    assert found and float(found[1].replace(",", ".")) >= 4.5
    sitemap = (sample_site / "public" / "sitemap.xml").read_text("utf-8")
    assert "https://blogg.vaxjo.example/tillganglighet/</loc>" in sitemap


def test_every_page_links_to_the_statement(run, sample_site):
    assert run("build").exit_code == 0
    public = sample_site / "public"
    pages = [
        p
        for p in public.rglob("*.html")
        if 'http-equiv="refresh"' not in p.read_text("utf-8") and "pagefind" not in p.parts
    ]
    assert len(pages) > 30
    missing = [
        str(p.relative_to(public))
        for p in pages
        if '<a href="/tillganglighet/">Tillgänglighetsredogörelse</a>' not in p.read_text("utf-8")
    ]
    assert missing == []


def test_the_report_form_is_on_the_statement_when_the_reader_service_runs(web_site):
    assert Run(web_site)("build").exit_code == 0
    page = (web_site / "public" / "tillganglighet" / "index.html").read_text("utf-8")
    assert '<form class="report" method="post" action="/nyhetsbrev/tillganglighet"' in page
    assert 'name="meddelande"' in page and "Vad kunde du inte använda?" in page
    assert "Du kan också skriva till" in page


def test_an_english_site_publishes_it_at_accessibility(tmp_path, monkeypatch):
    from .test_english_site import ENGLISH_SITE

    root = tmp_path / "site"
    import shutil

    shutil.copytree(ENGLISH_SITE, root)
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert Run(root)("build").exit_code == 0
    page = (root / "public" / "accessibility" / "index.html").read_text("utf-8")
    assert "How accessible is the website?" in page
    assert "Report it to the Agency for Digital Government" in page or "Agency for Digital" in page
    home = (root / "public" / "index.html").read_text("utf-8")
    assert '<a href="/accessibility/">Accessibility statement</a>' in home


def test_the_newsletter_links_to_the_statement_in_html_and_plain_text(
    run, sample_site, monkeypatch
):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("subscribers", "add", "a@example.se", now=SEND_NOW).exit_code == 0
    assert run("newsletter", "build", now=SEND_NOW).exit_code == 0
    assert run("newsletter", "send", now=SEND_NOW).exit_code == 0
    (sent,) = (sample_site / "outbox").glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=policy.default)
    url = "https://blogg.vaxjo.example/tillganglighet/"
    html_part = message.get_body(("html",)).get_content()
    assert re.search(rf'<a href="{url}"[^>]*>Tillgänglighetsredogörelse</a>', html_part)
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert f"Tillgänglighetsredogörelse:\n{url}\n" in plain


def test_disabled_there_is_no_statement_and_no_link(run, sample_site):
    set_accessibility(sample_site, enabled="false")
    assert run("build").exit_code == 0
    assert not (sample_site / "public" / "tillganglighet").exists()
    assert "Tillgänglighetsredogörelse" not in (sample_site / "public" / "index.html").read_text()
    assert "warning" not in run("check").stderr


# --- check ----------------------------------------------------------------------------------------


def test_check_warns_when_the_review_is_more_than_a_year_old(run, sample_site):
    assert "accessibility" not in run("check").stderr  # reviewed 2026-11-02, checked 2026-11-28
    later = NOW + dt.timedelta(days=366)
    result = run("check", now=later)
    assert result.exit_code == 0  # a warning, not an error
    line = (sample_site / "blogtool.toml").read_text().splitlines().index("reviewed = 2026-11-02")
    assert (
        f"blogtool.toml:{line + 1}: warning: [accessibility] reviewed: the accessibility statement "
        "was last reviewed on 2026-11-02, more than a year ago" in result.stderr
    )
    set_accessibility(sample_site, reviewed="2027-11-20")
    assert "reviewed" not in run("check", now=later).stderr


def test_check_says_what_the_statement_still_lacks(run, sample_site):
    set_accessibility(sample_site, reviewed=None, assessed=None, contact=None, shortcomings=None)
    result = run("check")
    assert result.exit_code == 0  # one warning, in one line
    line = next(n for n, text in enumerate(result.stderr.splitlines()) if "accessibility" in text)
    assert result.stderr.splitlines()[line] == (
        f"blogtool.toml:{section_line(sample_site)}: warning: [accessibility] reviewed: the "
        "accessibility statement does not say when it was last reviewed, when the site was "
        "assessed, where readers report what they cannot use, and what is not accessible, as the "
        "site complies 'partial' (reviewed, assessed, contact, shortcomings)"
    )
    assert "1 warning" in result.stdout


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('reviewed = "2026-13-01"', "expected a date such as 2026-11-02, got '2026-13-01'"),
        ("reviewed = 2026-11-02T08:00:00", "got a date and time 2026-11-02T08:00:00"),
        ('compliance = "mostly"', "expected 'full', 'partial' or 'not', got 'mostly'"),
        ('shortcomings = [""]', "expected a list of non-empty strings"),
    ],
)
def test_a_bad_value_is_named_with_its_line(run, sample_site, line, expected):
    key, value = line.split(" = ", 1)
    set_accessibility(sample_site, **{key: value})
    result = run("build")
    assert result.exit_code != 0 and "Traceback" not in result.output
    number = next(
        n
        for n, text in enumerate((sample_site / "blogtool.toml").read_text().splitlines(), 1)
        if text.startswith(f"{key} = ")
    )
    assert f"blogtool.toml:{number}: [accessibility] {key}: " in result.stderr
    assert expected in result.stderr


def test_contrast_is_wcag_s_and_a_theme_below_aa_is_named(run, sample_site):
    assert ratio("000000", "ffffff") == pytest.approx(21)
    assert ratio("777", "fff") == pytest.approx(4.48, abs=0.01)  # the classic near miss
    assert ratio("0b4f8a", "0b4f8a") == pytest.approx(1)
    css = ":root { --text: #1b1b1b; --bg: #fff; --muted: #777777; }\n"
    css += "@media (prefers-color-scheme: dark) { :root { --bg: #000000; } }"
    light, dark = theme_contrast(css)
    assert (light.scheme, light.foreground, light.background) == ("light", "muted", "bg")
    assert light.ratio == pytest.approx(4.48, abs=0.01)
    assert (dark.scheme, dark.foreground) == ("dark", "text")  # #1b1b1b on black
    assert theme_contrast("body { color: red; }") == []  # a theme of the site's own
    own = sample_site / "static" / "style.css"
    own.parent.mkdir(exist_ok=True)
    own.write_text(css, "utf-8")
    stderr = run("check").stderr
    assert stderr.startswith(
        "static/style.css: warning: --muted on --bg has a contrast of 4.48:1 in the light"
    )
    assert "--text on --bg has a contrast of 1.22:1 in the dark colours" in stderr
