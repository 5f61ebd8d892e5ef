"""The preview server, as a real process answering real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import NOW
from .processes import Started, blogtool, wait_for


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def preview(site) -> Started:
    env = {**os.environ, "BLOGTOOL_NOW": NOW.isoformat(), "PYTHONUNBUFFERED": "1"}
    command = blogtool("--site", str(site), "serve", "--port", "0")
    return Started(command, env=env, stop_signal=signal.SIGINT)  # as Ctrl-C stops it


def test_serve_previews_drafts_and_rebuilds_on_change(sample_site):
    with preview(sample_site) as server:
        base = server.wait_for_line(r"Serving the preview on (http://127\.0\.0\.1:\d+)/").group(1)

        status, home = fetch(base + "/")
        assert status == 200 and "Förhandsvisning" in home
        status, draft = fetch(base + "/budgeten-for-2027-vad-betyder-den-for-dig/")
        assert status == 200 and "Utkast – inte publicerat" in draft
        assert fetch(base + "/finns-inte/")[0] == 404
        assert not (sample_site / "public").exists()  # the preview never touches public/

        post = sample_site / "posts/2026-09-10-valkommen-till-kommunbloggen.md"
        post.write_text(
            post.read_text("utf-8").replace("Hej och välkommen!", "Hej igen, välkommen!"), "utf-8"
        )
        wait_for(
            lambda: "Hej igen, välkommen!" in fetch(base + "/valkommen-till-kommunbloggen/")[1],
            "the preview rebuilt after the post changed",
            process=server,
        )
    assert server.returncode == 0, server.stderr()  # Ctrl-C ends it cleanly
    assert "Traceback" not in server.stderr()


def test_a_preview_server_is_stopped_when_its_test_fails_or_times_out(sample_site):
    """A test that fails while the preview runs (here: it waits in vain for a line) still
    stops the server and everything it started: its port answers no more."""
    with pytest.raises(AssertionError, match="no line matching"), preview(sample_site) as server:
        base = server.wait_for_line(r"Serving the preview on (http://127\.0\.0\.1:\d+)/").group(1)
        assert fetch(base + "/")[0] == 200
        server.wait_for_line("a line the preview never prints", timeout=0.5)
    assert server.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, 0)  # no process of its group is left
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/", timeout=5)


def test_serve_listens_on_the_host_it_is_given(sample_site):
    """--host puts the preview where another device can reach it (a test stays on this
    machine: 127.0.0.2 is another loopback address, so no warning about the network)."""
    env = {**os.environ, "BLOGTOOL_NOW": NOW.isoformat(), "PYTHONUNBUFFERED": "1"}
    command = blogtool("--site", str(sample_site), "serve", "--port", "0", "--host", "127.0.0.2")
    with Started(command, env=env, stop_signal=signal.SIGINT) as server:
        base = server.wait_for_line(r"Serving the preview on (http://127\.0\.0\.2:\d+)/").group(1)
        status, home = fetch(base + "/")
        assert status == 200 and "Förhandsvisning" in home
        # Bound to that address only, not to every one of the machine's.
        listening = {line.split()[1] for line in _tcp_listeners()}
        port = int(base.rsplit(":", 1)[1])
        assert f"0200007F:{port:04X}" in listening  # 127.0.0.2, as /proc/net/tcp writes it
        assert f"00000000:{port:04X}" not in listening
    assert "anyone on this network" not in server.stderr()


def _tcp_listeners() -> list[str]:
    """/proc/net/tcp's lines for sockets in LISTEN state (st 0A)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return [line for line in lines if line.split()[3] == "0A"]
