"""The newsletter against a real SMTP server on 127.0.0.1, with faults injected."""

from __future__ import annotations

import datetime as dt
import email
import os
import re
import sqlite3
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from blogtool.cli import cli
from blogtool.subscribers.tokens import verify_token

from .conftest import SECRET, STOCKHOLM, Run
from .processes import Started, blogtool, wait_for
from .smtp_sink import Faults, Server, Sink, delivered_once_but_uncertain

SEND_NOW = dt.datetime(2026, 12, 3, 8, 5, tzinfo=STOCKHOLM)  # the 3 December tip is out
TIP_TITLE = "Följ isläget innan du går ut på sjön"
SINGLE_HEADERS = [
    "From", "Reply-To", "To", "Date", "Message-ID", "Subject", "List-Id",
    "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version",
]  # fmt: skip


def addresses(n: int) -> list[str]:
    return [f"person{i:03d}@example.se" for i in range(n)]


def prepare(mrun: Run, n: int) -> list[str]:
    """n subscribers (imported from CSV, as staff would) and one built issue."""
    emails = addresses(n)
    csv = mrun.root / "prenumeranter.csv"
    csv.write_text(
        "email,name\n" + "".join(f"{e},Person {i}\n" for i, e in enumerate(emails)), "utf-8"
    )
    result = mrun("subscribers", "import", str(csv), now=SEND_NOW)
    assert result.exit_code == 0 and f"{n} added" in result.stdout, result.output
    result = mrun("newsletter", "build", now=SEND_NOW)
    assert (
        result.exit_code == 0
        and "issue 1: Torsdagstips vecka 49: Följ isläget innan du går ut på sjön" in result.stdout
    )
    return emails


def db(site: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(site / ".blogtool/state.db")
    conn.row_factory = sqlite3.Row
    return conn


def statuses(site: Path) -> dict[str, str]:
    with db(site) as conn:
        return {
            r["email"]: r["status"] for r in conn.execute("SELECT email, status FROM deliveries")
        }


def send_through(mrun: Run, port: int, faults: Faults | None = None, *args: str):
    """`newsletter send` against a fresh sink on ``port``; the result and what the sink got."""
    sink = Sink(faults)
    server = Server(sink, port).start()
    try:
        result = mrun("newsletter", "send", *args, now=SEND_NOW)
    finally:
        server.stop()
    return result, sink


def assert_exactly_once(sink: Sink, emails: list[str], failed: set[str] = frozenset()) -> None:
    counts = sink.counts()
    for address in emails:
        if address in failed:
            assert counts[address] == 0, address
        else:
            assert counts[address] == 1, (address, counts[address])
    assert set(counts) <= set(emails)


def test_each_message_is_well_formed_and_private(mrun, port):
    emails = prepare(mrun, 12)
    result, sink = send_through(mrun, port)
    assert result.exit_code == 0, result.output
    assert (
        "Issue 1 via 127.0.0.1" in result.stdout and "12 sent, 0 failed, 0 skipped" in result.stdout
    )
    assert_exactly_once(sink, emails)

    message_ids = set()
    for rcpt, raw in sink.accepted:
        msg = email.message_from_bytes(raw, policy=policy.default)
        for header in SINGLE_HEADERS:
            assert len(msg.get_all(header, [])) == 1, (header, msg.get_all(header))
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert len(msg["To"].addresses) == 1 and msg["Cc"] is None and msg["Bcc"] is None
        assert msg["From"].addresses[0].addr_spec == "nyhetsbrev@vaxjo.example"
        assert msg["Reply-To"].addresses[0].addr_spec == "kommunikation@vaxjo.example"
        assert msg["Subject"] == "Torsdagstips vecka 49: Följ isläget innan du går ut på sjön"
        assert msg["List-Id"] == "Torsdagstips <torsdagstips.blogg.vaxjo.example>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Date"].datetime == SEND_NOW
        assert re.fullmatch(r"<[^@<>]+@blogg\.vaxjo\.example>", msg["Message-ID"])
        message_ids.add(msg["Message-ID"])

        links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert links[0].startswith("https://blogg.vaxjo.example/avregistrera?t=")
        assert links[1].startswith(
            "mailto:kommunikation@vaxjo.example?subject=unsubscribe%20"
        )  # reply_to reads it
        token = links[0].split("t=", 1)[1]
        assert verify_token(SECRET.encode(), token, rcpt)
        assert not verify_token(SECRET.encode(), token, "someone.else@example.se")

        assert msg.get_content_type() == "multipart/alternative"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert not re.search(r"</?[a-zA-Z][^>]*>", text), "HTML in the text part"
        assert (
            "Följ isläget innan du går ut på sjön" in text
            and "VECKANS TJÄNST: Växjö Naturkarta" in text
        )
        assert links[0] in text and f'href="{links[0]}"' in html  # the personal link in both parts
        # CSS inlined; only the @media rules (dark mode) stay in a style element.
        styles = re.findall(r"<style>(.*?)</style>", html, re.S)
        assert 'style="' in html and len(styles) == 1
        assert styles[0].lstrip().startswith("@media (prefers-color-scheme: dark)")
        assert 'alt="' not in html or all(a for a in re.findall(r'alt="([^"]*)"', html))
        assert "https://naturkartan.se/sv/vaxjo" in html and "Avregistrera dig" in html
        for line in raw.split(b"\r\n"):
            assert len(line) <= 998
        # No other subscriber's address anywhere in the message.
        others = [e for e in emails if e != rcpt]
        assert not [o for o in others if o.encode() in raw]
    assert len(message_ids) == 12


def test_temporary_rcpt_failures_are_retried(mrun, port):
    emails = prepare(mrun, 10)
    faults = Faults(
        rcpt={emails[1]: ["451 4.7.1 Greylisted"] * 2, emails[7]: ["452 4.2.2 Mailbox full"]}
    )
    result, sink = send_through(mrun, port, faults)
    assert result.exit_code == 0, result.output
    assert "10 sent, 0 failed" in result.stdout
    assert_exactly_once(sink, emails)
    with db(mrun.root) as conn:
        attempts = {
            r["email"]: r["attempts"]
            for r in conn.execute("SELECT email, attempts FROM deliveries")
        }
    assert attempts[emails[1]] == 3 and attempts[emails[7]] == 2 and attempts[emails[0]] == 1


def test_temporary_failures_give_up_after_the_limit(mrun, port):
    emails = prepare(mrun, 4)
    result, sink = send_through(mrun, port, Faults(rcpt={emails[2]: ["451 4.7.1 Try later"] * 10}))
    assert result.exit_code == 1
    assert f"failed: {emails[2]}: gave up after 4 tries: 451" in result.stderr
    assert_exactly_once(sink, emails, failed={emails[2]})
    with db(mrun.root) as conn:
        status = conn.execute(
            "SELECT status FROM subscribers WHERE email = ?", (emails[2],)
        ).fetchone()[0]
    assert status == "active"  # a temporary problem does not bounce anyone


def test_dropped_connections_are_reopened(mrun, port):
    emails = prepare(mrun, 20)
    result, sink = send_through(mrun, port, Faults(drop_every=3))
    assert result.exit_code == 0, result.output
    assert "20 sent, 0 failed" in result.stdout
    assert_exactly_once(sink, emails)
    assert sink.connections >= 20 // 2  # a new connection after every drop


def test_permanent_failure_bounces_the_subscriber(mrun, port):
    emails = prepare(mrun, 6)
    result, sink = send_through(mrun, port, Faults(rcpt={emails[3]: ["550 5.1.1 No such user"]}))
    assert result.exit_code == 1
    assert f"failed: {emails[3]}: 550 5.1.1 No such user" in result.stderr
    assert "5 sent, 1 failed, 0 skipped" in result.stdout
    assert_exactly_once(sink, emails, failed={emails[3]})
    assert statuses(mrun.root)[emails[3]] == "failed"
    shown = mrun("subscribers", "show", emails[3], now=SEND_NOW).stdout
    assert "status: bounced" in shown and "550 5.1.1" in shown
    # The next issue is not sent to a bounced address.
    with db(mrun.root) as conn:
        assert (
            conn.execute("SELECT status FROM subscribers WHERE email=?", (emails[3],)).fetchone()[0]
            == "bounced"
        )


def test_server_that_stops_mid_run_then_comes_back(mrun, port):
    emails = prepare(mrun, 15)
    sink = Sink(Faults(stop_after=6))
    server = Server(sink, port).start()
    result = mrun("newsletter", "send", now=SEND_NOW)
    server.stop()
    assert result.exit_code == 1
    assert "dropped the connection 4 times in a row" in result.stderr
    assert "still queued" in result.stderr
    accepted = sum(sink.counts().values())
    # The server shuts down after its 6th and takes nothing more, on any connection.
    assert accepted == 6
    state = list(statuses(mrun.root).values())
    assert state.count("sent") == accepted
    assert state.count("queued") == 15 - accepted  # nobody marked failed for the server's fault

    sink.faults.stop_after = 0
    server = Server(sink, port).start()
    try:
        result = mrun("newsletter", "send", now=SEND_NOW)
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert "15 sent" in result.stdout
    assert_exactly_once(sink, emails)
    assert "sent" in mrun("newsletter", "list", now=SEND_NOW).stdout


def test_unreachable_server_leaves_the_queue_intact(mrun, port):
    prepare(mrun, 3)
    result = mrun("newsletter", "send", now=SEND_NOW)  # nothing listens on the port
    assert result.exit_code == 1
    assert (
        "cannot connect to 127.0.0.1" in result.stderr
        and "3 deliveries are still queued" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert set(statuses(mrun.root).values()) == {"queued"}


def test_unsubscribed_after_freeze_are_skipped(mrun, port, mail_site):
    emails = prepare(mrun, 5)
    with db(mail_site) as conn:  # freeze, as an interrupted run would have
        conn.execute("UPDATE issues SET frozen_at = '2026-12-03T07:05:00+00:00'")
        for sid, e in conn.execute("SELECT id, email FROM subscribers ORDER BY id").fetchall():
            conn.execute(
                "INSERT INTO deliveries (issue_id, subscriber_id, email, updated_at) VALUES (1, ?, ?, 'x')",
                (sid, e),
            )
    assert mrun("subscribers", "remove", emails[0], now=SEND_NOW).exit_code == 0
    mrun("subscribers", "add", "late@example.se", now=SEND_NOW)  # after the freeze: not this issue
    result, sink = send_through(mrun, port)
    assert result.exit_code == 0, result.output
    assert "4 sent, 0 failed, 1 skipped" in result.stdout
    assert sink.counts() == {e: 1 for e in emails[1:]}


def set_connections(site: Path, n: int, retry_delay: float | None = None) -> None:
    """[smtp] connections (and retry_delay) in the test site's config."""
    config = site / "blogtool.toml"  # [smtp] is the last table of the test config
    text = config.read_text("utf-8") + f"connections = {n}\n"
    if retry_delay is not None:
        text = text.replace("retry_delay = 0.01", f"retry_delay = {retry_delay}")
    config.write_text(text, "utf-8")


@pytest.mark.parametrize("connections", [1, 3])
def test_kill_9_mid_send_then_resume(mrun, port, mail_site, connections):
    """A SIGKILL mid-send leaves at most one uncertain row per connection; the resumed send
    reaches everyone else exactly once."""
    set_connections(mail_site, connections)
    emails = prepare(mrun, 40)
    sink = Sink(Faults(data_delay=0.03))
    env = {**os.environ, "BLOGTOOL_NOW": SEND_NOW.isoformat(), "BLOGTOOL_SECRET": SECRET}
    command = blogtool("--site", str(mail_site), "newsletter", "send")
    with Server(sink, port):
        with Started(command, env=env) as proc:
            wait_for(lambda: sum(sink.counts().values()) >= 12, "12 messages", process=proc)
            proc.kill()
        before = sum(sink.counts().values())
        assert 12 <= before < 40
        assert list(statuses(mail_site).values()).count("sending") <= connections

        result = mrun("newsletter", "send", now=SEND_NOW)
        assert result.exit_code in (0, 1), result.output
    uncertain = delivered_once_but_uncertain(sink, statuses(mail_site), emails, connections)
    for address in uncertain:
        assert f"to {address} was being sent when an earlier run stopped" in result.stderr
        assert result.exit_code == 1


def test_resend_uncertain_sends_the_interrupted_rows(mrun, port, mail_site):
    emails = prepare(mrun, 3)
    sink = Sink()
    server = Server(sink, port).start()
    try:
        assert mrun("newsletter", "send", now=SEND_NOW).exit_code == 0
        with db(mail_site) as conn:  # as if a crash had struck between DATA and 250
            conn.execute("UPDATE deliveries SET status = 'sending' WHERE email = ?", (emails[1],))
            conn.execute("UPDATE issues SET completed_at = NULL")
        result = mrun("newsletter", "send", "1", now=SEND_NOW)
        assert result.exit_code == 1 and "uncertain" in result.stderr and emails[1] in result.stderr
        assert sink.counts()[emails[1]] == 1
        result = mrun("newsletter", "send", "1", "--resend-uncertain", now=SEND_NOW)
        assert result.exit_code == 0
    finally:
        server.stop()
    assert sink.counts()[emails[1]] == 2 and sink.counts()[emails[0]] == 1


def test_test_send_and_dry_run_record_nothing(mrun, port, mail_site):
    prepare(mrun, 3)
    sink = Sink()
    server = Server(sink, port).start()
    try:
        result = mrun("newsletter", "send", "--test-to", "Redaktion@Example.se", now=SEND_NOW)
        assert result.exit_code == 0, result.output
        result = mrun("newsletter", "send", "--dry-run", now=SEND_NOW)
        assert result.exit_code == 0
        assert "would send 3 messages" in result.stdout and "List-Unsubscribe-Post" in result.stdout
    finally:
        server.stop()
    assert list(sink.counts()) == ["Redaktion@example.se"]
    msg = email.message_from_bytes(sink.accepted[0][1], policy=policy.default)
    assert msg["Subject"] == "[Test] Torsdagstips vecka 49: Följ isläget innan du går ut på sjön"
    with db(mail_site) as conn:
        assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 0
        assert conn.execute("SELECT frozen_at FROM issues").fetchone()[0] is None


def test_a_second_send_of_the_same_site_is_locked_out(mrun, mail_site):
    from blogtool.store import exclusive_lock

    prepare(mrun, 2)
    with exclusive_lock(mail_site / ".blogtool/send.lock", "a test"):
        result = mrun("newsletter", "send", now=SEND_NOW)
    assert result.exit_code == 3
    assert "a newsletter send for this site is already running" in result.stderr
    assert set(statuses(mail_site).values()) <= {"queued"}


def test_missing_secret_and_unknown_issue(mrun, monkeypatch, mail_site):
    prepare(mrun, 2)
    result = mrun("newsletter", "send", "99", now=SEND_NOW)
    assert result.exit_code == 1 and "no newsletter issue 99; known issues: 1" in result.stderr
    monkeypatch.delenv("BLOGTOOL_SECRET")
    result = mrun("newsletter", "send", now=SEND_NOW)
    assert result.exit_code == 1
    assert "BLOGTOOL_SECRET is not set" in result.stderr and "Traceback" not in result.stderr
    with db(mail_site) as conn:
        assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 0


def test_missing_password_under_cron_fails_clearly(mrun, mail_site):
    config = mail_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace(
            'security = "none"', 'security = "none"\nuser = "nyhetsbrev"'
        ),
        "utf-8",
    )
    prepare(mrun, 1)
    result = CliRunner().invoke(
        cli,
        ["--site", str(mail_site), "newsletter", "send"],
        env={"BLOGTOOL_NOW": SEND_NOW.isoformat(), "BLOGTOOL_SMTP_PASSWORD": ""},
    )
    assert result.exit_code == 1
    assert "no SMTP password for nyhetsbrev@127.0.0.1: set BLOGTOOL_SMTP_PASSWORD" in result.stderr


def test_outbox_without_smtp(run, sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    for e in ("a@example.se", "b@example.se"):
        assert run("subscribers", "add", e, now=SEND_NOW).exit_code == 0
    assert run("newsletter", "build", now=SEND_NOW).exit_code == 0
    result = run("newsletter", "send", now=SEND_NOW)
    assert result.exit_code == 0, result.output
    files = sorted((sample_site / "outbox").glob("*.eml"))
    assert len(files) == 2
    recipients = sorted(
        email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"] for f in files
    )
    assert recipients == ["a@example.se", "b@example.se"]
    assert "Nothing to send" in run("newsletter", "send", now=SEND_NOW).stdout
    assert len(list((sample_site / "outbox").glob("*.eml"))) == 2


def test_a_tip_is_mailed_once_whatever_since_says(mrun):
    prepare(mrun, 1)
    result = mrun("newsletter", "build", "--since", "2026-10-01", now=SEND_NOW)
    assert result.exit_code == 0
    # Everything from October, but not the 3 December tip that issue 1 already carries.
    assert "issue 2:" in result.stdout and "tips/2026-12-03-folj-islaget.md" not in result.stdout
    assert "tips/2026-10-22-hitta-ut-i-naturen.md" in result.stdout
    again = mrun("newsletter", "build", "--since", "2026-10-01", now=SEND_NOW)
    assert "Nothing new since the last issue" in again.stdout
    result = mrun("newsletter", "build", "--since", "nästa vecka", now=SEND_NOW)
    assert result.exit_code == 1 and "--since: expected an ISO 8601 date" in result.stderr


def test_preview_writes_what_a_subscriber_would_read(mrun, mail_site, tmp_path):
    result = mrun("newsletter", "preview", now=SEND_NOW)
    assert result.exit_code == 1 and "no newsletter issue yet" in result.stderr
    prepare(mrun, 1)
    result = mrun("newsletter", "preview", "--output", str(tmp_path), now=SEND_NOW)
    assert result.exit_code == 0
    html = (tmp_path / "newsletter-1.html").read_text("utf-8")
    text = (tmp_path / "newsletter-1.txt").read_text("utf-8")
    assert str(tmp_path / "newsletter-1.html") in result.stdout
    assert "@@BLOGTOOL" not in html + text  # the placeholder never shows
    assert 'href="https://blogg.vaxjo.example/avregistrera?t=exempel"' in html
    assert TIP_TITLE in html and TIP_TITLE in text and "<p" not in text
    assert mrun("newsletter", "preview", "7", now=SEND_NOW).exit_code == 1
    # By default beside, not inside, the site preview that `serve` builds and manages.
    assert mrun("newsletter", "preview", now=SEND_NOW).exit_code == 0
    assert (mail_site / ".blogtool/newsletter-preview/newsletter-1.html").is_file()


def test_a_ghost_delivery_is_uncertain_not_sent_again(mrun, port, mail_site):
    """The server takes the message, then the connection drops before its 250: the message may
    have arrived, so it is reported as uncertain and not sent again on its own."""
    emails = prepare(mrun, 7)
    result, sink = send_through(mrun, port, Faults(ghost_every=3))
    assert result.exit_code == 1, result.output
    assert "5 sent, 0 failed, 0 skipped, 2 uncertain" in result.stdout
    assert_exactly_once(sink, emails)  # nobody got it twice
    ghosts = [e for e, s in statuses(mail_site).items() if s == "sending"]
    assert len(ghosts) == 2
    for address in ghosts:
        assert f"to {address} the connection dropped after the message was sent" in result.stderr
    # A second run sends nothing more: the ghosts wait for a person's decision.
    again, sink2 = send_through(mrun, port)
    assert again.exit_code == 1 and sink2.counts() == {}
    resent, sink3 = send_through(mrun, port, None, "1", "--resend-uncertain")
    assert resent.exit_code == 0, resent.output
    assert sink3.counts() == {e: 1 for e in ghosts}


def test_a_service_two_tips_feature_gets_one_card_after_the_last_of_them(sample_site):
    """Two tips of one letter feature Växjö Naturkarta: its card is shown once, in the HTML
    and the text, after the last tip that features it."""
    import datetime as dt

    from blogtool.config import load_config
    from blogtool.content.load import load_site
    from blogtool.newsletter.issues import render_issue

    from .conftest import STOCKHOLM

    site = load_site(load_config(sample_site))
    tips = [t for t in site.tips if t.service == "naturkartan" and t.date.year == 2026]
    tips = sorted(tips, key=lambda t: t.date)[-2:]  # 26 November and 3 December
    assert len(tips) == 2
    send_at = dt.datetime(2026, 12, 3, 8, 0, tzinfo=STOCKHOLM)
    draft = render_issue(site, tips, send_at - dt.timedelta(weeks=3), send_at, send_at)
    body = draft.html[draft.html.index("<body") :]
    assert body.count("Växjö Naturkarta</p>") == 1, body.count("Växjö Naturkarta</p>")
    card = body.index("Växjö Naturkarta</p>")
    titles = [body.index(t.title) for t in tips]
    assert card > max(titles)  # after the last of the two tips in the letter
    assert draft.text.count("TJÄNST: Växjö Naturkarta") == 1
    assert draft.text.index("TJÄNST: Växjö Naturkarta") > max(
        draft.text.index(t.title) for t in tips
    )


def test_the_newsletter_loads_nothing_from_another_host_and_rewrites_no_link(sample_site):
    """No tracking pixel, no click-tracking redirects: every picture comes from the site's
    own host, and every link goes where its post wrote it (or to the site)."""
    import datetime as dt
    from html.parser import HTMLParser
    from urllib.parse import urlsplit

    from blogtool.config import load_config
    from blogtool.content.load import load_site
    from blogtool.content.markdown import remote
    from blogtool.newsletter.issues import render_issue

    from .conftest import STOCKHOLM

    site = load_site(load_config(sample_site))
    send_at = dt.datetime(2026, 12, 3, 8, 0, tzinfo=STOCKHOLM)
    items = [
        i for i in site.items if i.date and send_at - dt.timedelta(weeks=4) < i.date <= send_at
    ]
    draft = render_issue(site, items, send_at - dt.timedelta(weeks=4), send_at, send_at)

    class Seen(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.loads: list[str] = []
            self.links: list[str] = []

        def handle_starttag(self, tag, attrs):
            named = dict(attrs)
            if tag == "img":
                self.loads.append(named.get("src") or "")
                assert named.get("width") != "1", named  # no one-pixel picture
            if tag in ("link", "script", "iframe"):
                self.loads.append(named.get("href") or named.get("src") or "")
            if tag == "a":
                self.links.append(named.get("href") or "")

    seen = Seen()
    seen.feed(draft.html)
    assert seen.loads and {remote(u) for u in seen.loads} == {"blogg.vaxjo.example"}
    written = " ".join(i.body for i in items) + " ".join(
        s.url + " " + (s.app_store or "") + " " + (s.google_play or "")
        for s in site.config.services.values()
    )
    for href in seen.links:
        host = urlsplit(href).hostname
        assert host in (None, "blogg.vaxjo.example") or href in written, href
