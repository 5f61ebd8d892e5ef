"""Writing and scheduling from the command line, with the clock pinned."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import icalendar

from blogtool.config import load_config
from blogtool.content.calendar import holiday_on

from .conftest import REPO, STOCKHOLM, snapshot, write


def test_new_post_schedule_across_spring_dst_shows_summer_offset(run, sample_site):
    result = run("new", "post", "Från stuprör till flöden")
    assert result.exit_code == 0, result.stderr
    path = sample_site / "posts/2026-11-28-fran-stupror-till-floden.md"
    assert path.is_file()
    assert result.stdout.strip().endswith("posts/2026-11-28-fran-stupror-till-floden.md")
    text = path.read_text("utf-8")
    assert "title: Från stuprör till flöden" in text
    assert "draft: true" in text
    assert "author: Kommundirektören" in text

    listed = json.loads(run("list", "--json").stdout)
    entry = next(i for i in listed if i["slug"] == "fran-stupror-till-floden")
    assert entry["status"] == "draft"

    # What new wrote is not ready to go out: schedule refuses it, and changes nothing.
    refused = run("schedule", str(path), "--at", "2027-04-01 09:30")
    assert refused.exit_code == 1 and "still the text 'blogtool new' wrote" in refused.stderr
    assert path.read_text("utf-8") == text
    # The director writes the post; now it can be scheduled.
    head, _, _ = text.rpartition("---\n")
    path.write_text(head + "---\n\nStuprören blir flöden.\n", "utf-8")

    # Clocks go forward on 28 March 2027; 1 April is summer time.
    result = run("schedule", str(path), "--at", "2027-04-01 09:30")
    assert result.exit_code == 0, result.stderr
    assert "2027-04-01T09:30:00+02:00" in result.stdout

    listed = json.loads(run("list", "--json").stdout)
    entry = next(i for i in listed if i["slug"] == "fran-stupror-till-floden")
    assert entry["status"] == "scheduled"
    assert entry["date"] == "2027-04-01T09:30:00+02:00"
    assert entry["kind"] == "post"
    assert entry["path"] == "posts/2026-11-28-fran-stupror-till-floden.md"

    # Once the time has come it is published, with nobody touching the file.
    after = dt.datetime(2027, 4, 1, 9, 30, tzinfo=STOCKHOLM)
    listed = json.loads(run("list", "--json", now=after).stdout)
    assert (
        next(i for i in listed if i["slug"] == "fran-stupror-till-floden")["status"] == "published"
    )


def test_schedule_keeps_the_rest_of_the_file_byte_for_byte(run, sample_site):
    original = (
        "\ufeff---\r\n"
        "# a comment the author wrote\r\n"
        "title: 'Ordning: och reda'\r\n"
        "tags: [b, a]\r\n"
        "date: 2026-12-01\r\n"
        "draft: true\r\n"
        "summary: >-\r\n"
        "  två rader\r\n"
        "  sammanfogade\r\n"
        "---\r\n"
        "Brödtext med *stil*.\r\n\r\nSlut utan radbrytning"
    )
    path = write(sample_site / "posts/ordning.md", original.encode("utf-8"))
    result = run("schedule", "posts/ordning.md", "--at", "2027-01-14T10:00")
    assert result.exit_code == 0, result.stderr
    expected = original.replace("date: 2026-12-01", "date: 2027-01-14T10:00+01:00").replace(
        "draft: true", "draft: false"
    )
    assert path.read_bytes() == expected.encode("utf-8")

    result = run("unschedule", str(path))
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes() == expected.replace("draft: false", "draft: true").encode("utf-8")


def test_unschedule_adds_draft_when_absent(run, sample_site):
    path = sample_site / "tips/2026-12-03-folj-islaget.md"
    before = path.read_text("utf-8")
    assert run("unschedule", str(path)).exit_code == 0
    after = path.read_text("utf-8")
    assert after == before.replace(
        "tags: [natur, vinter, säkerhet]\n", "tags: [natur, vinter, säkerhet]\ndraft: true\n"
    )
    listed = json.loads(run("list", "--json", "--kind", "tip", "--status", "draft").stdout)
    assert [i["path"] for i in listed] == ["tips/2026-12-03-folj-islaget.md"]


def test_schedule_refuses_the_past_unless_forced(run, sample_site):
    path = sample_site / "posts/2026-11-24-budgeten-for-2027.md"
    before = snapshot(sample_site)
    result = run("schedule", str(path), "--at", "2026-11-01 09:00")
    assert result.exit_code == 1
    assert "is in the past" in result.stderr and "--force" in result.stderr
    assert snapshot(sample_site) == before

    result = run("schedule", str(path), "--at", "2026-11-01 09:00", "--force")
    assert result.exit_code == 0
    assert "published" in result.stdout


def test_schedule_without_at_uses_the_files_date(run, sample_site):
    path = sample_site / "posts/2026-11-24-budgeten-for-2027.md"
    result = run("schedule", str(path))
    assert result.exit_code == 0, result.stderr
    assert "scheduled" in result.stdout and "2026-12-08T09:00:00+01:00" in result.stdout


def test_schedule_rejects_bad_time_and_foreign_files(run, sample_site, tmp_path):
    path = sample_site / "posts/2026-11-24-budgeten-for-2027.md"
    result = run("schedule", str(path), "--at", "nästa vecka")
    assert result.exit_code == 1 and "--at: expected an ISO 8601 date" in result.stderr
    stray = write(tmp_path / "annat.md", "---\ntitle: x\n---\n")
    result = run("schedule", str(stray), "--at", "2027-01-01")
    assert result.exit_code == 1 and "not a post or tip" in result.stderr


def test_three_new_tips_take_three_consecutive_free_thursdays(run, sample_site):
    # 3 and 10 December already have tips; make 24 December taken too so a gap is skipped.
    write(
        sample_site / "tips/2026-12-24-julafton.md",
        "---\ntitle: God jul\ndate: 2026-12-24T08:00:00+01:00\nservice: naturkartan\nsummary: Kort.\n---\nT.\n",
    )
    paths = []
    for title in ("Första tipset", "Andra tipset", "Tredje tipset"):
        result = run("new", "tip", title, "--service", "naturkartan")
        assert result.exit_code == 0, result.stderr
        paths.append(result.stdout.strip())
    assert [p.rsplit("/", 1)[-1] for p in paths] == [
        "2026-12-17-forsta-tipset.md",
        "2026-12-31-andra-tipset.md",
        "2027-01-07-tredje-tipset.md",
    ]
    listed = json.loads(run("list", "--json", "--kind", "tip", "--status", "draft").stdout)
    assert [i["date"] for i in listed] == [
        "2026-12-17T08:00:00+01:00",
        "2026-12-31T08:00:00+01:00",
        "2027-01-07T08:00:00+01:00",
    ]

    result = run(
        "calendar", "--weeks", "8", "--ics", str(sample_site / "plan.ics"), lang="sv_SE.UTF-8"
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()

    def row(day: str) -> str:
        return next(line for line in lines if day in line)

    assert "Följ isläget" in row("tors 3 dec. 2026") and "[schemalagd]" in row("tors 3 dec. 2026")
    assert "Första tipset [utkast]" in row("tors 17 dec. 2026")
    assert "helgdag: Julafton" in row("tors 24 dec. 2026")
    assert "helgdag: Nyårsafton" in row("tors 31 dec. 2026")
    assert "Andra tipset" in row("tors 31 dec. 2026")
    assert "-- tomt --" in row("tors 14 jan. 2027")
    assert "inlägg: Tack för i år" in result.stdout
    assert "6 planerade, 2 tomma, 0 krockar" in result.stdout

    cal = icalendar.Calendar.from_ical((sample_site / "plan.ics").read_bytes())
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    tip = events["torsdagstips-2026-12-17@blogg.vaxjo.example"]
    assert "Första tipset" in str(tip["summary"])
    start = tip.decoded("dtstart")
    assert start == dt.datetime(2026, 12, 17, 8, 0, tzinfo=STOCKHOLM)
    assert start.utcoffset() == dt.timedelta(hours=1)
    assert str(tip["dtstart"].params["TZID"]) == "Europe/Stockholm"
    assert "Julafton" in str(events["torsdagstips-2026-12-24@blogg.vaxjo.example"]["summary"])
    assert "inget tips" in str(events["torsdagstips-2027-01-14@blogg.vaxjo.example"]["summary"])
    post = events["post-tack-for-i-ar@blogg.vaxjo.example"]
    assert post.decoded("dtstart") == dt.datetime(2026, 12, 18, 10, 0, tzinfo=STOCKHOLM)
    assert len(cal.walk("VTIMEZONE")) == 1


def test_calendar_marks_collisions_and_summer_times(run, sample_site):
    write(
        sample_site / "tips/krock.md",
        "---\ntitle: Krocken\ndate: 2026-12-03T08:00:00+01:00\nservice: naturkartan\nsummary: Kort.\n---\nT.\n",
    )
    result = run("calendar", "--weeks", "2")
    assert "COLLISION: Följ isläget innan du går ut på sjön [scheduled] + Krocken" in result.stdout
    assert "2026-12-03 already has a tip" in result.stderr

    summer = dt.datetime(2027, 5, 1, 12, 0, tzinfo=STOCKHOLM)
    result = run("new", "tip", "Sommartips", "--service", "naturkartan", now=summer)
    assert result.exit_code == 0
    listed = json.loads(run("list", "--json", "--kind", "tip", now=summer).stdout)
    # 6 May 2027 is Ascension Day, a Thursday: still offered, with a note, at 08:00 summer time.
    tip = next(i for i in listed if i["title"] == "Sommartips")
    assert tip["date"] == "2027-05-06T08:00:00+02:00"
    assert "2027-05-06 is Ascension Day" in result.stderr


def test_new_tip_with_date_refuses_a_taken_week_and_unknown_service(run, sample_site):
    before = snapshot(sample_site)
    result = run("new", "tip", "Krock", "--service", "naturkartan", "--date", "2026-12-10")
    assert result.exit_code == 1
    assert (
        "week 50 already has a tip: tips/2026-12-10-boka-tid-for-bygglovsradgivning.md"
        in result.stderr
    )
    result = run("new", "tip", "Okänd", "--service", "simhallen")
    assert result.exit_code == 1 and "unknown service 'simhallen'" in result.stderr
    assert snapshot(sample_site) == before
    result = run("new", "tip", "Ett datum", "--service", "naturkartan", "--date", "2027-02-04")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("tips/2027-02-04-ett-datum.md")


def test_new_post_refuses_a_taken_slug_and_an_existing_file(run, sample_site):
    result = run("new", "post", "Tack för i år!")
    assert result.exit_code == 1
    assert "'tack-for-i-ar' is already used by posts/2026-11-26-tack-for-i-ar.md" in result.stderr
    assert run("new", "post", "Ny text").exit_code == 0
    result = run("new", "post", "Ny text")
    assert result.exit_code == 1


def test_new_post_quotes_awkward_titles(run, sample_site):
    title = 'Fråga: "vad kostar det?" #budget'
    assert run("new", "post", title).exit_code == 0
    listed = json.loads(run("list", "--json", "--status", "draft").stdout)
    assert any(i["title"] == title for i in listed)


def test_init_creates_a_valid_site_and_refuses_to_overwrite(tmp_path):
    from click.testing import CliRunner

    from blogtool.cli import cli

    target = tmp_path / "ny"
    result = CliRunner().invoke(cli, ["init", str(target), "--title", "Nya bloggen"])
    assert result.exit_code == 0, result.stderr
    for name in ("blogtool.toml", "posts", "tips", "templates"):
        assert (target / name).exists()
    before = snapshot(target)
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert snapshot(target) == before
    result = CliRunner().invoke(cli, ["--site", str(target), "check"])
    assert result.exit_code == 0 and "Checked 0 files" in result.stdout


def test_holiday_lookup():
    config = load_config(REPO)  # a Swedish site: Swedish holidays
    assert config.tips.holidays == "SE"
    assert holiday_on(dt.date(2027, 5, 6), config, "sv") == "Kristi himmelsfärdsdag"
    assert holiday_on(dt.date(2027, 5, 6), config, "en") == "Ascension Day"
    assert holiday_on(dt.date(2026, 12, 24), config, "sv") == "Julafton"
    assert holiday_on(dt.date(2026, 12, 10), config, "sv") is None
    off = dataclasses.replace(config, tips=dataclasses.replace(config.tips, holidays=""))
    assert holiday_on(dt.date(2026, 12, 24), off, "sv") is None


def test_list_table_uses_swedish_dates_and_filters(run):
    result = run("list", "--kind", "tip", "--status", "scheduled", lang="sv_SE.UTF-8")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RUBRIK", "SORT", "STATUS", "DATUM", "FIL"]
    assert len(lines) == 3
    assert "tips  schemalagd  tors 3 dec. 2026 08:00" in lines[1]
    english = run("list", "--kind", "tip", "--status", "scheduled").stdout.splitlines()
    assert english[0].split() == ["TITLE", "KIND", "STATUS", "DATE", "PATH"]
    assert "tip   scheduled  Thu 3 Dec 2026 08:00" in english[1]


def test_new_post_edit_opens_the_editor(run, sample_site, monkeypatch, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Skrivet i editorn.\\n" >> "$1"\n', "utf-8")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.setenv("VISUAL", str(editor))
    result = run("new", "post", "Med editor", "--edit")
    assert result.exit_code == 0, result.stderr
    text = (sample_site / "posts/2026-11-28-med-editor.md").read_text("utf-8")
    assert text.endswith("Skrivet i editorn.\n")


def test_schedule_warns_about_a_tip_off_the_series_weekday(run, sample_site):
    path = sample_site / "tips/2026-12-10-boka-tid-for-bygglovsradgivning.md"
    result = run("schedule", str(path), "--at", "2026-12-09 08:00")
    assert result.exit_code == 0
    assert (
        "tips/2026-12-10-boka-tid-for-bygglovsradgivning.md:3: warning: date: 2026-12-09 is a Wednesday"
        in result.stderr
    )


def test_serve_reports_a_port_in_use(run, sample_site):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_a_site_made_by_init_keeps_personal_data_and_output_out_of_git(tmp_path, monkeypatch):
    """'git add -A' in a new site stages its content, never the subscriber database, the
    outbox, logs or the releases."""
    import subprocess

    from click.testing import CliRunner

    from blogtool.cli import cli

    site = tmp_path / "sajten"
    assert CliRunner().invoke(cli, ["init", str(site)]).exit_code == 0
    env = {"BLOGTOOL_NOW": "2026-11-02T10:00:00+01:00", "BLOGTOOL_SECRET": "s" * 32}
    for args in (
        ["subscribers", "add", "anna@example.se"],
        ["new", "post", "Första inlägget"],
        ["build"],
    ):
        result = CliRunner().invoke(cli, ["--site", str(site), *args], env=env)
        assert result.exit_code == 0, result.output
    write(site / "outbox/0001-anna.eml", "To: anna@example.se\n\nHej\n")
    write(site / "logg/run.log", "anna@example.se\n")
    assert (site / ".blogtool/state.db").is_file() and (site / "public").exists()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(site), *args], check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    git("add", "-A")
    staged = sorted(git("diff", "--cached", "--name-only").split())
    assert ".gitignore" in staged and "blogtool.toml" in staged
    assert any(p.startswith("posts/") for p in staged)
    for path in staged:
        assert not path.startswith((".blogtool/", "public", ".public.", "outbox/", "logg/")), path


def test_schedule_right_after_new_post_suggests_the_next_free_morning(run, sample_site):
    import re

    made = dt.datetime(2026, 12, 7, 14, 30, tzinfo=STOCKHOLM)  # a Monday afternoon
    result = run("new", "post", "Vinterväghållning i år", now=made)
    assert result.exit_code == 0, result.output
    path = result.stdout.strip()
    written = sample_site / path
    text = written.read_text("utf-8").replace('summary: ""', "summary: Så plogar vi i vinter.")
    head, _sep, _body = text.rpartition("---\n")
    written.write_text(head + "---\n\nPlogbilarna går ut när det snöat fem centimeter.\n", "utf-8")
    later = made + dt.timedelta(minutes=5)
    result = run("schedule", path, now=later)
    assert result.exit_code == 1
    assert "which has passed; say when it goes out" in result.stderr
    suggested = re.search(r'--at "([^"]+)"', result.stderr)
    assert suggested, result.stderr
    when = dt.datetime.fromisoformat(suggested.group(1)).replace(tzinfo=STOCKHOLM)
    # A working day's morning after now, and no other post is dated that day.
    assert when > later and when.weekday() < 5 and when.time() == dt.time(9, 0)
    dated = {
        str(frontmatter_date(p)) for p in (sample_site / "posts").glob("*.md") if str(p) != path
    }
    assert when.date().isoformat() not in dated
    result = run("schedule", path, "--at", suggested.group(1), now=later)
    assert result.exit_code == 0, result.output
    assert "scheduled" in result.stdout


def frontmatter_date(path) -> str:
    import frontmatter

    value = frontmatter.load(path).metadata.get("date")
    return str(value)[:10]


def test_schedule_takes_a_one_digit_hour_and_names_the_part_that_is_wrong(run, sample_site):
    path = sample_site / "posts/2026-11-24-budgeten-for-2027.md"
    result = run("schedule", str(path), "--at", "2026-12-10 9:00")
    assert result.exit_code == 0, result.output
    assert "2026-12-10T09:00:00+01:00" in result.stdout
    for at, part in (
        ("2026-12-32 9:00", "day 32 does not exist in 2026-12, which has 31 days"),
        ("2026-12-10 9:61", "minute 61 does not exist (0 to 59)"),
        ("2027-02-29", "day 29 does not exist in 2027-02, which has 28 days"),
    ):
        result = run("schedule", str(path), "--at", at)
        assert result.exit_code == 1 and part in result.stderr, (at, result.stderr)


def test_the_shared_calendar_is_in_the_sites_language_whatever_the_terminals(run, sample_site):
    result = run("calendar", "--weeks", "8", "--ics", str(sample_site / "plan.ics"), lang="C")
    assert result.exit_code == 0, result.stderr
    assert "-- empty --" in result.stdout  # the terminal's table is in its language (English)
    cal = icalendar.Calendar.from_ical((sample_site / "plan.ics").read_bytes())
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    christmas = events["torsdagstips-2026-12-24@blogg.vaxjo.example"]
    assert "Julafton" in str(christmas["summary"]) and "Helgdag: Julafton" in str(
        christmas["description"]
    )
    assert "inget tips" in str(events["torsdagstips-2027-01-14@blogg.vaxjo.example"]["summary"])
    post = events["post-tack-for-i-ar@blogg.vaxjo.example"]
    assert str(post["summary"]).startswith("Blogginlägg: ")
    assert "(schemalagd)" in str(post["description"])
    everything = b"".join(e.to_ical() for e in events.values()).decode()
    assert "no tip planned" not in everything and "Holiday" not in everything
