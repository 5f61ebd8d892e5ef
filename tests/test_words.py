"""Reader-facing phrases live in templates/words.txt: they reach pages, feeds and mail, and a
site can reword them by overriding that one template."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

from blogtool.site.templates import PACKAGE_TEMPLATES

from .conftest import SECRET, STOCKHOLM, write

TIP = "tips/2026-11-26-hitta-ett-utegym.md"
AFTER_TIP = dt.datetime(2026, 11, 26, 8, 5, tzinfo=STOCKHOLM)


def _add_footnote_and_image(site):
    path = next((site / "tips").glob("2026-11-26-*.md"))
    body = path.read_text("utf-8")
    body += "\nSe kartan[^1].\n\n![Karta över utegymmen](/static/karta.png)\n\n[^1]: Ny i år.\n"
    path.write_text(body, "utf-8")
    return path


def test_footnote_backlink_and_image_label_come_from_words(sample_site, run, monkeypatch):
    _add_footnote_and_image(sample_site)
    assert run("build", now=AFTER_TIP).exit_code == 0
    page = next((sample_site / "public" / "torsdagstips").glob("hitta-ett-utegym*/index.html"))
    assert 'title="Tillbaka till texten"' in page.read_text("utf-8")

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("subscribers", "add", "a@example.se", now=AFTER_TIP).exit_code == 0
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    assert run("newsletter", "send", now=AFTER_TIP).exit_code == 0
    message = email.message_from_bytes(
        next((sample_site / "outbox").glob("*.eml")).read_bytes(), policy=policy.default
    )
    text = message.get_body(("plain",)).get_content()
    assert "[Bild: Karta över utegymmen]" in text
    assert "Torsdagstips vecka 48" in text  # the heading, from words.txt too


def test_a_site_rewords_a_phrase_by_overriding_words(sample_site, run):
    words = (PACKAGE_TEMPLATES / "words.txt").read_text("utf-8")
    reworded = words.replace('{{ _("Topic: %(name)s", name=name) }}', "Om {{ name }}").replace(
        'archive_title() %}{{ _("Archive") }}', "archive_title() %}Allt vi skrivit"
    )
    assert reworded != words
    write(sample_site / "templates" / "words.txt", reworded)
    assert run("build").exit_code == 0
    tag = (sample_site / "public" / "tagg" / "natur" / "index.html").read_text("utf-8")
    assert "<h1>Om natur</h1>" in tag and "Ämne:" not in tag
    archive = (sample_site / "public" / "arkiv" / "index.html").read_text("utf-8")
    assert "<title>Allt vi skrivit – " in archive


def test_a_broken_words_template_names_file_and_line(sample_site, run):
    write(sample_site / "templates" / "words.txt", "{% macro tag_heading(name) %}\n{{ name }\n")
    result = run("build")
    assert result.exit_code == 1
    assert "templates/words.txt:2: template syntax error" in result.stderr
