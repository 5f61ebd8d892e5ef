"""Load on the reader service: many sign-ups at the same moment against `blogtool web`
(waitress) on 127.0.0.1, as a real separate process on a copy of the sample site.

    python bench/signup.py [--signups 200] [--same 50]

Phase 1 fires --signups sign-ups of different addresses at once (one thread each, released
together) and reports the pending rows and queued confirmations in the state database, the
errors, the requests per second and the median and p95 latency. Phase 2 fires --same sign-ups
of one address at once and reports its rows and mails, which must be one and at most
[web] mails_per_address. Exits 1 if a count is not what it must be.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
SECRET = "a-secret-for-the-sign-up-benchmark-0123456789"
WEB = """
[web]
base_url = "https://blogg.vaxjo.example/nyhetsbrev/"
requests_per_ip = 100000
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_site(root: Path) -> None:
    for name in ("posts", "tips", "templates", "media"):
        shutil.copytree(REPO / name, root / name)
    config = (REPO / "blogtool.toml").read_text("utf-8") + WEB
    (root / "blogtool.toml").write_text(config, "utf-8")


def post(port: int, address: str) -> tuple[int, float]:
    body = urlencode({"epost": address, "lista": "torsdagstips"})
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/nyhetsbrev/prenumerera",
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://127.0.0.1:{port}",
            },
        )
        status = connection.getresponse().status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, time.perf_counter() - started


def fire(port: int, addresses: list[str]) -> tuple[list[int], list[float], float]:
    """Every address in its own thread, all released at once."""
    gate = threading.Barrier(len(addresses) + 1)
    results: list[tuple[int, float]] = [(0, 0.0)] * len(addresses)

    def one(i: int, address: str) -> None:
        gate.wait()
        results[i] = post(port, address)

    threads = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate(addresses)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return [s for s, _ in results], [d for _, d in results], elapsed


def wait_until_up(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120  # (a busy machine starts it slowly)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"blogtool web exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/nyhetsbrev/halsa")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("blogtool web did not start")


def sent_all(site: Path, bound: float = 120.0) -> None:
    """Wait until the service has no confirmation left to send (or ``bound`` seconds)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(site / ".blogtool/state.db")) as db:
            waiting = db.execute(
                "SELECT COUNT(*) FROM outgoing WHERE status IN ('queued', 'sending')"
            ).fetchone()[0]
        if not waiting:
            return
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=200)
    parser.add_argument("--same", type=int, default=50)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="blogtool-bench-signup-") as tmp:
        site = Path(tmp)
        make_site(site)
        port = free_port()
        env = {**os.environ, "BLOGTOOL_SECRET": SECRET}
        process = subprocess.Popen(
            [sys.executable, "-m", "blogtool", "--site", str(site), "web", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_until_up(port, process)
            addresses = [f"lasare{n}@example.se" for n in range(args.signups)]
            statuses, latencies, elapsed = fire(port, addresses)
            same_statuses, _, _ = fire(port, ["samma.person@example.se"] * args.same)
            sent_all(site)  # the sender thread caught up (the counts below include queued)
        finally:
            process.terminate()
            process.wait(timeout=30)
        db = sqlite3.connect(site / ".blogtool/state.db")
        pending = db.execute("SELECT COUNT(*) FROM signups WHERE confirmed_at IS NULL").fetchone()[
            0
        ]
        mails = db.execute("SELECT COUNT(*) FROM outgoing WHERE purpose = 'confirm'").fetchone()[0]
        same_rows = db.execute(
            "SELECT COUNT(*) FROM signups WHERE email_key = 'samma.person@example.se'"
        ).fetchone()[0]
        same_mails = db.execute(
            "SELECT COUNT(*) FROM outgoing WHERE email_key = 'samma.person@example.se'"
        ).fetchone()[0]
        outbox = len(list((site / "outbox").glob("out-*.eml")))
        db.close()
    errors = sum(1 for s in statuses if s != 200)
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"{args.signups} concurrent sign-ups of different addresses against waitress:")
    print(f"  pending rows:            {pending - same_rows}")
    print(f"  confirmations queued:    {mails - same_mails} (outbox now holds {outbox} in all)")
    print(f"  errors:                  {errors}")
    print(f"  requests per second:     {args.signups / elapsed:.0f}")
    median = statistics.median(latencies) * 1000
    print(f"  latency median / p95:    {median:.0f} ms / {p95 * 1000:.0f} ms")
    print(f"{args.same} concurrent sign-ups of one address:")
    print(f"  rows:                    {same_rows}")
    print(f"  mails:                   {same_mails} (at most 3 allowed)")
    print(f"  errors:                  {sum(1 for s in same_statuses if s != 200)}")
    ok = (
        pending - same_rows == args.signups
        and mails - same_mails == args.signups
        and errors == 0
        and same_rows == 1
        and 1 <= same_mails <= 3
        and all(s == 200 for s in same_statuses)
    )
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
