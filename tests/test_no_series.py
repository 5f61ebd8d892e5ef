"""A blog without the weekly series: [tips] enabled = false takes away everything of it."""

from __future__ import annotations

import shutil

import pytest

from .conftest import NOW, SECRET, Run, write


@pytest.fixture
def blog(sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    shutil.rmtree(sample_site / "tips")
    (sample_site / "tips").mkdir()
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8").replace("[tips]\n", "[tips]\nenabled = false\n", 1)
    config.write_text(text, "utf-8")
    return sample_site


def test_the_site_shows_nothing_of_a_series_it_does_not_have(blog):
    run = Run(blog)
    result = run("build")
    assert result.exit_code == 0, result.output
    public = blog / "public"
    assert not (public / "torsdagstips").exists()
    assert not list(public.rglob("torsdagstips*.xml")) and (public / "feed.xml").is_file()
    assert not (public / "tjanst").exists()
    home = (public / "index.html").read_text("utf-8")
    for gone in ("Torsdagstips", "/torsdagstips/", "Varje vecka", "Tjänster"):
        assert gone not in home, gone
    assert "RSS för hela bloggen" in home
    assert "torsdagstips" not in (public / "sitemap.xml").read_text("utf-8")
    assert "Torsdagstips" not in (public / "sok/index.html").read_text("utf-8")

    # No warnings about empty weeks, from status or run; no plan; no tips.
    status = run("status")
    assert status.exit_code == 0 and "tip yet" not in status.output
    job = run("run")
    assert "tip yet" not in job.stderr
    calendar = run("calendar")
    assert calendar.exit_code != 0 and "enabled = false" in calendar.stderr
    tip = run("new", "tip", "Ett tips", "--service", "naturkartan")
    assert tip.exit_code != 0 and "write a post instead" in tip.stderr

    # A reader who signs up by hand gets the blog's letter: it is the only list.
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    lists = run("subscribers", "list").stdout
    assert "anna@example.se" in lists


def test_a_tip_left_in_tips_is_an_error_that_says_what_to_do(blog):
    write(
        blog / "tips/2026-12-03-ett-tips.md",
        "---\ntitle: Ett tips\ndate: 2026-12-03T08:00+01:00\nservice: naturkartan\n"
        "summary: Kort.\n---\nText.\n",
    )
    result = Run(blog)("check", now=NOW)
    assert result.exit_code == 1
    assert "tips/2026-12-03-ett-tips.md: error: a tip, but [tips] enabled = false" in result.stderr
