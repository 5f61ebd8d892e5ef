"""Each kind of bad content gives one clear message naming the file, exit 1, no traceback,
and leaves every file as it was."""

from __future__ import annotations

import json

import pytest

from .conftest import snapshot, write

GOOD = "---\ntitle: Ett bra inlägg\ndate: 2026-11-01T09:00:00+01:00\n---\nText.\n"

CASES = {
    "malformed-yaml": (
        "posts/trasig.md",
        "---\ntitle: Trasig\ndate: [2026-11-01\n---\nText.\n",
        ["posts/trasig.md:", "front matter is not valid YAML"],
    ),
    "front-matter-list": (
        "posts/lista.md",
        "---\n- title\n- date\n---\nText.\n",
        ["posts/lista.md:2:", "front matter must be a mapping", "got a list"],
    ),
    "date-in-words": (
        "posts/nasta.md",
        "---\ntitle: Nästa vecka\ndate: nästa vecka\n---\nText.\n",
        ["posts/nasta.md:3:", "date:", "expected an ISO 8601 date", "'nästa vecka'"],
    ),
    "missing-title": (
        "posts/utan-titel.md",
        "---\ndate: 2026-11-01\n---\nText.\n",
        ["posts/utan-titel.md:", "title:", "missing"],
    ),
    "unknown-service": (
        "tips/2026-12-17-okand.md",
        "---\ntitle: Okänd tjänst\ndate: 2026-12-17T08:00:00+01:00\nservice: simhallen\n---\nT.\n",
        ["tips/2026-12-17-okand.md:4:", "service:", "unknown service 'simhallen'", "naturkartan"],
    ),
    "latin-1": (
        "posts/latin1.md",
        "---\ntitle: Från stuprör\ndate: 2026-11-01\n---\nÅ ä ö\n".encode("latin-1"),
        ["posts/latin1.md:2:", "not UTF-8", "0xE5"],
    ),
    "empty-file": ("posts/tom.md", "", ["posts/tom.md:", "file is empty"]),
    "image-without-alt": (
        "posts/bild.md",
        "---\ntitle: Bild\ndate: 2026-11-01\n---\nText.\n\n![](karta.png)\n",
        ["posts/bild.md:7:", "image without alt text"],
    ),
    "front-matter-image-without-alt": (
        "posts/omslag.md",
        "---\ntitle: Omslag\ndate: 2026-11-01\nimage: omslag.jpg\n---\nText.\n",
        ["posts/omslag.md:4:", "image_alt:", "alt text"],
    ),
    "html-image-without-alt": (
        "posts/html.md",
        '---\ntitle: Html\ndate: 2026-11-01\n---\n<img src="a.png">\n',
        ["posts/html.md:5:", "image without alt text"],
    ),
    "misspelt-key": (
        "posts/stavfel.md",
        "---\ntitle: Stavfel\ndat: 2026-11-01\n---\nText.\n",
        ["posts/stavfel.md:3:", "dat:", "did you mean 'date'"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_reported_clearly(case, run, sample_site):
    rel, content, expected = CASES[case]
    write(sample_site / rel, content)
    before = snapshot(sample_site)

    result = run("check")

    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stderr
    for fragment in expected:
        assert fragment in errors[0], (fragment, errors[0])
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(sample_site) == before


def test_duplicate_slug_names_both_files(run, sample_site):
    write(sample_site / "posts/a.md", GOOD)
    write(sample_site / "posts/b.md", GOOD.replace("date:", "slug: ett-bra-inlagg\ndate:"))
    result = run("check")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1
    assert "posts/b.md" in errors[0]
    assert "'ett-bra-inlagg' is already used by posts/a.md" in errors[0]


def test_other_commands_refuse_to_act_on_bad_content(run, sample_site):
    write(sample_site / "tips/2027-01-07-x.md", "---\n- lista\n---\n")
    before = snapshot(sample_site)
    result = run("new", "tip", "Ett nytt tips", "--service", "naturkartan")
    assert result.exit_code == 1
    assert "tips/2027-01-07-x.md:2: error: front matter must be a mapping" in result.stderr
    assert "nothing was changed" in result.stderr
    assert snapshot(sample_site) == before

    ics = sample_site.parent / "plan.ics"
    result = run("calendar", "--ics", str(ics))
    assert result.exit_code == 1
    assert not ics.exists()


def test_every_problem_in_every_file_is_reported_at_once(run, sample_site):
    write(sample_site / "posts/a.md", "---\ndate: sen\n---\n![](x.png)\n")
    write(sample_site / "posts/b.md", "")
    result = run("check")
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert len(errors) == 4, result.stderr  # missing title, bad date, image alt, empty file
    assert "Checked 15 files and blogtool.toml: 4 errors" in result.stdout


def test_script_in_title_is_valid_and_stays_text(run, sample_site):
    title = "Säkerhet <script>alert('x')</script> på nätet"
    write(
        sample_site / "posts/skript.md",
        f'---\ntitle: "{title}"\ndate: 2026-11-01T09:00:00+01:00\n---\nText.\n',
    )
    assert run("check").exit_code == 0
    listed = json.loads(run("list", "--json").stdout)
    assert any(i["title"] == title for i in listed)
    assert title[:30] in run("list").stdout


def test_bom_and_crlf_are_accepted(run, sample_site):
    text = "---\r\ntitle: Windows\r\ndate: 2026-11-02T09:00:00+01:00\r\n---\r\nHej.\r\n"
    write(sample_site / "posts/windows.md", b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = run("list", "--json")
    assert result.exit_code == 0, result.stderr
    item = next(i for i in json.loads(result.stdout) if i["title"] == "Windows")
    assert item["date"] == "2026-11-02T09:00:00+01:00"


def test_tip_off_the_series_weekday_is_a_warning(run, sample_site):
    write(
        sample_site / "tips/onsdag.md",
        "---\ntitle: Onsdag\ndate: 2026-12-16T08:00:00+01:00\nservice: naturkartan\nsummary: Kort.\n---\nT.\n",
    )
    result = run("check")
    assert result.exit_code == 0
    assert "tips/onsdag.md:3: warning: date: 2026-12-16 is a Wednesday" in result.stderr


def test_bad_clock_override_is_a_clear_error(run):
    from click.testing import CliRunner

    from blogtool.cli import cli

    result = CliRunner().invoke(
        cli, ["--site", str(run.root), "list"], env={"BLOGTOOL_NOW": "2026-11-28 09:00"}
    )
    assert result.exit_code == 1
    assert "BLOGTOOL_NOW: expected an offset" in result.stderr


def test_a_state_database_damaged_inside_is_one_clear_error(run, sample_site):
    """SQLite's own error met while a command works (a table gone) is one line, not a
    traceback; whatever else a command raises is not taken for it (a build, which never
    opens the database, still builds)."""
    import sqlite3

    assert run("subscribers", "count").exit_code == 0  # the database, made
    with sqlite3.connect(sample_site / ".blogtool" / "state.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if table.startswith("sub"):
                db.execute(f"DROP TABLE {table}")
    result = run("subscribers", "count")
    assert result.exit_code == 1, result.output
    assert "the state database failed (no such table" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    built = run("build")
    assert built.exit_code == 0, built.output
