"""Issue by issue, the ways the scheduled job could send or publish something nobody meant to,
each reproduced as a new user would meet it."""

from __future__ import annotations

import datetime as dt

from .conftest import STOCKHOLM, Run, write


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


# --- case 7: the deployment recipe and the status line ----------------------------------------


def test_status_after_a_failed_run_names_its_time_never_none(run, sample_site):
    write(sample_site / "public", "a file where the site should go\n")
    failed = run("run", now=at(2026, 11, 28, 9, 0))
    assert failed.exit_code == 1
    status = run("status", now=at(2026, 11, 28, 9, 5))
    assert "None" not in status.output
    assert "last run (lör 28 nov. 2026 09:00): " in status.output


def test_next_with_nothing_scheduled_prints_nothing_on_stdout_and_exits_1(run_empty: Run):
    assert run_empty("run").exit_code == 0  # the (empty) site is built: no work is waiting
    result = run_empty("next")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "nothing is scheduled" in result.stderr
