"""Several SMTP connections at once ([smtp] connections): the queue's promises hold across them.
A real server on 127.0.0.1, a real process killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import SECRET, Run
from .smtp_sink import Faults, Server, Sink, delivered_once_but_uncertain
from .test_mail import SEND_NOW, prepare, statuses


def connections(site, n: int, retry_delay: float | None = None) -> None:
    config = site / "blogtool.toml"  # [smtp] is the last table of the test config
    text = config.read_text("utf-8") + f"connections = {n}\n"
    if retry_delay is not None:
        text = text.replace("retry_delay = 0.01", f"retry_delay = {retry_delay}")
    config.write_text(text, "utf-8")


@pytest.fixture
def mrun(mail_site) -> Run:
    return Run(mail_site)


def test_three_connections_share_the_queue_and_send_everyone_once(mrun, port, mail_site):
    connections(mail_site, 3)
    emails = prepare(mrun, 30)
    sink = Sink(Faults(data_delay=0.02))
    server = Server(sink, port).start()
    try:
        result = mrun("newsletter", "send", now=SEND_NOW)
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert "30 sent, 0 failed" in result.stdout
    assert sink.counts() == {e: 1 for e in emails}
    assert sink.connections == 3
    assert sink.most_in_data == 3  # the three really were busy at the same time


def test_sigkill_with_three_connections_loses_and_doubles_nobody(mrun, port, mail_site):
    connections(mail_site, 3)
    emails = prepare(mrun, 60)
    sink = Sink(Faults(data_delay=0.05))
    server = Server(sink, port).start()
    env = {**os.environ, "BLOGTOOL_NOW": SEND_NOW.isoformat(), "BLOGTOOL_SECRET": SECRET}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "blogtool", "--site", str(mail_site), "newsletter", "send"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while sum(sink.counts().values()) < 15 and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert 15 <= sum(sink.counts().values()) < 60
        left = list(statuses(mail_site).values())
        assert left.count("sending") <= 3  # at most one per connection
        result = mrun("newsletter", "send", now=SEND_NOW)
    finally:
        server.stop()
    uncertain = delivered_once_but_uncertain(sink, statuses(mail_site), emails, connections=3)
    for address in uncertain:
        assert f"to {address} was being sent when an earlier run stopped" in result.stderr


def test_a_421_on_one_connection_pauses_all_of_them(mrun, port, mail_site):
    connections(mail_site, 3, retry_delay=1.0)
    emails = prepare(mrun, 24)
    sink = Sink(Faults(data_delay=0.02, refuse_data={6}))
    server = Server(sink, port).start()
    try:
        result = mrun("newsletter", "send", now=SEND_NOW)
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert sink.counts() == {e: 1 for e in emails}
    [refused] = sink.refused_at
    # Messages already out when the 421 came may finish; after that no connection starts one
    # until the backoff (1 s) is over.
    started = [t - refused for t in sink.mail_times]
    assert not [t for t in started if 0.15 < t < 0.9], started
    assert [t for t in started if t >= 0.9]  # and then the rest went


def test_permanent_and_temporary_failures_across_connections(mrun, port, mail_site):
    connections(mail_site, 4)
    emails = prepare(mrun, 12)
    faults = Faults(
        data_delay=0.01,
        rcpt={emails[2]: ["451 4.7.1 Greylisted"] * 2, emails[5]: ["550 5.1.1 No such user"]},
    )
    sink = Sink(faults)
    server = Server(sink, port).start()
    try:
        result = mrun("newsletter", "send", now=SEND_NOW)
    finally:
        server.stop()
    assert result.exit_code == 1
    assert "11 sent, 1 failed" in result.stdout
    assert sink.counts() == {e: 1 for e in emails if e != emails[5]}
    state = statuses(mail_site)
    assert state[emails[5]] == "failed" and state[emails[2]] == "sent"
