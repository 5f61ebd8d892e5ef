"""PIPELINING (RFC 2920): MAIL, RCPT and DATA in one round trip when the server offers it, with
the same deliveries, refusals and retries as without."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy

import pytest

from .conftest import STOCKHOLM, Run
from .smtp_sink import Faults, Server, Sink

READERS = [f"lasare{n}@example.se" for n in range(6)]
SEND_AT = dt.datetime(2026, 11, 26, 9, 0, tzinfo=STOCKHOLM)


def deliveries(sink: Sink) -> list[tuple[str, str]]:
    """(recipient, message without its per-send parts), sorted: what a reader gets."""
    out = []
    for rcpt, raw in sink.accepted:
        text = raw.decode("utf-8", "replace")
        text = re.sub(r"(?m)^(Message-ID|Date): .*$", "", text)
        text = re.sub(r"=_blogtool_[0-9a-f]+", "BOUNDARY", text)
        out.append((rcpt, text))
    return sorted(out)


def send(site, port: int, sink: Sink, pipelining: bool) -> None:
    if not pipelining:
        config = site / "blogtool.toml"
        config.write_text(config.read_text("utf-8") + "pipelining = false\n", "utf-8")
    run = Run(site)
    for address in READERS:
        assert (
            run(
                "subscribers", "add", address, now=dt.datetime(2026, 11, 1, tzinfo=STOCKHOLM)
            ).exit_code
            == 0
        )
    assert run("newsletter", "build", "--since", "2026-11-20", now=SEND_AT).exit_code == 0
    server = Server(sink, port).start()
    try:
        result = run("newsletter", "send", now=SEND_AT)
    finally:
        server.stop()
    assert result.exit_code in (0, 1), result.stderr


@pytest.fixture
def second_site(tmp_path, monkeypatch):
    import shutil

    from .conftest import REPO, SECRET, mail_config
    from .smtp_sink import free_port

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    root = tmp_path / "andra"
    root.mkdir()
    port = free_port()
    for name in ("posts", "tips", "templates", "media"):
        shutil.copytree(REPO / name, root / name)
    (root / "blogtool.toml").write_text(
        (REPO / "blogtool.toml").read_text("utf-8") + mail_config(port), "utf-8"
    )
    return root, port


def test_pipelining_on_and_off_give_identical_deliveries(mail_site, port, second_site):
    on, off = Sink(pipelining=True), Sink(pipelining=True)
    send(mail_site, port, on, pipelining=True)
    send(second_site[0], second_site[1], off, pipelining=False)
    assert on.pipelined == len(READERS) and off.pipelined == 0
    assert deliveries(on) == deliveries(off)
    assert sorted(r for r, _ in on.accepted) == sorted(READERS)
    message = email.message_from_bytes(on.accepted[0][1], policy=policy.default)
    assert message["Subject"] == "Torsdagstips vecka 48: Hitta ett utegym nära dig"


def test_refusals_and_retries_work_pipelined(mail_site, port):
    faults = Faults(rcpt={"lasare1@example.se": ["550 5.1.1 No such user"],
                          "lasare2@example.se": ["451 4.7.1 Try again later"]})  # fmt: skip
    sink = Sink(faults, pipelining=True)
    send(mail_site, port, sink, pipelining=True)
    assert sink.pipelined >= len(READERS)
    got = sorted(r for r, _ in sink.accepted)
    assert got == sorted(a for a in READERS if a != "lasare1@example.se")  # 451 was retried
    status = Run(mail_site)("subscribers", "show", "lasare1@example.se").stdout
    assert "status: bounced" in status
