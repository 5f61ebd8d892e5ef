"""The unattended job, stepped through simulated time on the sample site, with a real SMTP
server on 127.0.0.1 and, where it matters, real separate processes."""

from __future__ import annotations

import datetime as dt
import email
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from email import policy
from pathlib import Path

import feedparser
import pytest

from .conftest import SECRET, STOCKHOLM, Run, write
from .processes import Started, blogtool, wait_for
from .smtp_sink import Faults, Server, Sink, delivered_once_but_uncertain
from .test_mail import set_connections

UTC = dt.UTC
TIP_DEC_3 = "Följ isläget innan du går ut på sjön"
SUBSCRIBERS = ["anna@example.se", "bengt@example.se", "cecilia@example.se"]

SOAK = os.environ.get("BLOGTOOL_SOAK") == "1"  # make soak: the long simulations


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


@pytest.fixture
def site(mail_site) -> Path:
    return mail_site


@pytest.fixture
def job(site) -> Run:
    runner = Run(site)
    for address in SUBSCRIBERS:
        assert runner("subscribers", "add", address, now=at(2026, 11, 1, 12, 0)).exit_code == 0
    return runner


def received(sink: Sink) -> Counter[tuple[str, str]]:
    """(recipient, subject) of every accepted message."""
    out: Counter[tuple[str, str]] = Counter()
    for rcpt, raw in sink.accepted:
        out[(rcpt, email.message_from_bytes(raw, policy=policy.default)["Subject"])] += 1
    return out


def feed_titles(site: Path) -> list[str]:
    return [
        e.title
        for e in feedparser.parse((site / "public/torsdagstips/feed.xml").read_bytes()).entries
    ]


def test_simulated_week(job, site, port):
    # A post scheduled inside the week, besides the sample's Thursday tip.
    write(
        site / "posts/2026-12-01-oppet-hus.md",
        "---\ntitle: Öppet hus i stadshuset\ndate: 2026-12-01T10:00:00+01:00\n---\nVälkommen!\n",
    )
    sink = Sink()
    server = Server(sink, port).start()
    try:
        # The previous Thursday, on time: issue 1 with the 26 November tip.
        first = job("run", now=at(2026, 11, 26, 8, 0))
        assert first.exit_code == 0, first.stderr
        assert "issue 1 sent: 3 sent, 0 failed, 0 skipped" in first.stderr
        assert "Built " in first.stderr
        builds = []
        start = at(2026, 11, 30, 0, 0)
        # Every half hour of the week under make soak; every four hours under make test. The
        # minutes around each due time are run either way.
        every = 30 if SOAK else 240
        steps = {start + dt.timedelta(minutes=every * k) for k in range(7 * 24 * 60 // every)}
        steps |= {at(2026, 12, 1, 9, 55) + dt.timedelta(minutes=k) for k in range(10)}
        steps |= {at(2026, 12, 3, 7, 55) + dt.timedelta(minutes=k) for k in range(15)}
        for now in sorted(steps):
            result = job("run", now=now)
            assert result.exit_code == 0, (now, result.stderr)
            if "Built " in result.stderr:
                builds.append(now)
            # Never before its time, always on the first run at or after it.
            post_live = (site / "public/oppet-hus-i-stadshuset/index.html").is_file()
            assert post_live == (now >= at(2026, 12, 1, 10, 0)), now
            assert (TIP_DEC_3 in feed_titles(site)) == (now >= at(2026, 12, 3, 8, 0)), now
            mailed = received(sink)
            dec3 = sum(n for (_, subject), n in mailed.items() if "vecka 49" in subject)
            assert dec3 == (len(SUBSCRIBERS) if now >= at(2026, 12, 3, 8, 0) else 0), now
    finally:
        server.stop()
    # One build per change of the public state: the post, then the tip. Nothing changed
    # between the run on 26 November and the post, so the week starts without a build.
    assert builds == [at(2026, 12, 1, 10, 0), at(2026, 12, 3, 8, 0)]
    mailed = received(sink)
    assert mailed == {
        **{(a, "Torsdagstips vecka 48: Hitta ett utegym nära dig"): 1 for a in SUBSCRIBERS},
        **{
            (a, "Torsdagstips vecka 49: Följ isläget innan du går ut på sjön"): 1
            for a in SUBSCRIBERS
        },
    }
    with sqlite3.connect(site / ".blogtool/state.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0] == 2


def test_daylight_saving_change(job, site, port):
    # Clocks go forward on Sunday 28 March 2027: 08:00 is 07:00 UTC before, 06:00 UTC after.
    write(
        site / "tips/2027-03-25-varen.md",
        "---\ntitle: Våren kommer\ndate: 2027-03-25 08:00\nservice: naturkartan\nsummary: S.\n---\nT.\n",
    )
    write(
        site / "tips/2027-04-01-sommartid.md",
        "---\ntitle: Sommartid i reservaten\ndate: 2027-04-01 08:00\nservice: naturkartan\nsummary: S.\n---\nT.\n",
    )
    sink = Sink()
    server = Server(sink, port).start()
    published_at: dict[str, dt.datetime] = {}
    try:
        start = dt.datetime(2027, 3, 24, 0, 0, tzinfo=UTC)
        every = 1 if SOAK else 6  # hours; the minutes around each due time are run either way
        steps = {start + dt.timedelta(hours=every * k) for k in range(9 * 24 // every)}
        for day in (
            dt.datetime(2027, 3, 25, 5, 50, tzinfo=UTC),
            dt.datetime(2027, 4, 1, 5, 50, tzinfo=UTC),
        ):
            # 05:50 to 07:05 UTC: 08:00 in Stockholm is 07:00 UTC in winter, 06:00 in summer.
            steps |= {day + dt.timedelta(minutes=5 * k) for k in range(16)}
        for now in sorted(steps):
            assert job("run", now=now).exit_code == 0
            for title in ("Våren kommer", "Sommartid i reservaten"):
                if title in feed_titles(site) and title not in published_at:
                    published_at[title] = now
    finally:
        server.stop()
    assert published_at == {
        "Våren kommer": dt.datetime(2027, 3, 25, 7, 0, tzinfo=UTC),
        "Sommartid i reservaten": dt.datetime(2027, 4, 1, 6, 0, tzinfo=UTC),
    }
    subjects = Counter(subject for (_, subject) in received(sink).elements())
    assert subjects == {
        "Torsdagstips vecka 12: Våren kommer": 3,
        "Torsdagstips vecka 13: Sommartid i reservaten": 3,
    }
    sent_dates = sorted(
        email.message_from_bytes(raw, policy=policy.default)["Date"].datetime
        for _, raw in sink.accepted
    )
    assert sent_dates[0] == at(2027, 3, 25, 8, 0) and sent_dates[-1] == at(2027, 4, 1, 8, 0)
    assert sent_dates[-1].utcoffset() == dt.timedelta(hours=2)


def test_machine_off_over_the_send_time_sends_late_once(job, site, port):
    sink = Sink()
    server = Server(sink, port).start()
    try:
        assert job("run", now=at(2026, 11, 26, 8, 0)).exit_code == 0
        assert job("run", now=at(2026, 12, 2, 12, 0)).exit_code == 0
        before = sum(sink.counts().values())
        # Off from Wednesday noon until Friday morning.
        result = job("run", now=at(2026, 12, 4, 9, 0))
        assert result.exit_code == 0, result.stderr
        assert (
            "warning: sending late: the newsletter was due Thu 3 Dec 2026 08:00, 25 h 0 min ago"
            in result.stderr
        )
        assert "issue 2 sent: 3 sent" in result.stderr
        again = job("run", now=at(2026, 12, 4, 9, 5))
        assert "nothing to do" in again.stderr and "sent" not in again.stderr
    finally:
        server.stop()
    assert sum(sink.counts().values()) - before == 3
    assert TIP_DEC_3 in feed_titles(site)


def _run_process(site: Path, now: dt.datetime) -> Started:
    env = {**os.environ, "BLOGTOOL_NOW": now.isoformat(), "BLOGTOOL_SECRET": SECRET}
    return Started(blogtool("--site", str(site), "run"), env=env)


def test_two_runs_started_at_the_same_moment(job, site, port):
    sink = Sink(Faults(data_delay=0.05))
    with Server(sink, port):
        assert job("run", now=at(2026, 11, 26, 8, 0)).exit_code == 0
        before = received(sink)
        now = at(2026, 12, 3, 8, 1)
        with _run_process(site, now) as first, _run_process(site, now) as second:
            codes = [first.wait(), second.wait()]
    logs = first.stderr() + second.stderr()
    assert codes == [0, 0], logs
    assert logs.count("Built ") == 1
    assert logs.count("issue 2 sent: 3 sent") == 1
    assert "already running" in logs or "no new tip to mail" in logs
    after = received(sink) - before
    assert after == {
        (a, "Torsdagstips vecka 49: Följ isläget innan du går ut på sjön"): 1 for a in SUBSCRIBERS
    }


def test_run_killed_mid_send_then_restarted(job, site, port):
    extra = [f"extra{i:02d}@example.se" for i in range(30)]
    csv = write(site / "fler.csv", "email,name\n" + "".join(f"{a},\n" for a in extra))
    assert job("subscribers", "import", str(csv), now=at(2026, 11, 1, 12, 0)).exit_code == 0
    everyone = SUBSCRIBERS + extra
    sink = Sink(Faults(data_delay=0.03))
    with Server(sink, port):
        with _run_process(site, at(2026, 12, 3, 8, 5)) as proc:
            wait_for(lambda: sum(sink.counts().values()) >= 10, "10 messages", process=proc)
            proc.kill()
        partial = sum(sink.counts().values())
        assert 10 <= partial < len(everyone)
        result = job("run", now=at(2026, 12, 3, 8, 10))
    # The first run had built the issue (the week's tip and the late first one together).
    assert "resuming the unfinished send of issue 1" in result.stderr
    with sqlite3.connect(site / ".blogtool/state.db") as conn:
        rows = dict(conn.execute("SELECT email, status FROM deliveries"))
    if delivered_once_but_uncertain(sink, rows, everyone, connections=4):
        assert result.exit_code == 1 and "unconfirmed" in result.stderr
    else:
        assert result.exit_code == 0


def test_status_and_next_on_the_sample_site(run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    now = at(2026, 11, 28, 9, 0)
    assert run("next", now=now).stdout.strip() == now.isoformat()  # never built: work waiting
    assert run("next", "--format", "seconds", now=now).stdout.strip() == "0"
    assert run("run", now=now).exit_code == 0
    result = run("next", now=now)
    assert result.stdout.strip() == "2026-12-03T08:00:00+01:00"
    assert run("next", "--format", "seconds", now=now).stdout.strip() == str(4 * 86400 + 23 * 3600)
    status = run("status", now=now).stdout
    assert "published: 3 posts, 6 tips; 3 scheduled, 1 draft" in status
    assert (
        "next due: Följ isläget innan du går ut på sjön (tip) Thu 3 Dec 2026 08:00, in 4 d 23 h"
        in status
    )
    assert "(up to date)" in status
    assert (
        "last newsletter: issue 1 (sent) Torsdagstips vecka 48: Hitta ett utegym nära dig: 0 sent"
        in status
    )
    assert "problems: none" in status
    # Past the last scheduled item nothing is due.
    late = at(2027, 6, 1, 12, 0)
    assert run("run", now=late).exit_code == 0
    result = run("next", now=late)
    assert result.exit_code == 1 and result.stdout == "" and "nothing is scheduled" in result.stderr


def test_quiet_prints_only_errors_and_the_log_file_gets_every_action(run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    with open(sample_site / "blogtool.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[run]\nlog_file = "logg/blogtool.log"\n')
    result = run("run", "--quiet", now=at(2026, 11, 28, 9, 0))
    # Errors only, and a warning the first time it is given: week 51 has no tip yet.
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == (
        "2026-11-28T09:00:00+01:00 blogtool run: warning: week 51 (Thu 17 Dec 2026 08:00) "
        "has no Torsdagstips tip yet\n"
    )
    again = run("run", "--quiet", now=at(2026, 11, 28, 9, 2))
    assert again.exit_code == 0 and again.stdout == "" and again.stderr == ""
    log = (sample_site / "logg/blogtool.log").read_text("utf-8").splitlines()
    assert log[0].startswith("2026-11-28T09:00:00+01:00 blogtool run: info: Built ")
    assert any("issue 1 sent" in line for line in log)
    write(sample_site / "posts/trasig.md", "---\n- x\n---\n")
    result = run("run", "--quiet", now=at(2026, 11, 28, 9, 5))
    assert result.exit_code == 1
    assert "posts/trasig.md:2: error: front matter must be a mapping" in result.stderr
    assert "content has errors; nothing was published or sent" in result.stderr


def test_without_a_secret_the_run_publishes_and_says_why_it_does_not_send(run, sample_site):
    result = run("run", now=at(2026, 12, 3, 8, 5))
    assert result.exit_code == 1
    assert "Built " in result.stderr
    assert "the newsletter is due but cannot be sent: BLOGTOOL_SECRET is not set" in result.stderr
    assert TIP_DEC_3 in feed_titles(sample_site)
    status = run("status", now=at(2026, 12, 3, 8, 6)).stdout
    assert "BLOGTOOL_SECRET is not set" in status


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_units_verify(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    exe = Path(sys.executable).parent / "blogtool"
    service = (repo / "contrib/blogtool.service").read_text("utf-8")
    # The shipped unit names the install path; verify it as installed here.
    service = service.replace("/srv/kommunbloggen/.venv/bin/blogtool", str(exe))
    service = service.replace("/srv/kommunbloggen", str(tmp_path))
    service = service.replace("User=blogtool", "User=root").replace("Group=blogtool", "Group=root")
    (tmp_path / "blogtool.service").write_text(service, "utf-8")
    shutil.copy(repo / "contrib/blogtool.timer", tmp_path / "blogtool.timer")
    result = subprocess.run(
        ["systemd-analyze", "verify", "blogtool.service", "blogtool.timer"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_a_manual_send_does_not_hold_up_publishing(job, site, port):
    """While staff send an issue by hand (slowly, rate-limited), the scheduled run still
    publishes what became due, and leaves the mail to the send that is running."""
    set_connections(site, 1)  # the relay takes one message at a time
    sink = Sink()
    env = {**os.environ, "BLOGTOOL_NOW": at(2026, 12, 3, 7, 50).isoformat()}
    with Server(sink, port):
        assert job("run", now=at(2026, 11, 26, 8, 0)).exit_code == 0  # issue 1, the site built
        sink.faults.hold = threading.Event()  # a slow relay: the manual send is under way
        # Staff make issue 2 early (the tip is out at 08:00) and send it by hand.
        write(site / "tips" / "extra.md", "---\ntitle: Extra\ndate: 2026-12-02T08:00\n"
              "service: naturkartan\nsummary: Kort.\n---\nText.\n")  # fmt: skip
        assert job("newsletter", "build", now=at(2026, 12, 3, 7, 50)).exit_code == 0
        with Started(blogtool("--site", str(site), "newsletter", "send"), env=env) as manual:
            wait_for(lambda: sink.in_data, "issue 2 under way", process=manual)
            result = job("run", now=at(2026, 12, 3, 8, 1))
            sink.faults.hold.set()
            manual.wait()
        err = manual.stderr()
    assert result.exit_code == 0, result.stderr
    assert "Built " in result.stderr  # the tip of 3 December went out on the site
    assert TIP_DEC_3 in feed_titles(site)
    assert "a newsletter send for this site is already running" in result.stderr
    assert "the newsletter is left to it" in result.stderr
    assert manual.returncode == 0, err
    assert received(sink) == {
        **{(a, "Torsdagstips vecka 48: Hitta ett utegym nära dig"): 1 for a in SUBSCRIBERS},
        **{(a, "Torsdagstips vecka 49: Extra"): 1 for a in SUBSCRIBERS},
    }


def test_the_process_ends_with_its_exit_code_and_all_of_its_output(run, sample_site):
    """The command as its own process: the exit code and every line through a pipe come, the
    same as the command gives in-process."""
    env = {**os.environ, "LANG": "C.UTF-8", "BLOGTOOL_NOW": at(2026, 11, 28, 9, 0).isoformat()}
    for args, code in ((["fields"], 0), (["config", "--reference"], 0), (["bogus"], 2),
                       (["build", "--output", "posts"], 1)):  # fmt: skip
        process = subprocess.run(
            [sys.executable, "-m", "blogtool", "--site", str(sample_site), *args],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        same = run(*args, now=at(2026, 11, 28, 9, 0))
        assert (process.returncode, same.exit_code) == (code, code), process.stderr
        assert process.stdout == same.stdout and len(process.stdout) > (1000 if code == 0 else -1)
        named = same.stderr.replace("cli [", "blogtool [").replace("'cli --", "'blogtool --")
        assert process.stderr == named  # the test runner calls the program "cli"


def test_with_the_readmes_placeholder_secret_the_run_says_so(run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", "change-me-to-a-long-random-value")
    result = run("run", now=at(2026, 12, 3, 8, 5))
    assert result.exit_code == 1
    assert (
        "the newsletter is due but cannot be sent: BLOGTOOL_SECRET is still the placeholder "
        "from the README" in result.stderr
    )
    assert "is not set" not in result.stderr


def test_the_command_line_leaves_what_a_command_made_to_the_end_of_the_process(
    sample_site, monkeypatch
):
    """When a command is done, what it made (the loaded site, the plan) is frozen out of the
    cyclic collector's reach: the interpreter's teardown would otherwise walk it all to free
    nothing. The command's own result is as ever."""
    import gc

    from blogtool.cli import base
    from blogtool.content.model import Item

    monkeypatch.chdir(sample_site)
    monkeypatch.setattr(sys, "argv", ["blogtool", "build"])
    monkeypatch.setenv("BLOGTOOL_NOW", "2026-12-03T10:00:00+01:00")
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as ended:
            base.main()
        assert ended.value.code == 0
        assert (sample_site / "public" / "index.html").is_file()
        # What the collector still tracks is what was made since: the exception and its
        # traceback, not the thousands of objects of a build (templates, pages, the site).
        assert gc.get_freeze_count() > 0 and len(gc.get_objects()) < 1_000
        assert not any(isinstance(o, Item) for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
