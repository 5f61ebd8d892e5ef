"""The scheduled job's fast way out: a run with nothing to do stops before reading a post, and
is full again the moment anything it acts on changes or falls due."""

from __future__ import annotations

import datetime as dt
import os
import re

from .conftest import SECRET, STOCKHOLM, Run

NOTHING = "no source has changed and nothing is due before"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


def test_the_clock_past_a_scheduled_time_makes_the_run_full(run: Run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("subscribers", "add", "anna@example.se", now=at(2026, 11, 1, 9, 0)).exit_code == 0
    first = run("run", now=at(2026, 12, 2, 12, 0))
    assert first.exit_code == 0 and "Built " in first.stderr
    quiet = run("run", now=at(2026, 12, 2, 12, 5))
    assert NOTHING in quiet.stderr and "Built" not in quiet.stderr
    # Nothing changed on disk; the tip of 3 December falls due at 08:00. At 07:55 the last
    # quiet stretch has run out (a full run at least hourly), and nothing is due yet.
    early = run("run", now=at(2026, 12, 3, 7, 55))
    assert "no new tip to mail; the next newsletter goes Thu 3 Dec 2026 08:00" in early.stderr
    assert NOTHING in run("run", now=at(2026, 12, 3, 7, 58)).stderr  # until 08:00 exactly
    due = run("run", now=at(2026, 12, 3, 8, 0))
    assert due.exit_code == 0, due.stderr
    assert "Built " in due.stderr and "issue 2 sent: 1 sent" in due.stderr
    assert (
        sample_site / "public/torsdagstips/folj-islaget-innan-du-gar-ut-pa-sjon/index.html"
    ).is_file()


def test_a_touched_template_rebuilds_everything(run: Run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("run").exit_code == 0
    assert NOTHING in run("run").stderr
    template = sample_site / "templates/base.html"
    # An override of the page layout: every page depends on it.
    from blogtool.site.templates import PACKAGE_TEMPLATES

    layout = (
        (PACKAGE_TEMPLATES / "base.html")
        .read_text("utf-8")
        .replace("</body>", "<!-- ny -->\n</body>")
    )
    template.write_text(layout, "utf-8")
    result = run("run")
    assert result.exit_code == 0, result.stderr
    written = int(re.search(r"Built \S+: (\d+) written", result.stderr).group(1))
    pages = sum(1 for p in (sample_site / "public").rglob("*.html"))
    assert written >= pages  # every page again
    assert "<!-- ny -->" in (sample_site / "public/index.html").read_text("utf-8")
    assert NOTHING in run("run").stderr
    # Only the file's time changing (a git checkout, a touch) is enough to look again.
    os.utime(template, ns=(1, 1))
    assert NOTHING not in run("run").stderr


def test_a_change_in_the_database_makes_the_run_full(run: Run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("subscribers", "add", "anna@example.se", now=at(2026, 11, 1, 9, 0)).exit_code == 0
    assert run("run", now=at(2026, 11, 26, 8, 5)).exit_code == 0
    assert NOTHING in run("run", now=at(2026, 11, 26, 8, 10)).stderr
    # Staff make an issue by hand: the next run sends it, files unchanged.
    assert (
        run("newsletter", "build", "--since", "2026-11-01", now=at(2026, 11, 26, 8, 11)).exit_code
        == 0
    )
    result = run("run", now=at(2026, 11, 26, 8, 15))
    assert NOTHING not in result.stderr and "issue 2 sent: 1 sent" in result.stderr


def test_a_clock_set_back_makes_the_run_full(run: Run, sample_site, monkeypatch):
    """A rehearsal (BLOGTOOL_NOW) earlier than the last run: what is published may differ."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("run", now=at(2026, 12, 3, 9, 0)).exit_code == 0
    assert NOTHING in run("run", now=at(2026, 12, 3, 9, 5)).stderr
    back = run("run", now=at(2026, 12, 3, 7, 0))
    assert NOTHING not in back.stderr and "Built " in back.stderr
    assert not (sample_site / "public/torsdagstips/folj-islaget-innan-du-gar-ut-pa-sjon").exists()


# --- the same for a manual `blogtool build` ---------------------------------------------------


def _written(result) -> int:
    return int(re.search(r"Built \S+: (\d+) written", result.stdout).group(1))


def test_a_build_with_nothing_changed_reads_no_post(run: Run, sample_site):
    now = at(2026, 12, 2, 12, 0)
    assert _written(run("build", now=now)) > 0
    # An unreadable post would stop any build that reads it: this one does not look.
    post = next((sample_site / "posts").glob("*.md"))
    mode = post.stat().st_mode
    again = run("build", now=at(2026, 12, 2, 12, 5))
    assert again.exit_code == 0 and _written(again) == 0
    post.chmod(0)
    try:
        if os.access(post, os.R_OK):  # root reads anything: check the result instead
            assert _written(run("build", now=at(2026, 12, 2, 12, 6))) == 0
        else:
            assert run("build", now=at(2026, 12, 2, 12, 6)).exit_code == 0
    finally:
        post.chmod(mode)


def test_the_clock_past_a_scheduled_time_makes_the_build_publish_it(run: Run, sample_site):
    page = sample_site / "public/torsdagstips/folj-islaget-innan-du-gar-ut-pa-sjon/index.html"
    assert run("build", now=at(2026, 12, 2, 12, 0)).exit_code == 0
    assert _written(run("build", now=at(2026, 12, 3, 7, 59))) == 0 and not page.exists()
    due = run("build", now=at(2026, 12, 3, 8, 0))  # no file changed; the tip falls due
    assert due.exit_code == 0 and _written(due) > 0
    assert page.is_file()
    assert _written(run("build", now=at(2026, 12, 3, 8, 1))) == 0


def test_a_touched_template_rebuilds_every_page_in_a_build(run: Run, sample_site):
    from blogtool.site.templates import PACKAGE_TEMPLATES

    assert run("build").exit_code == 0
    assert _written(run("build")) == 0
    layout = (PACKAGE_TEMPLATES / "base.html").read_text("utf-8")
    (sample_site / "templates/base.html").write_text(
        layout.replace("</body>", "<!-- ny -->\n</body>"), "utf-8"
    )
    result = run("build")
    pages = sum(1 for p in (sample_site / "public").rglob("*.html"))
    assert _written(result) >= pages
    assert "<!-- ny -->" in (sample_site / "public/index.html").read_text("utf-8")


def test_a_rollback_makes_the_next_build_full(run: Run, sample_site):
    now = at(2026, 12, 2, 12, 0)
    assert run("build", now=now).exit_code == 0
    (sample_site / "posts/nytt.md").write_text(
        "---\ntitle: Ett nytt inlägg\ndate: 2026-12-01T09:00\nsummary: Kort.\n---\nText.\n",
        "utf-8",
    )
    assert _written(run("build", now=now)) > 0
    assert run("build", "--rollback", now=now).exit_code == 0
    assert not (sample_site / "public/ett-nytt-inlagg").exists()
    again = run("build", now=now)  # the same sources as before the rollback: built again
    assert _written(again) > 0 and (sample_site / "public/ett-nytt-inlagg").exists()


def test_a_post_changed_between_the_snapshot_and_the_loading_is_read_again_next_time(
    sample_site,
):
    """The loading takes the files' lstat from the snapshot just before it. A post edited in
    between is taken as the snapshot saw it, and the next snapshot, which sees the edit, makes
    the loading read it again: nothing is lost, a change at most waits one run."""
    from blogtool.config import load_config
    from blogtool.content.load import load_site
    from blogtool.site.incremental.snapshot import snapshot

    config = load_config(sample_site)
    cache = config.state_dir / "cache" / "content"
    post = sample_site / "posts" / "2026-09-10-valkommen-till-kommunbloggen.md"

    def body(stats: dict[str, os.stat_result]) -> str:
        site = load_site(config, cache, stats)
        return next(i.body for i in site.items if i.rel.endswith(post.name))

    load_site(config, cache)
    before: dict[str, os.stat_result] = {}
    first = snapshot(config, before)
    assert before[str(post)].st_size == post.stat().st_size
    post.write_text(post.read_text("utf-8").replace("Hej och", "Hej, nu ändrat, och"), "utf-8")
    os.utime(post, ns=(post.stat().st_atime_ns, before[str(post)].st_mtime_ns + 10**9))
    assert "Hej och välkommen!" in body(before)  # as the snapshot saw it
    after: dict[str, os.stat_result] = {}
    assert snapshot(config, after) != first  # the next run is a full one ...
    assert "Hej, nu ändrat, och välkommen!" in body(after)  # ... and reads the edit
