"""Does the "my data" form tell who subscribes? Its answer time for a subscriber's address and
for a stranger's, against `blogtool web` (waitress) on 127.0.0.1 as a separate process.

    python bench/mydata.py [--requests 200]

Sends --requests posts for each kind of address, in random turns, one at a time and each once the
service has sent what it had queued (so only the answer is timed), and prints the
median and p95 answer time of each and the difference of the medians. The page answers before
anyone is looked up (the request is queued; the sender resolves it), so the two should not
differ by more than the noise. Exits 1 if any answer was not 200 or the subscriber's mails
were not sent.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from signup import SECRET, free_port, make_site, sent_all, wait_until_up


def ask(port: int, address: str) -> tuple[int, float]:
    body = urlencode({"epost": address})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"http://127.0.0.1:{port}",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("POST", "/nyhetsbrev/mina-uppgifter", body, headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def in_process(site: Path, rounds: int) -> tuple[list[float], list[float]]:
    """The page's own work: the service called as WSGI in this process, no sender, no network."""
    import datetime as dt
    import io

    from blogtool.config import load_config
    from blogtool.web.app import make_app

    app = make_app(load_config(site), SECRET.encode(), lambda: dt.datetime.now(dt.UTC))

    def call(address: str) -> float:
        body = urlencode({"epost": address}).encode()
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/nyhetsbrev/mina-uppgifter",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "HTTP_ORIGIN": "https://blogg.vaxjo.example", "REMOTE_ADDR": "127.0.0.1",
        }  # fmt: skip
        started = time.perf_counter()
        app(environ, lambda status, headers: None)
        return time.perf_counter() - started

    member, stranger = [], []
    turns = random.Random(2)
    for n in range(rounds):
        pair = [("anna@example.se", member), (f"inne{n}@example.se", stranger)]
        turns.shuffle(pair)
        for address, times in pair:
            times.append(call(address))
    return member, stranger


def summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    return f"median {statistics.median(times) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="blogtool-bench-mydata-") as tmp:
        site = Path(tmp)
        make_site(site)
        env = {**os.environ, "BLOGTOOL_SECRET": SECRET}
        blogtool = [sys.executable, "-m", "blogtool", "--site", str(site)]
        subprocess.run([*blogtool, "subscribers", "add", "anna@example.se"], env=env,
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        config = site / "blogtool.toml"  # (the quota would stop the mails, not the answers)
        config.write_text(config.read_text("utf-8").replace(
            "requests_per_ip = 100000", "requests_per_ip = 100000\nmails_per_address = 100000"
        ), "utf-8")  # fmt: skip
        port = free_port()
        process = subprocess.Popen(
            [*blogtool, "web", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        member: list[float] = []
        stranger: list[float] = []
        statuses: list[int] = []
        try:
            wait_until_up(port, process)
            turns = random.Random(1)
            for n in range(args.requests):
                pair = [("anna@example.se", member), (f"okand{n}@example.se", stranger)]
                turns.shuffle(pair)  # neither always follows the other's mail being made
                for address, times in pair:
                    sent_all(site)  # the sender is idle: only the answer is timed
                    status, took = ask(port, address)
                    statuses.append(status)
                    times.append(took)
            sent_all(site)
        finally:
            process.terminate()
            _, log = process.communicate(timeout=30)
        mails = len(list((site / "outbox").glob("out-*.eml")))
        trouble = [line for line in log.splitlines() if "mail:" in line and "sent" not in line]
        inside = in_process(site, args.requests)
    for title, (m, s) in (
        ("over HTTP, with the sender running", (member, stranger)),
        ("the page's own work (WSGI in-process, no sender)", inside),
    ):
        print(f"'my data' form, {args.requests} posts each, {title}:")
        print(f"  subscriber's address:  {summary(m)}")
        print(f"  stranger's address:    {summary(s)}")
        difference = (statistics.median(m) - statistics.median(s)) * 1000
        print(f"  difference of medians: {difference:+.2f} ms")
    print(f"mails sent: {mails} (to the subscriber only)")
    for line in trouble:  # the service's own errors, for whoever reads this
        print(f"service: {line}")
    ok = all(s == 200 for s in statuses) and mails == args.requests
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
