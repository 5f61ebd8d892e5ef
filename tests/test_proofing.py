"""Proofing before sending: a week of the scheduled job with a proof a day ahead and approval
required, with a real SMTP server on 127.0.0.1; and the coming issue shown before it exists."""

from __future__ import annotations

import datetime as dt
import email
import re
from collections import Counter
from email import policy

import pytest

from .conftest import STOCKHOLM, Run
from .smtp_sink import Server, Sink

SUBSCRIBERS = ["anna@example.se", "bengt@example.se", "cecilia@example.se"]
EDITOR = "redaktion@vaxjo.example"
SUBJECT = "Torsdagstips vecka 49: Följ isläget innan du går ut på sjön"
PROOFING = f"""
[newsletter]
from = "Växjö kommun <nyhetsbrev@vaxjo.example>"
unsubscribe_url = "https://blogg.vaxjo.example/avregistrera"
proof_to = ["Redaktionen <{EDITOR}>"]
proof_before = "24h"
approval = true
"""


# The tests reach no other site: the run's look at the coming issue's links (naturkartan.se)
# is tested against servers of its own (test_a_proof_names_the_broken_links_of_the_issue).
NO_LINK_CHECK = "links_before_proof = false\n"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


def mails(sink: Sink) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for rcpt, raw in sink.accepted:
        out[(rcpt, email.message_from_bytes(raw, policy=policy.default)["Subject"])] += 1
    return out


@pytest.fixture
def week(mail_site, port):
    """The sample site after issue 1 (26 November) went out; from then on proofs a day ahead
    and approval required."""
    site = mail_site
    job = Run(site)
    for address in SUBSCRIBERS:
        assert job("subscribers", "add", address, now=at(2026, 11, 1, 12, 0)).exit_code == 0
    sink = Sink()
    server = Server(sink, port).start()
    assert job("run", now=at(2026, 11, 26, 8, 5)).exit_code == 0
    config = (site / "blogtool.toml").read_text("utf-8")
    smtp = config[config.index("[smtp]") :]
    base = config[: config.index("\n[newsletter]")]
    base = base.replace("lix_limit = 50\n", f"lix_limit = 50\n{NO_LINK_CHECK}")
    (site / "blogtool.toml").write_text(base + PROOFING + "\n" + smtp, "utf-8")
    sink.accepted.clear()
    yield site, job, sink
    server.stop()


def test_a_week_with_a_proof_and_approval(week):
    _, job, sink = week
    steps = {at(2026, 11, 30, 0, 0) + dt.timedelta(hours=2 * k) for k in range(60)}
    steps |= {at(2026, 12, 2, 7, 55), at(2026, 12, 2, 8, 0), at(2026, 12, 3, 8, 0)}
    steps |= {at(2026, 12, 3, 9, 0), at(2026, 12, 3, 10, 5)}
    proof_runs, held_status = [], ""
    approved = False
    for now in sorted(steps):
        if now >= at(2026, 12, 3, 10, 0) and not approved:
            result = job("newsletter", "approve", now=at(2026, 12, 3, 10, 0))
            assert result.exit_code == 0, result.stderr
            assert f"approved: {SUBJECT}" in result.stdout
            approved = True
        before = len(sink.accepted)
        result = job("run", "--quiet", now=now)
        assert result.exit_code == 0, result.stderr
        if any(rcpt == EDITOR for rcpt, _ in sink.accepted[before:]):
            proof_runs.append(now)
        subscribers_mailed = [r for r, _ in sink.accepted if r in SUBSCRIBERS]
        if now < at(2026, 12, 3, 10, 0):
            assert not subscribers_mailed, f"sent before approval, at {now}"
        if now == at(2026, 12, 3, 9, 0):
            held_status = job("status", now=now).stdout
            assert "waiting for approval since" in result.stderr or result.stderr == ""

    # 1. the proof went on Wednesday at 08:00, a day ahead, once
    assert proof_runs == [at(2026, 12, 2, 8, 0)]
    # 2. nothing went on Thursday before approval; status said why
    assert "approval: waiting for approval since Thu 3 Dec 2026 08:00" in held_status
    # 3-5. approved at 10:00, sent at the next run: one mail each, one proof for the editor
    assert mails(sink) == {
        (EDITOR, f"[Korrektur] {SUBJECT}"): 1,
        **{(a, SUBJECT): 1 for a in SUBSCRIBERS},
    }
    sent = [
        email.message_from_bytes(raw, policy=policy.default)["Date"].datetime
        for rcpt, raw in sink.accepted
        if rcpt in SUBSCRIBERS
    ]
    assert min(sent) == at(2026, 12, 3, 10, 0)  # the run right after the approval


def test_a_change_after_approval_needs_a_new_proof_and_approval(week):
    site, job, sink = week
    assert job("run", now=at(2026, 12, 2, 8, 0)).exit_code == 0  # the proof
    assert job("newsletter", "approve", now=at(2026, 12, 2, 9, 0)).exit_code == 0
    tip = site / "tips/2026-12-03-folj-islaget.md"
    tip.write_text(tip.read_text("utf-8") + "\nIsen är tunn vid bryggorna i år.\n", "utf-8")
    status = job("status", now=at(2026, 12, 2, 9, 30)).stdout
    assert "approval: not approved yet" in status
    assert "proof: changed since the proof of Wed 2 Dec 2026 08:00" in status
    assert job("run", now=at(2026, 12, 2, 10, 0)).exit_code == 0  # a new proof, saying so
    held = job("run", now=at(2026, 12, 3, 8, 0))
    assert "waiting for approval" in held.stderr
    assert not [r for r, _ in sink.accepted if r in SUBSCRIBERS]
    assert job("newsletter", "approve", now=at(2026, 12, 3, 8, 30)).exit_code == 0
    assert job("run", now=at(2026, 12, 3, 8, 35)).exit_code == 0
    assert mails(sink) == {
        (EDITOR, f"[Korrektur] {SUBJECT}"): 1,
        (EDITOR, f"[Korrektur, ändrad] {SUBJECT}"): 1,
        **{(a, SUBJECT): 1 for a in SUBSCRIBERS},
    }
    raw = next(raw for rcpt, raw in sink.accepted if rcpt == SUBSCRIBERS[0])
    text = email.message_from_bytes(raw, policy=policy.default).get_body(("plain",))
    assert "Isen är tunn vid bryggorna i år." in text.get_content()  # the approved version


def test_preview_next_shows_the_coming_issue_before_it_exists(run, sample_site):
    assert run("newsletter", "build", now=at(2026, 11, 26, 8, 5)).exit_code == 0  # issue 1
    # Thursday 07:30, before the tip of 3 December is published: the issue can be proofed.
    result = run("newsletter", "preview", "--next", now=at(2026, 12, 3, 7, 30))
    assert result.exit_code == 0, result.stderr
    assert f"next newsletter: {SUBJECT}" in result.stdout
    assert "tips/2026-12-03-folj-islaget.md (scheduled)" in result.stdout
    directory = sample_site / ".blogtool/newsletter-preview"
    eml = email.message_from_bytes(
        (directory / "newsletter-next.eml").read_bytes(), policy=policy.default
    )
    assert eml["Subject"] == SUBJECT
    assert eml["Date"].datetime == at(2026, 12, 3, 8, 0)
    assert "Följ isläget" in (directory / "newsletter-next.html").read_text("utf-8")
    assert "Följ isläget" in (directory / "newsletter-next.txt").read_text("utf-8")


def test_an_issue_made_by_hand_waits_for_approval_too(week):
    _, job, sink = week
    built = job("newsletter", "build", now=at(2026, 12, 3, 8, 1))
    assert built.exit_code == 0 and "issue 2:" in built.stdout
    held = job("run", now=at(2026, 12, 3, 8, 5))
    assert held.exit_code == 0
    assert "issue 2 (" in held.stderr and "waiting for approval" in held.stderr
    assert not [r for r, _ in sink.accepted if r in SUBSCRIBERS]
    assert job("newsletter", "approve", "2", now=at(2026, 12, 3, 8, 10)).exit_code == 0
    assert job("run", now=at(2026, 12, 3, 8, 15)).exit_code == 0
    assert sorted(r for r, _ in sink.accepted if r in SUBSCRIBERS) == SUBSCRIBERS
    again = job("newsletter", "approve", "2", now=at(2026, 12, 3, 8, 20))
    assert again.exit_code == 1 and "already being sent or was sent" in again.stderr


def test_next_wakes_the_scheduler_for_the_proof(week):
    _, job, _ = week
    assert job("run", now=at(2026, 12, 1, 12, 0)).exit_code == 0
    result = job("next", now=at(2026, 12, 1, 12, 5))
    assert result.stdout.strip() == "2026-12-02T08:00:00+01:00"
    assert job("run", now=at(2026, 12, 2, 8, 0)).exit_code == 0  # the proof goes
    # Then the send itself; at its time, held for approval, run has nothing to do until then.
    assert job("next", now=at(2026, 12, 2, 8, 5)).stdout.strip() == "2026-12-03T08:00:00+01:00"
    status = job("status", now=at(2026, 12, 2, 8, 5)).stdout
    assert "proof: sent Wed 2 Dec 2026 08:00" in status
    assert "approval: not approved yet" in status


@pytest.mark.parametrize(
    ("secret", "why"),
    [(None, "BLOGTOOL_SECRET is not set"), ("change-me-to-a-long-random-value", "placeholder")],
)
def test_a_proof_that_is_due_and_cannot_go_is_an_error_until_it_goes(
    week, monkeypatch, secret, why
):
    _, job, sink = week
    if secret is None:
        monkeypatch.delenv("BLOGTOOL_SECRET")
    else:
        monkeypatch.setenv("BLOGTOOL_SECRET", secret)
    before = job("run", "--quiet", now=at(2026, 12, 2, 7, 55))  # the window is not open yet
    assert before.exit_code == 0, before.output
    due = job("run", "--quiet", now=at(2026, 12, 2, 8, 5))
    assert due.exit_code == 1
    assert "the proof of the newsletter due Thu 3 Dec 2026 08:00 is due but cannot be sent" in (
        due.stderr
    )
    assert why in due.stderr
    status = job("status", now=at(2026, 12, 2, 9, 0)).stdout
    assert "proof: due since Wed 2 Dec 2026 08:00 and not sent yet" in status
    problems = status[status.index("problems") :]
    assert "the proof of the newsletter" in problems and why in problems
    assert not sink.accepted

    # Fixed: the next run sends the proof, and the problem is gone.
    monkeypatch.setenv("BLOGTOOL_SECRET", "a-real-secret-made-for-this-test-0123456789")
    fixed = job("run", "--quiet", now=at(2026, 12, 2, 9, 5))
    assert fixed.exit_code == 0, fixed.output
    assert [rcpt for rcpt, _ in sink.accepted] == [EDITOR]
    status = job("status", now=at(2026, 12, 2, 9, 6)).stdout
    assert "the proof of the newsletter" not in status and "proof: sent" in status


def test_the_proof_says_it_is_one_when_it_goes_to_how_many_and_what_lets_it_go(week):
    _, job, sink = week
    assert job("run", "--quiet", now=at(2026, 12, 2, 8, 0)).exit_code == 0
    ((rcpt, raw),) = sink.accepted
    assert rcpt == EDITOR
    proof = email.message_from_bytes(raw, policy=policy.default)
    html = proof.get_body(("html",)).get_content()
    text = proof.get_body(("plain",)).get_content()
    for body in (html, text):
        assert "KORREKTUR" in body
        assert "torsdag 3 december 2026 08:00" in body and "3 prenumeranter" in body
        assert "blogtool newsletter approve" in body
    # Above the content: the banner comes before the first tip's title.
    shown = html[html.index("<body") :]
    assert shown.index("KORREKTUR") < shown.index("Följ isläget")
    assert text.index("KORREKTUR") < text.index("Följ isläget")

    # The letter itself carries none of it.
    assert job("newsletter", "approve", now=at(2026, 12, 3, 7, 0)).exit_code == 0
    assert job("run", "--quiet", now=at(2026, 12, 3, 8, 0)).exit_code == 0
    letters = [raw for rcpt, raw in sink.accepted if rcpt in SUBSCRIBERS]
    assert len(letters) == 3
    for raw in letters:
        letter = email.message_from_bytes(raw, policy=policy.default)
        assert "KORREKTUR" not in letter.get_body(("html",)).get_content()
        assert "KORREKTUR" not in letter.get_body(("plain",)).get_content()


def test_a_proof_names_the_broken_links_of_the_issue(week):
    """Before its proof goes, the run asks the coming issue's links (its texts' and its
    service's) on real servers; what is broken is in the proof, the run's output and status."""
    from .test_links import Host

    site, job, sink = week

    def routes(method, path, host):
        return (200, {}) if path == "/ok" else (404, {})

    with Host(routes) as web:
        config = site / "blogtool.toml"
        text = config.read_text("utf-8").replace(NO_LINK_CHECK, "link_timeout = 5\n")
        text = text.replace("https://naturkartan.se/sv/vaxjo", f"{web.url}/ok")
        text = text.replace(
            "https://apps.apple.com/se/app/naturkartan/id1057414373", f"{web.url}/app"
        )
        text = re.sub(r'google_play = "[^"]*"\n', "", text)
        config.write_text(text, "utf-8")
        tip = site / "tips/2026-12-03-folj-islaget.md"
        tip.write_text(
            tip.read_text("utf-8") + f"\nLäs [isens tjocklek]({web.url}/isen) innan du går ut.\n",
            "utf-8",
        )
        ran = job("run", "--quiet", now=at(2026, 12, 2, 8, 0))
        assert ran.exit_code == 0, ran.output
        assert web.asked[("HEAD", "/ok")] == 1 and web.asked[("GET", "/isen")] == 1

    tip_line = (
        tip.read_text("utf-8")
        .splitlines()
        .index(f"Läs [isens tjocklek]({web.url}/isen) innan du går ut.")
        + 1
    )
    app_line = config.read_text("utf-8").splitlines().index(f'app_store = "{web.url}/app"') + 1
    ((rcpt, raw),) = sink.accepted
    assert rcpt == EDITOR
    proof = email.message_from_bytes(raw, policy=policy.default)
    text = proof.get_body(("plain",)).get_content()
    assert f"Trasig länk: {web.url}/app (404 Not Found), i blogtool.toml:{app_line}" in text
    where = f"tips/2026-12-03-folj-islaget.md:{tip_line}"
    assert f"Trasig länk: {web.url}/isen (404 Not Found), i {where}" in text
    assert f"{web.url}/ok (" not in text
    assert text.index("Trasig länk") < text.index("Följ isläget")
    assert (
        f"a link in the newsletter due Thu 3 Dec 2026 08:00 is broken: {web.url}/isen"
        in ran.stderr + ran.stdout
    )
    status = job("status", now=at(2026, 12, 2, 9, 0)).stdout
    assert (
        f"links: broken (asked Wed 2 Dec 2026 08:00): {web.url}/isen (404 Not Found), in {where}"
        in status
    )
