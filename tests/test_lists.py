"""Lists: who gets which letter. The series' issue goes to its list only; a list of blog posts
gets a mail per post, or a weekly letter, and starts with the posts after it began."""

from __future__ import annotations

import datetime as dt
import email
from collections import Counter
from email import policy

import pytest

from .conftest import SECRET, STOCKHOLM, Run, write

WEEKLY = """
[lists.torsdagstips]
name = "Torsdagstips varje vecka"
content = "tips"

[lists.blogg]
name = "Nya blogginlägg, en gång i veckan"
content = "posts"
cadence = "weekly"
"""


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


def post(site, slug: str, title: str, when: str) -> None:
    write(
        site / f"posts/{slug}.md", f"---\ntitle: {title}\ndate: {when}\nsummary: S.\n---\nText.\n"
    )


def letters(site) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for path in (site / "outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        out[(str(message["To"]), str(message["Subject"]))] += 1
    return out


@pytest.fixture
def job(sample_site, monkeypatch) -> Run:
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    run = Run(sample_site)
    assert run("subscribers", "add", "anna@example.se", "--list", "blogg").exit_code == 0
    assert run("subscribers", "add", "bo@example.se", now=at(2026, 11, 1, 9, 0)).exit_code == 0
    both = run(
        "subscribers", "add", "cecilia@example.se", "--list", "torsdagstips", "--list", "blogg"
    )
    assert both.exit_code == 0
    return run


def test_a_mail_per_post_to_its_list_and_the_series_to_its_own(job, sample_site):
    assert job("run", now=at(2026, 11, 26, 8, 5)).exit_code == 0  # issue 1; the blog list starts
    assert letters(sample_site) == {
        ("bo@example.se", "Torsdagstips vecka 48: Hitta ett utegym nära dig"): 1,
        ("cecilia@example.se", "Torsdagstips vecka 48: Hitta ett utegym nära dig"): 1,
    }
    post(sample_site, "2026-12-01-oppet-hus", "Öppet hus", "2026-12-01T10:00:00+01:00")
    assert job("run", now=at(2026, 12, 1, 9, 55)).exit_code == 0
    assert sum(letters(sample_site).values()) == 2  # not before its time
    result = job("run", now=at(2026, 12, 1, 10, 0))
    assert result.exit_code == 0, result.stderr
    assert job("run", now=at(2026, 12, 1, 10, 5)).exit_code == 0  # once
    got = letters(sample_site)
    assert got[("anna@example.se", "Kommunbloggen: Öppet hus")] == 1
    assert got[("cecilia@example.se", "Kommunbloggen: Öppet hus")] == 1
    assert ("bo@example.se", "Kommunbloggen: Öppet hus") not in got
    assert sum(got.values()) == 4
    # Older posts (the sample's) never went to the new list.
    assert all("Kommunbloggen:" not in subject or "Öppet hus" in subject for _, subject in got)


def test_a_weekly_letter_carries_the_weeks_posts(job, sample_site):
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + WEEKLY, "utf-8")
    assert job("run", now=at(2026, 11, 26, 8, 5)).exit_code == 0
    post(sample_site, "2026-11-30-a", "Måndagsinlägget", "2026-11-30T09:00:00+01:00")
    post(sample_site, "2026-12-02-b", "Onsdagsinlägget", "2026-12-02T09:00:00+01:00")
    for now in (at(2026, 12, 1, 9, 0), at(2026, 12, 2, 12, 0), at(2026, 12, 3, 7, 55)):
        assert job("run", now=now).exit_code == 0
    assert not [s for _, s in letters(sample_site) if "nya inlägg" in s]
    assert job("run", now=at(2026, 12, 3, 8, 0)).exit_code == 0
    assert job("run", now=at(2026, 12, 3, 8, 30)).exit_code == 0
    got = letters(sample_site)
    digest = "Kommunbloggen: 2 nya inlägg"
    assert got[("anna@example.se", digest)] == 1 and got[("cecilia@example.se", digest)] == 1
    assert ("bo@example.se", digest) not in got
    body = (
        next(
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in (sample_site / "outbox").glob("*.eml")
            if b"anna@example.se" in p.read_bytes()
        )
        .get_body(("plain",))
        .get_content()
    )
    assert "Måndagsinlägget" in body and "Onsdagsinlägget" in body
    assert "prenumererar på Nya blogginlägg, en gång i veckan" in " ".join(body.split())


NO_LINK_CHECK = "links_before_proof = false\n"  # the tests reach no other site
APPROVAL = """
[newsletter]
from = "Växjö kommun <nyhetsbrev@vaxjo.example>"
unsubscribe_url = "https://blogg.vaxjo.example/avregistrera"
proof_to = ["Redaktionen <redaktion@vaxjo.example>"]
proof_before = "24h"
approval = true
"""


def test_a_letter_of_posts_gets_a_proof_and_waits_for_approval_too(job, sample_site):
    """Approval and proofs hold every letter that goes to readers, the letter of new blog
    posts as well as the series' issue."""
    assert job("run", now=at(2026, 11, 26, 8, 5)).exit_code == 0  # issue 1; the blog list starts
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8").replace("lix_limit = 50\n", "lix_limit = 50\n" + NO_LINK_CHECK)
    config.write_text(text + APPROVAL, "utf-8")
    post(sample_site, "2026-12-01-oppet-hus", "Öppet hus", "2026-12-01T10:00:00+01:00")
    subject = "Kommunbloggen: Öppet hus"
    editor = "redaktion@vaxjo.example"

    assert job("run", now=at(2026, 11, 30, 9, 55)).exit_code == 0
    assert (editor, f"[Korrektur] {subject}") not in letters(sample_site)
    assert job("run", now=at(2026, 11, 30, 10, 5)).exit_code == 0  # 24 h ahead: the proof
    assert letters(sample_site)[(editor, f"[Korrektur] {subject}")] == 1

    held = job("run", now=at(2026, 12, 1, 10, 5))
    assert held.exit_code == 0, held.stderr
    assert "the letter Nya blogginlägg due" in held.stderr and "waiting for approval" in held.stderr
    assert not any(s == subject for _, s in letters(sample_site))  # nobody got it

    approved = job("newsletter", "approve", now=at(2026, 12, 1, 10, 10))
    assert approved.exit_code == 0, approved.stderr
    assert f"approved: {subject}" in approved.stdout
    assert job("run", now=at(2026, 12, 1, 10, 15)).exit_code == 0
    got = letters(sample_site)
    assert got[("anna@example.se", subject)] == 1 and got[("cecilia@example.se", subject)] == 1
    assert ("bo@example.se", subject) not in got
    assert got[(editor, f"[Korrektur] {subject}")] == 1  # one proof, no second


def test_a_letters_proof_that_cannot_go_is_an_error_too(job, sample_site, monkeypatch):
    assert job("run", now=at(2026, 11, 26, 8, 5)).exit_code == 0
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8").replace("lix_limit = 50\n", "lix_limit = 50\n" + NO_LINK_CHECK)
    config.write_text(text + APPROVAL, "utf-8")
    post(sample_site, "2026-12-01-oppet-hus", "Öppet hus", "2026-12-01T10:00:00+01:00")
    monkeypatch.delenv("BLOGTOOL_SECRET")
    result = job("run", now=at(2026, 11, 30, 10, 5))
    assert result.exit_code == 1
    assert (
        "the proof of the newsletter due Tue 1 Dec 2026 10:00 is due but cannot be sent: "
        "BLOGTOOL_SECRET is not set" in result.stderr
    ), result.stderr
