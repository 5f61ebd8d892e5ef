"""The studio's live preview on a big site: how long one keystroke's preview takes to come back.

    python bench/preview.py [--posts 5000] [--runs 30]

Generates the benchmark corpus (bench/corpus.py), starts `blogtool studio` on it as a real
process on 127.0.0.1, logs in through the address it prints, opens one post in the editor,
and posts the editor's form to /preview --runs times, its text changed each time (as typing
does), then loads the page each answer names, as the editor's frame does. The preview renders
that one item; the site around it (for a tip's neighbours, links between items) is read once,
so the first preview, which reads it, is reported on its own. Reports the median, the 95th
percentile and the slowest of the rest, and the overview's and the planner's times for
comparison. Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

SECRET = "a-secret-for-the-preview-benchmark-0123456789"


class Session:
    def __init__(self, base: str):
        parts = urlsplit(base)
        self.base, self.host, self.port = base, parts.hostname, parts.port
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        sent = {"Host": f"{self.host}:{self.port}", "Origin": self.base, **(headers or {})}
        if self.cookie:
            sent["Cookie"] = self.cookie
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        took = time.perf_counter() - started
        connection.close()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data, took


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=30)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="blogtool-preview-") as tmp:
        site = Path(tmp) / "site"
        paths = corpus.generate(site, ns.posts)
        print(f"site: {ns.posts} items in {site}")
        env = {
            **os.environ,
            "BLOGTOOL_NOW": corpus.NOW.isoformat(),
            "BLOGTOOL_SECRET": SECRET,
            "PYTHONUNBUFFERED": "1",
        }
        # The parse cache a site that has been built has (the studio reads it as build does).
        subprocess.run(
            [sys.executable, "-m", "blogtool", "--site", str(site), "list"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        command = [sys.executable, "-m", "blogtool", "--site", str(site), "studio", "--port", "0"]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            return measure(process, site, paths, ns.runs)
        finally:
            process.terminate()
            process.wait(30)


def measure(process: subprocess.Popen, site: Path, paths: list[Path], runs: int) -> int:
    assert process.stdout is not None and process.stderr is not None
    login = process.stdout.readline().strip()
    started = time.perf_counter()
    for line in process.stderr:  # the studio reads the site and counts its LIX as it starts
        if " ready: " in line:
            print(f"studio ready after {time.perf_counter() - started:.1f} s: {line.strip()}")
            break
    threading.Thread(target=process.stderr.read, daemon=True).start()  # (its access log)
    base = login.split("/login")[0]
    session = Session(base)
    status, _data, _took = session.request("GET", login[len(base) :])
    assert status == 303, status
    rel = paths[len(paths) // 2].relative_to(site).as_posix()
    status, page, took_editor = session.request("GET", f"/edit/{rel}")
    assert status == 200, status
    text = page.decode("utf-8")
    csrf = re.search(r'name="csrf" value="([^"]+)"', text).group(1)
    body = (site / rel).read_text("utf-8").split("---\n", 2)[2]
    times: list[float] = []
    pages: list[float] = []
    for n in range(runs + 1):
        form = {
            "csrf": csrf,
            "rel": rel,
            "kind": "post",
            "title": f"En rubrik som skrivs om {n}",
            "body": body + f"\nEtt stycke till, skrivet nu ({n}).\n",
        }
        status, data, took = session.request(
            "POST",
            "/preview",
            urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        assert status == 200, (status, data[:300])
        answer = json.loads(data)
        status, shown, took_page = session.request("GET", answer["page"])
        assert status == 200 and f"skrivs om {n}".encode() in shown
        times.append(took)
        pages.append(took_page)
    first, rest = times[0], sorted(times[1:])
    p95 = rest[min(len(rest) - 1, int(len(rest) * 0.95))]
    print(f"editor page:            {ms(took_editor)}")
    print(f"first preview (reads the site): {ms(first)}")
    print(
        f"preview, {len(rest)} keystrokes: median {ms(statistics.median(rest))}, "
        f"p95 {ms(p95)}, slowest {ms(rest[-1])}"
    )
    print(f"the page it names:      median {ms(statistics.median(pages[1:]))}")
    for path in ("/", "/plan"):
        status, _data, took = session.request("GET", path)
        assert status == 200
        print(f"{path:<24}{ms(took)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
