"""Regression tests for the defects found by trying to break blogtool (one section a defect)."""

from __future__ import annotations

import datetime as dt
import email
import sqlite3
from email import policy
from email.utils import getaddresses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blogtool.content.fields import NOT_IN_XML, not_in_xml

from .conftest import NOW, SECRET, STOCKHOLM, write

AFTER_TIP = dt.datetime(2026, 11, 26, 8, 5, tzinfo=STOCKHOLM)


def _messages(site):
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((site / "outbox").glob("*.eml"))
    ]


def _recipients(message) -> list[str]:
    fields = [message.get_all(h, []) for h in ("To", "Cc", "Bcc")]
    return [addr for _, addr in getaddresses([str(v) for f in fields for v in f])]


# --- 1. a line break in a subscriber's name ------------------------------------------------------


def test_a_line_break_in_a_name_is_cleaned_on_the_way_in(run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    result = run("subscribers", "add", "ok4@example.se", "--name", "Four\r\nBcc: x@evil.example")
    assert result.exit_code == 0, result.stderr
    shown = run("subscribers", "show", "ok4@example.se").stdout
    assert "name: Four Bcc: x@evil.example\n" in shown
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    assert run("newsletter", "send", now=AFTER_TIP).exit_code == 0
    [message] = _messages(sample_site)
    assert message["Bcc"] is None
    assert _recipients(message) == ["ok4@example.se"]


def test_a_name_too_long_is_refused_with_one_line(run):
    result = run("subscribers", "add", "lang@example.se", "--name", "Å" * 201)
    assert result.exit_code == 1
    assert "the name is 201 characters long; expected at most 200" in result.stderr


def test_names_stored_before_the_fix_never_stop_a_send(run, sample_site, monkeypatch):
    """Bad names already in the database: everyone still gets exactly their own message."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for address in ("a@example.se", "b@example.se", "c@example.se", "d@example.se"):
        assert run("subscribers", "add", address).exit_code == 0
    db = sqlite3.connect(sample_site / ".blogtool" / "state.db")
    bad = {
        "b@example.se": "Four\r\nBcc: x@evil.example",
        "c@example.se": "Lång" * 40 + "\r\nBcc: y@evil.example",
    }
    for address, name in bad.items():
        db.execute("UPDATE subscribers SET name = ? WHERE email = ?", (name, address))
    db.commit()
    db.close()
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    result = run("newsletter", "send", now=AFTER_TIP)
    assert result.exit_code == 0, result.output
    assert "4 sent, 0 failed" in result.stdout
    messages = _messages(sample_site)
    assert sorted(r for m in messages for r in _recipients(m)) == [
        "a@example.se", "b@example.se", "c@example.se", "d@example.se",
    ]  # fmt: skip
    for message in messages:
        assert message["Bcc"] is None and len(_recipients(message)) == 1


def test_a_message_that_cannot_be_composed_fails_alone(run, sample_site, monkeypatch):
    from blogtool.newsletter.compose import MessageFactory

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for address in ("a@example.se", "b@example.se", "c@example.se"):
        assert run("subscribers", "add", address).exit_code == 0
    original = MessageFactory.render

    def render(self, recipient, message_id, now):
        if recipient.email == "b@example.se":
            raise ValueError("something in b's data")
        return original(self, recipient, message_id, now)

    monkeypatch.setattr(MessageFactory, "render", render)
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    result = run("newsletter", "send", now=AFTER_TIP)
    assert result.exit_code == 1
    assert "2 sent, 1 failed" in result.stdout
    assert "failed: b@example.se: the message could not be composed" in result.stderr
    assert sorted(r for m in _messages(sample_site) for r in _recipients(m)) == [
        "a@example.se",
        "c@example.se",
    ]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Anna\u2028Andersson", "Anna Andersson"),
        ("\u202eevil\u202c Name", "evil Name"),
        ("  Anna \t  Andersson ", "Anna Andersson"),
        ("Zoë Ågren", "Zoë Ågren"),
    ],
)
def test_names_are_normalised(given, stored):
    from blogtool.subscribers.people import clean_name

    assert clean_name(given) == stored


# --- 3. symlinks that lead outside the site --------------------------------------------------


@pytest.fixture
def secret_outside(tmp_path):
    return write(tmp_path / "env" / "smtp.env", "BLOGTOOL_SMTP_PASSWORD=hemligt-lösenord\n")


@pytest.mark.parametrize(
    ("link", "where"),
    [
        ("static/passwd.txt", "static/passwd.txt"),
        ("templates/static/extra.css", "templates/static/extra.css"),
        ("templates/item.html", "templates/item.html"),
    ],
)
def test_a_link_outside_the_site_is_never_published(run, sample_site, secret_outside, link, where):
    path = sample_site / link
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(secret_outside)
    result = run("build")
    assert result.exit_code == 1
    assert f"{where}: leads outside the site" in result.stderr
    published = (
        [p for p in (sample_site / "public").rglob("*") if p.is_file()]
        if (sample_site / "public").exists()
        else []
    )
    assert not any(b"hemligt" in p.read_bytes() for p in published)


def test_a_post_that_links_outside_is_an_error_in_check(run, sample_site, secret_outside):
    (sample_site / "posts" / "x.md").symlink_to(secret_outside)
    result = run("check")
    assert result.exit_code == 1
    assert "posts/x.md: error: leads outside the site" in result.stderr
    assert "hemligt" not in result.output


def test_links_inside_the_site_still_work(run, sample_site):
    write(sample_site / "delat" / "logga.svg", "<svg/>")
    (sample_site / "static").mkdir()
    (sample_site / "static" / "logga.svg").symlink_to(sample_site / "delat" / "logga.svg")
    assert run("build").exit_code == 0
    assert (sample_site / "public" / "static" / "logga.svg").read_text() == "<svg/>"


# --- 7. a FIFO (or any file that is not a regular file) among the sources ---------------------


@pytest.fixture
def no_hang():
    """A read that blocks fails the test instead of hanging the suite."""
    import signal

    class Blocked(BaseException):  # not an OSError: the code under test must not catch it
        pass

    def stop(signum, frame):
        raise Blocked("blocked on a read")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("where", ["posts/ror.md", "tips/ror.md", "templates/ror.html"])
def test_a_fifo_is_reported_not_read(run, sample_site, no_hang, where):
    import os

    os.mkfifo(sample_site / where)
    check = run("check")
    build = run("build")
    if where.startswith("templates"):
        assert check.exit_code == 0 and build.exit_code == 0  # never read, never used
    else:
        assert check.exit_code == 1
        assert f"{where}: error: not a regular file" in check.stderr
        assert build.exit_code == 1


@pytest.mark.parametrize("what", ["config", "subscribers-import", "bounces-process"])
def test_a_fifo_given_as_a_file_is_one_line_not_a_hang(
    run, sample_site, monkeypatch, no_hang, what
):
    import os

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    fifo = sample_site / "ror"
    os.mkfifo(fifo)
    if what == "config":
        (sample_site / "blogtool.toml").unlink()
        os.mkfifo(sample_site / "blogtool.toml")
        result, named = run("check"), sample_site / "blogtool.toml"
    elif what == "subscribers-import":
        result, named = run("subscribers", "import", str(fifo)), fifo
    else:
        result, named = run("bounces", "process", str(fifo)), fifo
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{named}: cannot be read: not a regular file" in result.stderr


# --- 4. the state database holds personal data: private to its owner -------------------------


def _mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_state_is_private_whichever_command_makes_it(run, sample_site):
    import os
    import shutil

    shutil.rmtree(sample_site / ".blogtool")  # no state yet (the fixture brings pictures)
    os.umask(0o022)  # a usual umask: files would be 0644 and folders 0755
    assert run("build").exit_code == 0  # the cache and manifest come first here
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    state = sample_site / ".blogtool"
    assert _mode(state) == 0o700
    assert _mode(state / "state.db") == 0o600
    from blogtool import store

    db = store.connect(state / "state.db")  # the WAL and SHM files exist while it is open
    store.set_state(db, "k", "v", NOW)
    assert _mode(state / "state.db-wal") == 0o600 and _mode(state / "state.db-shm") == 0o600
    db.close()
    shards = list((state / "cache" / "content").glob("*.pickle"))
    assert shards and all(_mode(shard) == 0o600 for shard in shards)
    assert _mode(state / "cache" / "content") == 0o700
    assert _mode(state / "cache" / "images") == 0o700 and _mode(state / "cache" / "jinja") == 0o700
    assert "others may read it" not in run("status").stdout


@pytest.mark.parametrize("mask", [0o077, 0o022])
def test_the_published_site_is_readable_by_all_whatever_the_umask(run, sample_site, mask):
    """The web server runs as another user: every folder of the live site 0755 and every file
    0644, made fresh or carried from the release before (a service's umask is often 0077);
    the state stays private."""
    import os

    post = sample_site / "posts/2026-11-20-ett-ar-med-e-tjanster.md"
    before = os.umask(mask)
    try:
        assert run("build").exit_code == 0
        post.write_text(post.read_text("utf-8") + "\nEn rad till.\n", "utf-8")
        assert run("build").exit_code == 0  # unchanged pages linked from the first release
    finally:
        os.umask(before)
    live = (sample_site / "public").resolve()
    assert live.parent.name == ".public.releases" and _mode(live.parent) == 0o755
    modes = {p.relative_to(live).as_posix(): _mode(p) for p in [live, *live.rglob("*")]}
    wrong = {path: oct(mode) for path, mode in modes.items()
             if mode != (0o755 if (live / path).is_dir() else 0o644)}  # fmt: skip
    assert wrong == {} and any(path.startswith("pagefind/") for path in modes)
    assert _mode(sample_site / ".blogtool") == 0o700


def test_status_warns_about_a_database_others_can_read(run, sample_site):
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    (sample_site / ".blogtool" / "state.db").chmod(0o644)
    result = run("status")
    assert "state.db holds personal data but others may read it (mode 644)" in result.stdout
    assert "run: chmod 600" in result.stdout


def test_the_systemd_unit_keeps_what_it_creates_private():
    from .conftest import REPO

    assert "\nUMask=0077\n" in (REPO / "contrib" / "blogtool.service").read_text()


# --- 5. a CSV row with an unclosed quote ----------------------------------------------------------


def test_an_unclosed_quote_is_that_rows_error_and_the_next_row_comes_in(run, sample_site):
    path = write(
        sample_site / "lista.csv",
        'email,name\np@example.se,P\nq@example.se,"never closed\nr@example.se,R\n'
        '"s@example.se","Andersson, Sara"\n',
    )
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:3: a quoted field is not closed on this line" in result.stderr
    assert "3 added, 0 already there, 0 suppressed, 1 invalid" in result.stdout
    listed = run("subscribers", "list").stdout
    assert "r@example.se" in listed and "Andersson, Sara" in listed and "q@example.se" not in listed


def test_a_huge_field_is_one_invalid_row(run, sample_site):
    path = write(
        sample_site / "stor.csv", "email,name\na@example.se," + "x" * 200_000 + "\nb@example.se,B\n"
    )
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: not valid CSV: field larger than field limit" in result.stderr
    assert "1 added" in result.stdout


# --- 6. tracebacks instead of one-line errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        (
            "date: 2026-02-30T08:00:00+01:00",
            ":3: error: date: 2026-02-30T08:00:00+01:00: day 30 does not exist in 2026-02, "
            "which has 28 days",
        ),
        ("date: 2026-13-01", ":3: error: date: 2026-13-01: month 13 does not exist (1 to 12)"),
        ('date: "2026-12-10 24:00"', ":3: error: date: 2026-12-10 24:00: hour 24 does not exist"),
        ('title: "Kontroll\\e tecken"\ndate: 2026-11-01', ":2: error: title: contains the control"),
    ],
)
def test_impossible_dates_and_control_characters_are_problems(run, sample_site, front, expected):
    lines = front if front.startswith("title") else f"title: Datum\n{front}"
    write(sample_site / "posts" / "fel.md", f"---\n{lines}\n---\nText.\n")
    for command in ("check", "build", "run"):
        result = run(command)
        assert result.exit_code == 1, command
        assert f"posts/fel.md{expected}" in result.stderr, (command, result.stderr)


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x0b", "\x1f", "\ufffe", "\uffff"])
def test_a_control_character_in_the_body_is_found_by_check(run, sample_site, char):
    write(
        sample_site / "posts" / "fel.md",
        f"---\ntitle: Tecken\ndate: 2026-11-01\n---\nFörsta raden.\n\nAndra{char}raden.\n",
    )
    result = run("check")
    assert result.exit_code == 1
    assert f"posts/fel.md:7: error: contains the control character U+{ord(char):04X}" in (
        result.stderr
    )
    assert run("build").exit_code == 1  # refused up front, not a crash in the feed writer


XML_PIECES = ["a", "å", "–", "\t", "\n", "\r", " ", "\x00", "\x08", "\x0b", "\x1f", "\x7f",
              "\x85", "\ud800", "\udfff", "\ufffd", "\ufffe", "\uffff", "\U0001f600"]  # fmt: skip


@given(st.lists(st.sampled_from(XML_PIECES), max_size=8).map("".join))
def test_the_quick_xml_check_finds_what_the_pattern_finds(text):
    """``not_in_xml`` answers as the pattern does, surrogates and U+FFFE included."""
    quick, plain = not_in_xml(text), NOT_IN_XML.search(text)
    assert (quick and (quick.start(), quick.group())) == (plain and (plain.start(), plain.group()))


def test_a_very_long_title_gets_a_slug_that_fits_a_file_name(run, sample_site):
    title = "Ett mycket långt inlägg om " + "kommunala tjänster och " * 15 + "slutet"
    write(sample_site / "posts" / "lang.md", f"---\ntitle: {title}\ndate: 2026-11-01\n---\nText.\n")
    result = run("build")
    assert result.exit_code == 0, result.stderr
    [page] = [p for p in (sample_site / "public").iterdir() if p.name.startswith("ett-mycket")]
    assert len(page.name) <= 120 and not page.name.endswith("-")
    too_long = "a" * 121
    write(
        sample_site / "posts" / "lang.md",
        f"---\ntitle: Kort\nslug: {too_long}\ndate: 2026-11-01\n---\nText.\n",
    )
    result = run("check")
    assert "posts/lang.md:3: error: slug: expected at most 120 lowercase" in result.stderr


@pytest.mark.parametrize("language", ['sv\\"><script>', "klingon", ""])
def test_a_language_babel_does_not_know_is_a_config_error(run, sample_site, language):
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace('language = "sv"', f'language = "{language}"'), "utf-8"
    )
    assert f'language = "{language}"' in config.read_text("utf-8")
    result = run("build")
    assert result.exit_code == 1
    assert "[site] language: expected a language such as 'sv' or 'en'" in result.stderr


# --- 8. every value that becomes a path stays inside the site --------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "says"),
    [
        ("newsletter", "state", "public/state.db", "is inside [build] output (public)"),
        ("newsletter", "outbox", "public/utkorg", "is inside [build] output (public)"),
        ("run", "log_file", "./public/run.log", "is inside [build] output (public)"),
        ("site", "base_url", 'https://blogg.vaxjo.example/\\"><script>', "a URL cannot contain"),
        ("web", "base_url", "https://blogg.vaxjo.example/n/<x>", "a URL cannot contain '<'"),
        ("web", "base_url", "https://blogg.vaxjo.example/n/?a=1", "without ?query"),
    ],
)
def test_a_config_that_would_publish_private_data_or_markup_is_an_error(
    run, sample_site, section, key, value, says
):
    config = sample_site / "blogtool.toml"
    lines = [line for line in config.read_text("utf-8").splitlines()
             if not (line.startswith(f"{key} =") and section == "site")]  # fmt: skip
    header = f"[{section}]"
    if header not in lines:
        lines += ["", header]
    lines.insert(lines.index(header) + 1, f'{key} = "{value}"')
    config.write_text("\n".join(lines) + "\n", "utf-8")
    for command in ("check", "build"):
        result = run(command)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"[{section}] {key}: " in result.stderr and says in result.stderr, result.stderr
    assert not (sample_site / "public").exists()


def test_an_output_through_a_link_out_of_the_site_is_an_error(run, sample_site, tmp_path):
    (sample_site / "ut").symlink_to(tmp_path / "www", target_is_directory=True)
    (tmp_path / "www").mkdir()
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace('output = "public"', 'output = "ut/public"'), "utf-8"
    )
    result = run("build")
    assert (
        result.exit_code == 1
        and "[build] output: ut/public leads outside the site" in result.stderr
    )
    assert list((tmp_path / "www").iterdir()) == []


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("tips", "slug", "../../x"),
        ("tips", "slug", "a/b"),
        ("build", "output", "../utanfor"),
        ("newsletter", "outbox", "/tmp/utkorg"),
        ("newsletter", "state", "../../stulen.db"),
        ("run", "log_file", "/etc/blogtool.log"),
    ],
)
def test_a_path_out_of_the_site_is_a_config_error(run, sample_site, tmp_path, section, key, value):
    config = sample_site / "blogtool.toml"
    lines = [
        line for line in config.read_text("utf-8").splitlines() if not line.startswith(f"{key} =")
    ]
    header = f"[{section}]"
    if header not in lines:
        lines += ["", header]
    lines.insert(lines.index(header) + 1, f'{key} = "{value}"')
    config.write_text("\n".join(lines) + "\n", "utf-8")
    before = set(tmp_path.rglob("*"))
    result = run("build")
    assert result.exit_code == 1
    assert f"[{section}] {key}: expected" in result.stderr
    assert set(tmp_path.rglob("*")) == before  # nothing written anywhere


# --- 12. a time that does not exist, and the subject template -------------------------------------


def test_a_time_in_the_spring_gap_is_stored_with_a_warning(run, sample_site):
    post = sample_site / "posts" / "var.md"
    write(post, "---\ntitle: Vårinlägg\ndraft: true\n---\nText.\n")
    result = run("schedule", str(post), "--at", "2027-03-28 02:30")
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: --at: 2027-03-28 02:30 does not exist in Europe/Stockholm (the clocks go "
        "forward); stored 2027-03-28T03:30+02:00" in result.stderr
    )
    assert "date: 2027-03-28T03:30+02:00" in post.read_text("utf-8")


def test_a_front_matter_time_in_the_gap_is_a_warning_in_check(run, sample_site):
    write(
        sample_site / "posts" / "var.md",
        "---\ntitle: Vårinlägg\ndate: 2027-03-28T02:30\n---\nText.\n",
    )
    result = run("check")
    assert result.exit_code == 0
    assert (
        "posts/var.md:3: warning: date: 2027-03-28 02:30 does not exist in Europe/Stockholm"
        in result.stderr
    )


def test_the_subject_template_cannot_reach_python(run, sample_site, monkeypatch, tmp_path):
    marker = tmp_path / "ran"
    attack = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8") + f'\n[newsletter]\nsubject = "{attack}"\n', "utf-8"
    )
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    result = run("newsletter", "build", now=AFTER_TIP)
    assert result.exit_code == 1
    assert "[newsletter] subject:" in result.stderr and "unsafe" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("key", "template", "says"),
    [
        ("subject", "{{ range(10**8) | length }}", "[newsletter] subject: "),
        ("preheader", "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}"
                      "{% endfor %}", "over 100,000 steps"),
        ("preheader", "{{ 'x' * 10**9 }}", "a value too long"),
        ("subject", "{{ 2 ** 100000000 }}", "a power too large"),
    ],
)  # fmt: skip
def test_a_template_that_would_not_end_is_one_line(
    run, sample_site, monkeypatch, key, template, says
):
    """A subject or preheader template that would run for ever or fill the memory stops with
    one line naming it, the same moment, whatever it tried."""
    import time

    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8") + f'\n[newsletter]\n{key} = "{template}"\n', "utf-8"
    )
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    started = time.process_time()
    result = run("newsletter", "build", now=AFTER_TIP)
    assert time.process_time() - started < 30
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"[newsletter] {key}:" in result.stderr and says in result.stderr, result.stderr


# --- found while fuzzing -------------------------------------------------------------------------


def test_a_yaml_alias_bomb_in_front_matter_is_refused_at_once(run, sample_site):
    """Ten levels of anchors and aliases stand for 9**10 strings: loading them is cheap (the
    objects are shared), but quoting the value in an error took 5.5 GB and never finished."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    front = "\n".join(lines)
    write(sample_site / "posts" / "bomb.md", f"---\n{front}\ntitle: *{previous}\n---\nText\n")
    result = run("check")
    assert result.exit_code == 1
    assert "posts/bomb.md:2: error: front matter uses a YAML anchor and alias" in result.stderr
    assert len(result.output) < 5000


def test_a_huge_value_is_quoted_briefly_in_its_error(run, sample_site):
    values = ", ".join(str(n) for n in range(5000))
    write(sample_site / "posts" / "stor.md", f"---\ntitle: [{values}]\n---\nText\n")
    result = run("check")
    [line] = [x for x in result.stderr.splitlines() if "stor.md:2" in x]
    assert "title: expected text, got list [0, 1, 2, 3, ...]" in line and len(line) < 200


@pytest.mark.parametrize(
    "date", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "1899-12-31"]
)
def test_a_date_at_the_calendars_ends_is_an_error_not_a_crash(run, sample_site, date):
    """Found by make fuzz: converting 9999-12-31T23:59:59Z to Stockholm time overflowed."""
    write(sample_site / "posts/ytterkant.md", f"---\ntitle: Ytterkant\ndate: {date}\n---\nT.\n")
    result = run("check")
    assert result.exit_code == 1
    assert (
        "posts/ytterkant.md:3: error: date: expected a year between 1900 and 9000" in result.stderr
    )


# --- aliases: clean paths that no page of the site owns ---------------------------------------------


def _aliased(site, aliases: list[str]) -> None:
    listed = ", ".join(f"'{a}'" for a in aliases)
    write(
        site / "posts/2026-11-02-flyttad.md",
        f"---\ntitle: Flyttad\ndate: 2026-11-02 10:00\nsummary: Text.\naliases: [{listed}]\n---\n\nText.\n",
    )


@pytest.mark.parametrize(
    "alias", ["/.", "/./tagg/", "/a/../feed.xml", "//index.html", "/news;param/", "/a{b}/",
              "/x?y=1", "/x#y", "/$uri/", "/a\\b/", "/%2e%2e/", "/a%2Fb/"]
)  # fmt: skip
def test_an_alias_that_is_not_a_clean_path_is_an_error(run, sample_site, alias):
    _aliased(sample_site, [alias])
    result = run("check")
    assert (
        result.exit_code == 1 and "posts/2026-11-02-flyttad.md:5: error: aliases:" in result.stderr
    )
    assert run("build").exit_code == 1 and not (sample_site / "public").exists()


def test_an_alias_never_replaces_a_page_of_the_site(run, sample_site):
    built = run("build")
    assert built.exit_code == 0
    public = sample_site / "public"
    own = {p: (public / p).read_bytes() for p in ("index.html", "feed.xml", "tagg/index.html")}
    _aliased(sample_site, ["/", "/feed.xml", "/tagg/", "/redirects.map", "/gammal/adress/"])
    assert run("build").exit_code == 0
    for path in own:
        now = (public / path).read_bytes()
        assert b'http-equiv="refresh"' not in now and (
            path != "feed.xml" or now.startswith(b"<?xml")
        )
    assert not (public / "feed.xml").is_dir() and (public / "gammal/adress/index.html").is_file()
    lines = (public / "redirects.map").read_text("utf-8").splitlines()
    assert lines == ["/gammal/adress/ /flyttad/;"]  # nginx's map: one 'key value;' a line


# --- texts that took time growing with their square ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("brackets-6k", "[" * 900 + "x" + "](" * 900, ""),  # read, in linear time
        ("brackets-24k", "[" * 8000 + "x" + "](" * 8000, "a paragraph with over 1000 '['"),
        ("brackets-90k", "[" * 30000 + "x" + "](" * 30000, "a paragraph of over 32 KB"),
        ("emphasis-150k", ("*a" * 8000 + "\n\n") * 9, ""),
        ("tags-150k", ("<div" * 1000 + "\n\n") * 38, "'<' opens a tag that no '>' closes"),
        ("links-20k", "[a](" * 5000, "a paragraph with over 1000 '['"),
        ("pictures-14k", "![a](b)" * 2000, "a paragraph with over 1000 '['"),
        (
            "too-long",
            ("Text. " * 40 + "\n\n") * 1200,
            "the text is 283 KB; a post or tip may have at most 256 KB",
        ),
    ],
)
def test_a_pathological_text_is_read_or_refused_in_time_linear_in_it(
    run, sample_site, monkeypatch, name, body, message
):
    """check, list, build and run each finish within a budget per kilobyte (the process's own
    time), with one line naming the file when the text is refused; a stalled run would hold
    the site's lock, and nothing would publish or send."""
    import time

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    write(sample_site / "posts/2026-11-02-lang.md",
          f"---\ntitle: Lång\ndate: 2026-11-02 10:00\nsummary: Text.\n---\n{body}")  # fmt: skip
    kb = len(body) // 1024
    for command in ("check", "list", "build", "run"):
        started = time.process_time()
        result = run(command, now=NOW)
        took = time.process_time() - started
        assert took < 2.0 + 0.05 * kb, f"{command} on {name}: {took:.1f} s"
        assert "Traceback" not in result.output
        if message:
            assert f"posts/2026-11-02-lang.md:6: error: {message}" in result.output, (
                command, result.output[-400:])  # fmt: skip
            assert result.exit_code == 1, command
        else:
            assert result.exit_code == 0, (command, result.output[-400:])


def test_a_blank_body_has_no_links_of_the_text_read_before_it():
    from blogtool.content import markdown as mdengine

    assert [r.target for r in mdengine.references("[a](saknas.md)")] == ["saknas.md"]
    assert mdengine.references(" \n") == ()


# --- a full disk ------------------------------------------------------------------------------------


def test_a_full_disk_under_a_send_is_one_line_and_the_next_send_goes_on(
    run, sample_site, monkeypatch
):
    """A file-size limit (RLIMIT_FSIZE, writes past it fail as on a full disk) stops the send
    part-way: one line, no traceback; without the limit the next send delivers the rest, once
    each (the uncertain ones are reported, not sent twice)."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for n in range(40):
        assert run("subscribers", "add", f"p{n}@example.se", now=AFTER_TIP).exit_code == 0
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0

    # Above the database's size and a message's, below what the log of 40 deliveries needs.
    limit = (sample_site / ".blogtool/state.db").stat().st_size + 40_000

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "BLOGTOOL_NOW": AFTER_TIP.isoformat()}
    command = [sys.executable, "-m", "blogtool", "--site", str(sample_site), "newsletter", "send"]
    stopped = subprocess.run(command, env=env, preexec_fn=full_disk, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr
    assert len(stopped.stderr.strip().splitlines()) == 1 and stopped.stderr.startswith("Error: ")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    sent = [p for p in (sample_site / "outbox").glob("*.eml")]
    recipients = [p.read_bytes().split(b"\nTo: ", 1)[1].split(b"\r\n", 1)[0] for p in sent]
    assert len(set(recipients)) == len(recipients)  # nobody twice
    assert len(recipients) >= 38  # everyone, but at most the two whose delivery is uncertain


# --- one line, never a traceback ---------------------------------------------------------------------


def test_a_symlink_loop_among_the_posts_is_one_line(run, sample_site):
    (sample_site / "posts/a.md").symlink_to("b.md")
    (sample_site / "posts/b.md").symlink_to("a.md")
    for command in ("check", "build"):
        result = run(command)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert (
            "posts/a.md: error: cannot be read: a link that leads back to itself" in result.stderr
        )


def test_a_test_copy_to_an_unreachable_server_is_one_line(sample_site, port, monkeypatch):
    from .conftest import Run, mail_config

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    with open(sample_site / "blogtool.toml", "a", encoding="utf-8") as fh:
        fh.write(mail_config(port))  # nothing listens on the port
    run = Run(sample_site)
    assert run("newsletter", "build", now=AFTER_TIP).exit_code == 0
    result = run("newsletter", "send", "--test-to", "redaktion@example.se", now=AFTER_TIP)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: the test message to redaktion@example.se was not ")
    assert "cannot connect to 127.0.0.1" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_bounce_without_a_from_line_is_read_without_a_library_traceback(
    run, sample_site, monkeypatch
):
    import subprocess
    import sys

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    qmail = (
        "To: bounces@vaxjo.example\r\nSubject: failure notice\r\nMessage-ID: <q-1@mx>\r\n\r\n"
        "Hi. This is the qmail-send program at mx.example.\r\nI am sorry.\r\n\r\n"
        "<anna@example.se>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
    )
    env = {"BLOGTOOL_SECRET": SECRET, "BLOGTOOL_NOW": NOW.isoformat(), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "blogtool", "--site", str(sample_site), "bounces", "process", "-"],
        input=qmail.encode(), capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
    assert result.stdout.decode().startswith("processed 1 message: 1 ")


# --- exports and files that hold addresses ---------------------------------------------------------


def test_an_export_never_hands_a_spreadsheet_a_formula_and_reads_back_the_same(
    run, sample_site, tmp_path
):
    import csv

    names = ['=HYPERLINK("https://evil.example","klicka")', "+46 70 123", "-x", "@SUM(A1)", "Anna"]
    for n, name in enumerate(names):
        assert run("subscribers", "add", f"p{n}@example.se", "--name", name).exit_code == 0
    out = tmp_path / "export.csv"
    assert run("subscribers", "export", str(out)).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    cells = [cell for row in rows for cell in row.values()]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert {row["name"] for row in rows} == {"'" + n for n in names[:4]} | {"Anna"}
    # The export imported into another site gives the names as they were.
    other = tmp_path / "other"
    other.mkdir()
    (other / "blogtool.toml").write_text(
        (sample_site / "blogtool.toml").read_text("utf-8"), "utf-8"
    )
    for folder in ("posts", "tips"):
        (other / folder).mkdir()
    from .conftest import Run

    assert Run(other)("subscribers", "import", str(out)).exit_code == 0
    listed = Run(other)("subscribers", "list", "--json").stdout
    import json

    assert sorted(s["name"] for s in json.loads(listed)) == sorted(names)


def test_what_holds_addresses_is_its_owners_alone(run, sample_site, monkeypatch, tmp_path):
    """The outbox and its messages, the run's log and an export name subscribers: 0700 and
    0600 whatever the umask (and an outbox made 0755 by an earlier version is closed)."""
    import os

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + '\n[run]\nlog_file = "logg/run.log"\n', "utf-8")
    (sample_site / "outbox").mkdir(mode=0o755)
    before = os.umask(0o022)
    try:
        assert run("subscribers", "add", "anna@example.se", now=AFTER_TIP).exit_code == 0
        assert run("run", now=AFTER_TIP).exit_code == 0
        export = tmp_path / "ut.csv"
        export.write_text("gammal\n", "utf-8")
        export.chmod(0o644)
        assert run("subscribers", "export", str(export)).exit_code == 0
    finally:
        os.umask(before)
    messages = list((sample_site / "outbox").glob("*.eml"))
    assert messages and all(_mode(m) == 0o600 for m in messages)
    assert _mode(sample_site / "outbox") == 0o700
    assert _mode(sample_site / "logg/run.log") == 0o600 and _mode(sample_site / "logg") == 0o700
    assert _mode(export) == 0o600


def test_check_names_what_a_page_would_load_from_another_host(run, sample_site):
    write(
        sample_site / "posts/2026-11-27-inbaddat.md",
        "---\ntitle: Inbäddat\ndate: 2026-11-27T09:00+01:00\nsummary: K.\n---\n\n"  # lines 1-5
        "Text.\n\n"  # 7
        '<iframe src="https://www.google.com/maps/embed?pb=1" title="Karta"></iframe>\n\n'  # 9
        '<iframe src="https://www.youtube-nocookie.com/embed/abc" title="Film"></iframe>\n\n'
        '<div style="background: url(https://cdn.example.net/bg.png)">Ruta</div>\n\n'  # 13
        '<img src="//bilder.example.org/a.jpg" alt="A">\n\n'  # 15
        '<img src="https://blogg.vaxjo.example/static/egen.jpg" alt="Egen">\n\n'
        "[En länk bort](https://www.google.com/maps) är ingen laddning.\n",
    )
    result = run("check")
    lines = [x for x in result.stderr.splitlines() if "inbaddat.md" in x and "host" in x]
    assert any(
        ":9: warning: a <iframe> loads from another host (www.google.com)" in x for x in lines
    )
    assert any("(www.youtube-nocookie.com)" in x for x in lines)
    assert any(
        ":13: warning: a <div> loads from another host (cdn.example.net)" in x for x in lines
    )
    assert any(":15: warning: a picture on another host (bilder.example.org)" in x for x in lines)
    assert len(lines) == 4, lines  # not the site's own picture, not a link

    # Listed in [site] allow_hosts: chosen, so not named.
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8").replace(
        'language = "sv"', 'language = "sv"\nallow_hosts = ["www.youtube-nocookie.com"]'
    )
    config.write_text(text, "utf-8")
    again = run("check")
    assert "youtube-nocookie" not in again.stderr and "www.google.com" in again.stderr


def test_commits_survive_connections_opened_beside_them_and_other_processes_reading(tmp_path):
    """SQLite locks the database with POSIX locks, which belong to the process: closing any
    descriptor of the file drops them all. ``connect`` opened and closed one to make the file
    private, beside the other connections of the reader service (its sender thread, its page
    threads); another process reading the database then took the write-ahead log from under
    them (a commit lost: a mail sent twice, a minute late; or "disk I/O error"). Here a thread
    opens connections while this one commits and another process reads: every commit stays."""
    import sys
    import threading

    from blogtool.store import connect, set_state, transaction

    from .processes import Started

    path = tmp_path / "state.db"
    connect(path).close()
    stop = threading.Event()

    def open_and_close() -> None:  # as page threads do
        while not stop.is_set():
            connect(path).close()

    reading = (
        "import sqlite3, sys\n"
        "while True:\n"
        "    c = sqlite3.connect(sys.argv[1]); c.execute('SELECT COUNT(*) FROM state').fetchone()\n"
        "    c.close()\n"
    )
    opener = threading.Thread(target=open_and_close)
    opener.start()
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    try:
        with Started([sys.executable, "-c", reading, str(path)]):
            for n in range(300):
                db = connect(path)
                try:
                    with transaction(db):
                        set_state(db, f"commit.{n}", "1", now)
                finally:
                    db.close()
    finally:
        stop.set()
        opener.join()
    db = connect(path)
    try:
        kept = db.execute("SELECT COUNT(*) FROM state WHERE key LIKE 'commit.%'").fetchone()[0]
    finally:
        db.close()
    assert kept == 300
