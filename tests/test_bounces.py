"""Bounces and complaints, from hand-written messages modelled on what Postfix, Exim, Exchange
Online, Gmail and Yahoo's feedback loop send; and the whole way round with a real IMAP server
(pymap) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import NOW, SECRET, STOCKHOLM, Run
from .processes import Started, listening, wait_for

HERE = Path(__file__).resolve().parent / "bounces"
READERS = ["anna@example.se", "bo@example.se", "cecilia@example.se", "david@example.se"]
RETURN_PATH = '\n[newsletter]\nreturn_path = "bounces+{token}@vaxjo.example"\n'


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


@pytest.fixture
def sent(sample_site, monkeypatch):
    """Issue 1 sent to four readers through the outbox, with a return path per delivery."""
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + RETURN_PATH, "utf-8")
    return send_issue_one(sample_site, monkeypatch)


def send_issue_one(sample_site: Path, monkeypatch) -> tuple[Path, Run]:
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    run = Run(sample_site)
    for address in READERS:
        assert run("subscribers", "add", address, now=at(2026, 11, 1, 9, 0)).exit_code == 0
    assert run("newsletter", "build", "--since", "2026-11-20").exit_code == 0
    assert run("newsletter", "send").exit_code == 0
    return sample_site, run


def delivery(site: Path, address: str) -> tuple[str, str]:
    """(VERP token, Message-ID) of the delivery to ``address``."""
    from blogtool.subscribers.tokens import verp_token

    with sqlite3.connect(site / ".blogtool/state.db") as db:
        row = db.execute(
            "SELECT id, message_id FROM deliveries WHERE email = ?", (address,)
        ).fetchone()
    return verp_token(SECRET.encode(), row[0]), row[1]


def fixture(site: Path, name: str, address: str, key: str = "1", token: str | None = None) -> Path:
    found_token, message_id = delivery(site, address)
    text = (HERE / name).read_text("utf-8")
    text = text.replace("{TOKEN}", token or found_token).replace("{MESSAGE_ID}", message_id)
    text = text.replace("{RCPT}", address).replace("{KEY}", key)
    path = site / f"in-{name}-{key}"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    return path


def status_of(run: Run, address: str) -> tuple[str, str]:
    found = {s["email"]: s for s in json.loads(run("subscribers", "list", "--json").stdout)}
    return found[address]["status"], found[address]["status_reason"] or ""


def test_the_message_carries_its_own_return_path(sent):
    site, _ = sent
    token, _ = delivery(site, "bo@example.se")
    raw = next(
        p.read_bytes()
        for p in (site / "outbox").glob("*.eml")
        if b"bo@example.se" in p.read_bytes()
    )
    assert f"Return-Path: <bounces+{token}@vaxjo.example>".encode() in raw
    assert b"From: Kommunbloggen <nyhetsbrev@blogg.vaxjo.example>" in raw  # From is unchanged


@pytest.mark.parametrize(
    ("name", "address", "kind", "status", "reason"),
    [
        ("postfix-dsn.eml", "anna@example.se", "hard", "bounced", "Recipient address rejected"),
        ("exim-failure.eml", "bo@example.se", "hard", "bounced", "No such user here"),
        (
            "exchange-ndr.eml",
            "cecilia@example.se",
            "hard",
            "bounced",
            "RESOLVER.ADR.RecipientNotFound",
        ),
        ("gmail-dsn.eml", "david@example.se", "hard", "bounced", "does not exist"),
        ("delay-4xx.eml", "anna@example.se", "soft", "active", ""),
        ("out-of-office.eml", "bo@example.se", "auto-reply", "active", ""),
        ("arf-complaint.eml", "cecilia@example.se", "complaint", "unsubscribed", "complaint"),
    ],
)
def test_each_format_ends_in_the_right_state(sent, name, address, kind, status, reason):
    site, run = sent
    result = run("bounces", "process", str(fixture(site, name, address)))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"processed 1 message: 1 {kind}"
    got_status, got_reason = status_of(run, address)
    assert got_status == status and reason in got_reason
    others = [a for a in READERS if a != address]
    assert all(status_of(run, a)[0] == "active" for a in others)
    # The same message again changes nothing and is counted as a duplicate.
    again = run("bounces", "process", str(fixture(site, name, address)))
    assert again.stdout.strip() == "processed 1 message: 1 duplicate"


def test_a_forged_token_changes_nothing(sent):
    site, run = sent
    token, _ = delivery(site, "anna@example.se")
    forged = token.split("-")[0] + "-0123456789abcdef"
    result = run(
        "bounces", "process", str(fixture(site, "postfix-dsn.eml", "anna@example.se", token=forged))
    )
    assert result.stdout.strip() == "processed 1 message: 1 forged"
    assert status_of(run, "anna@example.se")[0] == "active"


def test_three_delays_in_thirty_days_mark_a_subscriber_bounced(sent):
    site, run = sent
    for n, day in enumerate((3, 10, 20)):
        path = fixture(site, "delay-4xx.eml", "anna@example.se", key=str(n))
        assert run("bounces", "process", str(path), now=at(2026, 12, day, 12, 0)).exit_code == 0
        expected = "bounced" if n == 2 else "active"
        assert status_of(run, "anna@example.se")[0] == expected, n
    assert "3 temporary failures in 30 days" in status_of(run, "anna@example.se")[1]


def test_delays_spread_wider_than_thirty_days_do_not(sent):
    site, run = sent
    for n, day in enumerate(((12, 3), (12, 20), (1, 25))):
        path = fixture(site, "delay-4xx.eml", "anna@example.se", key=str(n))
        year = 2027 if day[0] == 1 else 2026
        assert (
            run("bounces", "process", str(path), now=at(year, day[0], day[1], 12, 0)).exit_code == 0
        )
    assert status_of(run, "anna@example.se")[0] == "active"


BAD = {
    "malformed": (
        "From: MAILER-DAEMON@mx.example\r\nTo: nyhetsbrev@vaxjo.example\r\nSubject: Undelivered\r\n"
        "Message-ID: <bad-1@mx>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n%%% not fields at all %%%\r\n--B--\r\n"
    ),
    "bounce-of-bounce": (
        "From: MAILER-DAEMON@mx.example\r\nTo: postmaster@vaxjo.example\r\nMessage-ID: <bb-1@mx>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"'
        "\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; anna@example.se\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: MAILER-DAEMON@mx.vaxjo.example\r\n"
        "Content-Type: multipart/report; report-type=delivery-status\r\nSubject: Undelivered\r\n"
        "\r\n--B--\r\n"
    ),
    "not-a-bounce": (
        "From: Eva <eva@example.se>\r\nTo: nyhetsbrev@vaxjo.example\r\nSubject: Fråga om tipset\r\n"
        "Message-ID: <q-1@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hej! Var hittar jag kartan?\r\n"
    ),
    "unmatched": (  # a complaint that carries neither the original nor its recipient
        "From: feedback@arf.example\r\nTo: abuse@vaxjo.example\r\nMessage-ID: <arf-2@arf>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="A"'
        "\r\n\r\n--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
        "Version: 1\r\n\r\n--A--\r\n"
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_is_counted_and_changes_no_subscriber(sent, kind):
    site, run = sent
    path = site / "in.eml"
    path.write_bytes(BAD[kind].encode("utf-8"))
    result = run("bounces", "process", str(path))
    assert result.exit_code == 0 and result.stdout.strip() == f"processed 1 message: 1 {kind}"
    assert all(status_of(run, a)[0] == "active" for a in READERS)


def test_a_message_over_the_size_cap_is_not_read(sent):
    site, run = sent
    path = fixture(site, "postfix-dsn.eml", "anna@example.se")
    path.write_bytes(path.read_bytes() + b"x" * 1_000_001)
    assert run("bounces", "process", str(path)).stdout.strip() == "processed 1 message: 1 too-large"
    assert status_of(run, "anna@example.se")[0] == "active"


def test_process_reads_standard_input_as_a_postfix_pipe_does(sent):
    site, run = sent
    raw = fixture(site, "postfix-dsn.eml", "bo@example.se").read_bytes()
    env = {"BLOGTOOL_SECRET": SECRET, "BLOGTOOL_NOW": NOW.isoformat(), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "blogtool", "--site", str(site), "bounces", "process", "-"],
        input=raw, capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "processed 1 message: 1 hard"
    assert status_of(run, "bo@example.se")[0] == "bounced"


def test_show_lists_bounces_forget_erases_them_and_newsletter_list_counts_them(sent):
    site, run = sent
    assert (
        run("bounces", "process", str(fixture(site, "delay-4xx.eml", "anna@example.se"))).exit_code
        == 0
    )
    assert (
        run("bounces", "process", str(fixture(site, "postfix-dsn.eml", "bo@example.se"))).exit_code
        == 0
    )
    assert (
        run(
            "bounces", "process", str(fixture(site, "arf-complaint.eml", "cecilia@example.se"))
        ).exit_code
        == 0
    )
    shown = run("subscribers", "show", "anna@example.se").stdout
    assert "bounces: 1" in shown and "soft 4.2.2: 452 4.2.2 Mailbox full" in shown
    listing = run("newsletter", "list").stdout
    assert "BOUNCED H/S/C" in listing and " 1/1/1 " in listing
    status = run("status").stdout
    assert "issue 1: 25.0 % hard bounces (1 of 4), over 2 %" in status
    assert "issue 1: 25.00 % complaints (1 of 4), over 0.1 %" in status
    assert run("subscribers", "forget", "anna@example.se", "--yes").exit_code == 0
    with sqlite3.connect(site / ".blogtool/state.db") as db:
        left = db.execute("SELECT COUNT(*) FROM bounces WHERE kind = 'soft'").fetchone()[0]
    assert left == 0


# --- the whole way round, with a real IMAP server ------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def imap_server():
    pymap = shutil.which("pymap", path=str(Path(sys.executable).parent))
    assert pymap, "pymap is a test dependency (pyproject [test])"
    port = free_port()
    command = [pymap, "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
               "--demo-data", "--demo-user", "studsar", "--demo-password", "hemligt-losen"]  # fmt: skip
    with Started(command) as process:
        wait_for(lambda: listening(port), "pymap listening", process=process)
        yield port


def test_bounces_from_imap_keep_the_next_issue_from_those_people(sent, imap_server, monkeypatch):
    from imap_tools import MailBoxUnencrypted

    site, run = sent
    config = site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8")
        + f'\n[bounces]\nimap_host = "127.0.0.1"\nport = {imap_server}\nuser = "studsar"\n'
        'security = "none"\n',
        "utf-8",
    )
    with MailBoxUnencrypted("127.0.0.1", imap_server).login("studsar", "hemligt-losen") as box:
        for name, address in (
            ("postfix-dsn.eml", "anna@example.se"),
            ("gmail-dsn.eml", "bo@example.se"),
        ):
            box.append(fixture(site, name, address).read_bytes(), "INBOX")
    # A wrong password: one clear line, and the run still publishes and sends.
    monkeypatch.setenv("BLOGTOOL_IMAP_PASSWORD", "fel")
    failed = run("bounces", "fetch")
    assert (
        failed.exit_code == 1 and "cannot log in to the bounce mailbox 127.0.0.1" in failed.stderr
    )
    outbox = site / "outbox"
    before = len(list(outbox.glob("*.eml")))
    wrong = run("run", now=at(2026, 12, 3, 8, 5))
    assert wrong.exit_code == 0 and "cannot log in to the bounce mailbox" in wrong.stderr
    assert len(list(outbox.glob("*.eml"))) == before + 4  # issue 2 went to all four
    assert "bounce mailbox: cannot log in" in run("status", now=at(2026, 12, 3, 8, 6)).stdout

    monkeypatch.setenv("BLOGTOOL_IMAP_PASSWORD", "hemligt-losen")
    result = run("run", now=at(2026, 12, 9, 12, 0))
    assert result.exit_code == 0, result.stderr
    assert "bounce mailbox: 2 hard" in result.stderr  # the demo mail is counted too
    assert status_of(run, "anna@example.se")[0] == "bounced"
    assert status_of(run, "bo@example.se")[0] == "bounced"
    with MailBoxUnencrypted("127.0.0.1", imap_server).login("studsar", "hemligt-losen") as box:
        assert list(box.fetch()) == []  # everything handled was moved
        box.folder.set("Behandlade")
        assert len(list(box.fetch())) >= 2
    # The next issue skips the two; a second run processes nothing new.
    before = len(list(outbox.glob("*.eml")))
    assert run("run", now=at(2026, 12, 10, 8, 5)).exit_code == 0
    assert len(list(outbox.glob("*.eml"))) == before + 2
    again = run("run", now=at(2026, 12, 10, 8, 10))
    assert "bounce mailbox:" not in again.stderr


def test_process_reads_an_mbox_and_a_maildir(sent):
    import mailbox

    site, run = sent
    box = mailbox.mbox(site / "studsar.mbox")
    box.add(fixture(site, "postfix-dsn.eml", "anna@example.se").read_bytes())
    box.add(fixture(site, "out-of-office.eml", "bo@example.se").read_bytes())
    box.flush()
    result = run("bounces", "process", str(site / "studsar.mbox"))
    assert result.stdout.strip() == "processed 2 messages: 1 auto-reply, 1 hard"
    maildir = mailbox.Maildir(site / "Maildir", create=True)
    maildir.add(fixture(site, "gmail-dsn.eml", "cecilia@example.se").read_bytes())
    result = run("bounces", "process", str(site / "Maildir"))
    assert result.stdout.strip() == "processed 1 message: 1 hard"
    assert status_of(run, "cecilia@example.se")[0] == "bounced"
    status = run("status").stdout
    assert "bounces: 50.0 % hard bounces, 0.00 % complaints over the last issue (4 sent)" in status


# --- strangers: anyone can mail the bounce address ------------------------------------------------


def stranger_dsn(address: str, *, to: str = "bounces@vaxjo.example", message_id: str = "") -> str:
    """A delivery report anyone could write: a failed recipient, and nothing signed."""
    original = f"Message-ID: {message_id}\r\n" if message_id else ""
    return (
        f"From: MAILER-DAEMON@mx.example\r\nTo: {to}\r\nSubject: Undelivered\r\n"
        f"Message-ID: <stranger-{abs(hash((address, to, message_id)))}@mx>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{original}To: {address}\r\n"
        "Subject: Torsdagstips\r\n\r\n--B--\r\n"
    )


def stranger_arf(address: str) -> str:
    """A complaint naming a subscriber, with no token and no original."""
    return (
        "From: feedback@arf.example\r\nTo: abuse@vaxjo.example\r\nMessage-ID: <arf-s@arf>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="A"'
        "\r\n\r\n--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
        f"Version: 1\r\nOriginal-Rcpt-To: <{address}>\r\n\r\n--A--\r\n"
    )


def process(site: Path, run: Run, text: str) -> str:
    path = site / "in-stranger.eml"
    path.write_bytes(text.encode("utf-8"))
    result = run("bounces", "process", str(path))
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (stranger_dsn("anna@example.se"), "unmatched"),  # no token at all
        (stranger_arf("bo@example.se"), "unmatched"),
        (stranger_dsn("anna@example.se", to="bounces+not_a-token!@vaxjo.example"), "forged"),
        (stranger_dsn("anna@example.se", to="bounces+@vaxjo.example"), "unmatched"),
    ],
)
def test_with_verp_only_a_signed_token_changes_a_subscriber(sent, text, kind):
    site, run = sent
    assert process(site, run, text) == f"processed 1 message: 1 {kind}"
    assert all(status_of(run, a)[0] == "active" for a in READERS)
    kept = run("bounces", "unmatched")
    assert kept.exit_code == 0 and ("Undelivered" in kept.stdout or "arf.example" in kept.stdout)
    assert "return_path" in kept.stdout or "not signed" in kept.stdout


def test_a_subscriber_never_mailed_is_not_bounced_by_a_report_naming_them(sent):
    site, run = sent
    assert run("subscribers", "add", "erik@example.se").exit_code == 0
    assert process(site, run, stranger_dsn("erik@example.se")) == "processed 1 message: 1 unmatched"
    assert status_of(run, "erik@example.se")[0] == "active"


@pytest.fixture
def sent_plain(sample_site, monkeypatch):
    """Issue 1 sent to four readers, without VERP (no return_path)."""
    return send_issue_one(sample_site, monkeypatch)


def test_without_verp_a_report_needs_the_message_id_of_a_delivery_to_that_very_address(sent_plain):
    site, run = sent_plain
    _, annas = delivery(site, "anna@example.se")
    # Anna's Message-ID, but a report about Bo: nobody changes.
    wrong = stranger_dsn("bo@example.se", message_id=annas)
    assert process(site, run, wrong) == "processed 1 message: 1 unmatched"
    # Anna's address, but no Message-ID: nobody changes.
    assert process(site, run, stranger_dsn("anna@example.se")) == "processed 1 message: 1 unmatched"
    assert all(status_of(run, a)[0] == "active" for a in READERS)
    reasons = run("bounces", "unmatched").stdout
    assert "does not name the address" in reasons and "no Message-ID" in reasons
    # Both: Anna is bounced, and only Anna.
    right = stranger_dsn("Anna@Example.se", message_id=annas)
    assert process(site, run, right) == "processed 1 message: 1 hard"
    assert status_of(run, "anna@example.se")[0] == "bounced"
    assert all(status_of(run, a)[0] == "active" for a in READERS[1:])


def test_a_kept_report_is_shown_without_its_terminal_controls(sent):
    site, run = sent
    osc = "\x1b]8;;https://evil.example\x1b\\klicka\x1b]8;;\x1b\\"
    text = stranger_dsn("anna@example.se").replace("Subject: Undelivered", f"Subject: {osc}")
    process(site, run, text)
    listing = run("bounces", "unmatched")
    (number,) = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    shown = run("bounces", "unmatched", "--show", number)
    for output in (listing.stdout, shown.stdout):
        assert "\x1b" not in output and "\\x1b]8;;https://evil.example" in output
    assert run("bounces", "unmatched", "--show", "999").exit_code == 2


def test_a_bounce_diagnostic_reaches_subscribers_show_without_its_terminal_controls(sent):
    site, run = sent
    path = fixture(site, "postfix-dsn.eml", "anna@example.se")
    text = path.read_text("utf-8").replace(
        "Diagnostic-Code: smtp;", "Diagnostic-Code: smtp; \x1b]0;owner\x07", 1
    )
    path.write_text(text, "utf-8")
    assert run("bounces", "process", str(path)).stdout.strip() == "processed 1 message: 1 hard"
    shown = run("subscribers", "show", "anna@example.se").stdout
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b]0;owner\\x07" in shown


# --- any report, from anyone -----------------------------------------------------------------------


STRANGERS = ["erik@example.se", "evil@attacker.example"]


@st.composite
def bounce_report(
    draw: st.DrawFn, deliveries: dict[str, tuple[int, str]]
) -> tuple[str, int | None]:
    """A report as anyone could write it: which kind, whom it names, to which address it came
    back (a valid token, a forged one, one of the wrong shape, or none) and which original
    Message-ID it carries. Returns the message and the delivery its token validly names."""
    from blogtool.subscribers.tokens import verp_token

    named = draw(st.sampled_from(READERS + STRANGERS))
    token_kind = draw(st.sampled_from(["none", "valid", "forged", "shape"]))
    whose = draw(st.sampled_from(READERS))
    delivery_id, message_id = deliveries[whose]
    signed = None
    if token_kind == "valid":
        token, signed = verp_token(SECRET.encode(), delivery_id), delivery_id
    elif token_kind == "forged":
        token = f"{delivery_id}-{draw(st.from_regex(r'[0-9a-f]{16}', fullmatch=True))}"
    else:
        token = draw(st.sampled_from(["", "x_y", "1-2-3", "../../etc", "%00", "A" * 60]))
    to = f"bounces+{token}@vaxjo.example" if token_kind != "none" else "bounces@vaxjo.example"
    original = draw(st.sampled_from(["", message_id, "<nagon@annan.example>"]))
    kind = draw(st.sampled_from(["hard", "soft", "complaint"]))
    key = draw(st.integers(0, 10**9))
    if kind == "complaint":
        body = (
            'Content-Type: multipart/report; report-type=feedback-report; boundary="A"\r\n\r\n'
            "--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
            f"Version: 1\r\nOriginal-Rcpt-To: <{named}>\r\n\r\n--A\r\n"
            f"Content-Type: text/rfc822-headers\r\n\r\nTo: {named}\r\n"
            + (f"Message-ID: {original}\r\n" if original else "")
            + "\r\n--A--\r\n"
        )
    else:
        status = "5.1.1" if kind == "hard" else "4.2.2"
        action = "failed" if kind == "hard" else "delayed"
        body = (
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            f"Final-Recipient: rfc822; {named}\r\nAction: {action}\r\nStatus: {status}\r\n\r\n"
            f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nTo: {named}\r\n"
            + (f"Message-ID: {original}\r\n" if original else "")
            + "\r\n--B--\r\n"
        )
    head = (f"From: MAILER-DAEMON@mx.example\r\nTo: {to}\r\nDelivered-To: {to}\r\n"
            f"Subject: Undelivered\r\nMessage-ID: <r{key}@mx>\r\nMIME-Version: 1.0\r\n")  # fmt: skip
    return head + body, signed


@given(data=st.data())
def test_no_report_changes_a_subscriber_without_a_signed_token_for_them(sent, data):
    """Whatever a report holds, a subscriber's status changes only when it came back to a
    token this site signed for a delivery to that very subscriber; and nothing raises."""
    from blogtool.bounces import reports
    from blogtool.config import load_config
    from blogtool.store import connect

    site, _ = sent
    with sqlite3.connect(site / ".blogtool/state.db") as raw:
        deliveries = {
            email: (delivery_id, message_id)
            for delivery_id, email, message_id in raw.execute(
                "SELECT id, email, message_id FROM deliveries"
            )
        }
    message, signed = data.draw(bounce_report(deliveries))
    config = load_config(site)
    db = connect(site / ".blogtool/state.db")
    try:
        before = dict(db.execute("SELECT email, status FROM subscribers").fetchall())
        kind = reports.record(db, config, SECRET.encode(), reports.read(message.encode(), config),
                              NOW)  # fmt: skip
        after = dict(db.execute("SELECT email, status FROM subscribers").fetchall())
    finally:
        db.close()
    changed = {email for email in before if before[email] != after[email]}
    owner = {deliveries[e][0]: e for e in deliveries}.get(signed) if signed else None
    assert changed <= ({owner} if owner else set()), (kind, message)
    assert kind in reports.KINDS
