"""The preview server, as a real process answering real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from .conftest import NOW


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def test_serve_previews_drafts_and_rebuilds_on_change(sample_site):
    env = {**os.environ, "BLOGTOOL_NOW": NOW.isoformat(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "blogtool", "--site", str(sample_site), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        base = None
        deadline = time.monotonic() + 30
        while base is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"Serving the preview on (http://127\.0\.0\.1:\d+)/", line)
            if m:
                base = m.group(1)
        assert base, "serve did not start"

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
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "Hej igen, välkommen!" in fetch(base + "/valkommen-till-kommunbloggen/")[1]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the preview was not rebuilt after the post changed")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
