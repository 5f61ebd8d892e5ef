"""Subscribers in the state database: validation, consent, import/export, GDPR show and forget."""

from __future__ import annotations

import csv
import json
import sqlite3

from blogtool import store

from .conftest import NOW, write


def test_add_normalises_validates_and_records_consent(run, sample_site):
    result = run("subscribers", "add", "  Anna.Andersson@EXAMPLE.se ", "--name", "Anna Åberg")
    assert result.exit_code == 0 and "added: Anna.Andersson@example.se (active)" in result.stdout
    result = run("subscribers", "add", "anna.andersson@example.se")
    assert "exists: Anna.Andersson@example.se" in result.stdout
    data = json.loads(run("subscribers", "list", "--json").stdout)
    assert len(data) == 1
    assert (
        data[0]["consent_source"] == "cli" and data[0]["consent_at"] == "2026-11-28T08:00:00+00:00"
    )
    assert data[0]["name"] == "Anna Åberg"


def test_invalid_address_on_the_command_line(run, sample_site):
    for bad in ("inte-en-adress", "a@b", "två@@example.se", "åsa@example.se"):
        result = run("subscribers", "add", bad)
        assert result.exit_code == 1, bad
        assert f"{bad!r} is not a valid email address" in result.stderr
        assert "Traceback" not in result.stderr
    assert run("subscribers", "count").stdout.strip() == "0 active, 0 unsubscribed, 0 bounced"


def test_import_reports_added_existing_and_invalid_lines(run, sample_site):
    run("subscribers", "add", "finns@example.se")
    path = write(
        sample_site / "lista.csv",
        "email,name\n"
        "ny1@example.se,Ny Ett\n"
        "inte en adress,Trasig\n"
        "FINNS@example.se,Finns Redan\n"
        "\n"
        '"ny2@example.se","Efternamn, Förnamn"\n'
        "utan-snabel-a.example.se,\n"
        "ny3@example.se\n",
    )
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 1  # something was invalid
    assert "3 added, 1 already there, 0 suppressed, 2 invalid" in result.stdout
    assert f"{path}:3: 'inte en adress' is not a valid email address" in result.stderr
    assert f"{path}:7: 'utan-snabel-a.example.se' is not a valid email address" in result.stderr
    emails = [s["email"] for s in json.loads(run("subscribers", "list", "--json").stdout)]
    assert emails == ["finns@example.se", "ny1@example.se", "ny2@example.se", "ny3@example.se"]
    names = {s["email"]: s["name"] for s in json.loads(run("subscribers", "list", "--json").stdout)}
    assert names["ny2@example.se"] == "Efternamn, Förnamn"
    sources = {s["consent_source"] for s in json.loads(run("subscribers", "list", "--json").stdout)}
    assert sources == {"cli", "import:lista.csv"}


def test_import_refuses_files_it_cannot_read_as_csv(run, sample_site):
    path = write(sample_site / "fel.csv", "namn;adress\nAnna;anna@example.se\n")
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 1 and "expected a header with an 'email' column" in result.stderr
    path = write(sample_site / "latin1.csv", "email,name\nå@example.se,Åsa\n".encode("latin-1"))
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 1 and "latin1.csv:2: not UTF-8" in result.stderr
    assert run("subscribers", "count").stdout.startswith("0 active")


def test_export_round_trip(run, sample_site):
    for e in ("b@example.se", "a@example.se"):
        run("subscribers", "add", e, "--name", f"Namn {e[0]}")
    run("subscribers", "remove", "b@example.se")
    out = sample_site / "ut.csv"
    result = run("subscribers", "export", str(out))
    assert result.exit_code == 0 and "wrote 2 subscribers" in result.stdout
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["email"], r["status"]) for r in rows] == [
        ("a@example.se", "active"),
        ("b@example.se", "unsubscribed"),
    ]
    assert rows[0]["consent_source"] == "cli"


def test_show_and_forget(run, sample_site):
    run("subscribers", "add", "glom@example.se", "--name", "Glöm Mig")
    shown = run("subscribers", "show", "glom@example.se").stdout
    assert "email: glom@example.se" in shown and "name: Glöm Mig" in shown
    assert "consent: Sat 28 Nov 2026 09:00\n" in shown  # the site's zone, the user's language
    svenska = run("subscribers", "show", "glom@example.se", lang="sv_SE.UTF-8").stdout
    assert "namn: Glöm Mig" in svenska and "samtycke: lör 28 nov. 2026 09:00\n" in svenska
    assert "status: aktiv" in svenska
    result = run("subscribers", "forget", "glom@example.se", "--yes")
    assert result.exit_code == 0 and "forgotten" in result.stdout
    assert run("subscribers", "show", "glom@example.se").exit_code == 1
    # Nothing readable is left, not even in the file's free pages: only a hash.
    with sqlite3.connect(sample_site / ".blogtool/state.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute("SELECT COUNT(*) FROM subscribers").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM suppressions").fetchone()[0] == 1
    for f in (sample_site / ".blogtool").glob("state.db*"):
        assert (
            b"glom@example.se" not in f.read_bytes() and "Glöm Mig".encode() not in f.read_bytes()
        )
    path = write(sample_site / "igen.csv", "email,name\nGLOM@example.se,Igen\n")
    result = run("subscribers", "import", str(path))
    assert "0 added, 0 already there, 1 suppressed, 0 invalid" in result.stdout
    result = run("subscribers", "add", "glom@example.se")
    assert result.exit_code == 1 and "suppression list" in result.stderr


def test_migrations_are_recorded_and_applied_once(tmp_path):
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for step in store.steps("001_initial"):  # a database made by an older blogtool
        step(conn)
    conn.execute("INSERT INTO schema_migrations VALUES ('001_initial', 'earlier')")
    conn.close()
    db = store.connect(path)
    names = [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [
        "001_initial",
        "002_run_state",
        "003_reader_service",
        "004_issue_lists",
        "005_bounces",
        "006_bounce_reasons",
        "007_studio_log",
    ]
    assert (
        db.execute("SELECT applied_at FROM schema_migrations WHERE name='001_initial'").fetchone()[
            0
        ]
        == "earlier"
    )
    assert store.migrate(db) == []  # nothing left to do
    store.set_state(db, "k", "v", NOW)
    assert store.get_state(db, "k") == "v"


def test_a_file_that_is_not_a_database_is_a_clear_error(run, sample_site):
    write(sample_site / ".blogtool/state.db", "det här är ingen databas" * 100)
    result = run("subscribers", "count")
    assert result.exit_code == 1 and "cannot open the state database" in result.stderr
