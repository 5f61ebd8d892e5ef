"""`blogtool archive`: a quarter of posts, tips and sent newsletters as a BagIt package that
bagit.py validates, with no subscriber's address or personal link in it."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
import subprocess
import sys
from email import policy
from pathlib import Path

from .conftest import SECRET, STOCKHOLM, Run

SUBSCRIBERS = ("anna.andersson@example.se", "Bertil.Berg@Example.org", "cecilia@exempel.nu")
THURSDAYS = [
    dt.datetime(2026, 10, 22, 8, 5, tzinfo=STOCKHOLM) + dt.timedelta(weeks=n) for n in range(7)
]
QUARTER_START = "2026-10-01"
ARCHIVED_AT = dt.datetime(2026, 12, 4, 12, 0, tzinfo=STOCKHOLM)
BAGIT = Path(sys.executable).parent / "bagit.py"


def validate(bag: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BAGIT), "--validate", str(bag)], capture_output=True, text=True, timeout=120
    )


def files_of(bag: Path) -> dict[str, bytes]:
    return {str(p.relative_to(bag)): p.read_bytes() for p in bag.rglob("*") if p.is_file()}


def simulate_a_quarter(run: Run, site: Path) -> list[str]:
    """Three subscribers, each Thursday's tip sent as that week's newsletter; the site built.
    Returns the personal tokens the letters carried."""
    for address in SUBSCRIBERS:
        assert (
            run("subscribers", "add", address, now=THURSDAYS[0] - dt.timedelta(days=30)).exit_code
            == 0
        )
    for thursday in THURSDAYS:
        assert run("newsletter", "build", now=thursday).exit_code == 0
        assert run("newsletter", "send", now=thursday).exit_code == 0
    assert run("build", now=ARCHIVED_AT).exit_code == 0
    tokens = set()
    for sent in (site / "outbox").glob("*.eml"):
        message = email.message_from_bytes(sent.read_bytes(), policy=policy.default)
        tokens |= set(re.findall(r"[?&]t=([\w.\-]{12,})", message["List-Unsubscribe"]))
    assert len(tokens) == len(SUBSCRIBERS)
    return sorted(tokens)


def test_a_quarter_is_archived_whole_valid_and_without_a_subscriber(
    run, sample_site, monkeypatch, tmp_path
):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    tokens = simulate_a_quarter(run, sample_site)
    bag = tmp_path / "arkiv-2026-q4"
    result = run("archive", str(bag), "--since", QUARTER_START, now=ARCHIVED_AT)
    assert result.exit_code == 0, result.output
    assert "9 published items, 7 sent newsletters, 1 consent texts" in result.stdout

    checked = validate(bag)
    assert checked.returncode == 0 and "is valid" in checked.stderr, checked.stderr

    files = files_of(bag)
    # Every item published in the quarter: its source, its page, its metadata; not before it.
    published = [
        line.split()[-1]
        for line in run("list", "--status", "published", now=ARCHIVED_AT).stdout.splitlines()[1:]
    ]
    in_quarter = [p for p in published if Path(p).name >= "2026-10-01"]
    assert len(in_quarter) == 9
    sources = {
        json.loads(data)["source"]: name
        for name, data in files.items()
        if name.endswith("metadata.json") and "/newsletters/" not in name
    }
    assert sorted(sources) == sorted(in_quarter)
    for source, meta in sources.items():
        folder = meta.rsplit("/", 1)[0]
        assert files[f"{folder}/source.md"] == (sample_site / source).read_bytes()
        record = json.loads(files[meta])
        assert record["address"].startswith("https://blogg.vaxjo.example/")
        page = sample_site / "public" / record["address"].split(".example/", 1)[1] / "index.html"
        assert files[f"{folder}/page.html"] == page.read_bytes()
    assert "data/posts/ett-ar-med-nya-e-tjanster/pictures/sjon-i-vinterljus.jpg" in files
    assert not any("valkommen-till-kommunbloggen" in name for name in files)  # September

    # Every sent newsletter: one copy to nobody, with its count and time.
    letters = sorted(n for n in files if n.startswith("data/newsletters/") and n.endswith(".eml"))
    assert len(letters) == len(THURSDAYS)
    first = email.message_from_bytes(files[letters[0]], policy=policy.default)
    assert first["To"] == "undisclosed-recipients:;"
    assert first["Subject"].startswith("Torsdagstips vecka 43")
    assert "Hitta ut i naturen" in first.get_body(("plain",)).get_content()
    meta = json.loads(files[letters[0].replace("message.eml", "metadata.json")])
    assert meta["recipients"] == 3 and meta["last_sent"].startswith("2026-10-22T08:05")

    # The consent text the sign-up form shows, by version.
    assert b"Mina uppgifter" in files["data/consent/1.html"]
    info = files["bag-info.txt"].decode("utf-8")
    assert "Source-Organization: Växjö kommun" in info
    assert (
        "Period-Start: 2026-09-30T22:00:00+00:00" in info
        and "Period-End: 2026-12-04T11:00:00+00:00" in info
    )

    # No subscriber's address (in any case) and no personal link, anywhere in the bag.
    everything = b"\n".join(files.values()).lower()
    for address in SUBSCRIBERS:
        assert address.lower().encode() not in everything, address
        assert address.split("@")[0].lower().encode() not in everything, address
    for token in tokens:
        assert token.lower().encode() not in everything


def test_the_next_archive_takes_what_came_after_the_last(run, sample_site, monkeypatch, tmp_path):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    simulate_a_quarter(run, sample_site)
    assert (
        run("archive", str(tmp_path / "q4"), "--since", QUARTER_START, now=ARCHIVED_AT).exit_code
        == 0
    )
    week_after = dt.datetime(2026, 12, 10, 8, 5, tzinfo=STOCKHOLM)
    assert run("newsletter", "build", now=week_after).exit_code == 0
    assert run("newsletter", "send", now=week_after).exit_code == 0
    assert run("build", now=week_after).exit_code == 0
    result = run("archive", str(tmp_path / "next"), now=week_after)
    assert result.exit_code == 0, result.output
    assert "1 published items, 1 sent newsletters" in result.stdout
    assert "Fri 4 Dec 2026 12:00 to Thu 10 Dec 2026 08:05" in result.stdout
    names = files_of(tmp_path / "next")
    assert "data/tips/boka-tid-for-bygglovsradgivning/source.md" in names
    assert not any("folj-islaget" in n for n in names)  # in the last archive
    assert validate(tmp_path / "next").returncode == 0


def test_an_archive_never_overwrites_and_needs_a_built_site(run, sample_site, tmp_path):
    out = tmp_path / "arkiv"
    out.mkdir()
    (out / "annat.txt").write_text("något annat")
    result = run("archive", str(out), now=ARCHIVED_AT)
    assert result.exit_code == 1 and "exists; name a new folder for the archive" in result.stderr
    assert [p.name for p in out.iterdir()] == ["annat.txt"]
    # The site was never built: nothing is written, and nothing is remembered.
    result = run("archive", str(tmp_path / "ny"), now=ARCHIVED_AT)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "its page is not on the published site" in result.stderr
    assert "run 'blogtool build'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arkiv", "site"]
    assert run("build", now=ARCHIVED_AT).exit_code == 0
    result = run("archive", str(tmp_path / "ny"), now=ARCHIVED_AT)
    assert result.exit_code == 0 and "10 published items" in result.stdout  # from the beginning


def test_a_since_that_is_no_time_is_one_line(run, tmp_path):
    result = run("archive", str(tmp_path / "arkiv"), "--since", "i förrgår")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: --since: ")
    assert not (tmp_path / "arkiv").exists()
