"""Send benchmark: one issue to N subscribers through a local SMTP sink, against a bare smtplib
loop sending the same N prebuilt messages over one connection, in the same run.

    python bench/send.py --subscribers 10000 [--sizes 1000,5000] [--runs 3]

The sink is aiosmtpd on 127.0.0.1 in its own process; it accepts and counts every message.
blogtool runs as `blogtool newsletter send`, a fresh process with the durable queue in SQLite,
as cron would run it; its wall time includes start-up, freezing the recipients and marking every
delivery twice. Peak memory is the largest resident size of that process, for each N, to show
whether it stays flat as N grows. Medians of --runs runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work" / "send"
NOW = "2026-12-03T08:05:00+01:00"
SECRET = "benchmark-secret-that-is-long-enough"

SINK = r"""
import asyncio, sys, signal
from aiosmtpd.controller import Controller
class Count:
    n = 0
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if "pipelining" in sys.argv[2:]:  # offer PIPELINING (RFC 2920), as relays do
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses
    async def handle_DATA(self, server, session, envelope):
        Count.n += len(envelope.rcpt_tos)
        return "250 OK"
c = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "count":
        print(Count.n, flush=True)
    elif line.strip() == "reset":
        Count.n = 0
        print("ok", flush=True)
c.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SinkProcess:
    def __init__(self, *options: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SINK, str(self.port), *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout.readline().strip() == "ready"

    def ask(self, what: str) -> str:
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def make_site(n: int, port: int) -> Path:
    site = WORK / f"site-{n}"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for name in ("posts", "tips", "templates"):
        shutil.copytree(REPO / name, site / name)
    config = (REPO / "blogtool.toml").read_text("utf-8")
    config += f"""
[newsletter]
from = "Växjö kommun <nyhetsbrev@vaxjo.example>"
unsubscribe_url = "https://blogg.vaxjo.example/avregistrera"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
"""
    (site / "blogtool.toml").write_text(config, "utf-8")
    sys.path.insert(0, str(REPO))
    from blogtool.store import connect

    db = connect(site / ".blogtool" / "state.db")
    stamp = "2026-12-01T00:00:00+00:00"
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO subscribers (email, email_key, name, consent_at, consent_source, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 'bench', ?, ?)",
        (
            (
                f"person{i:06d}@example.se",
                f"person{i:06d}@example.se",
                f"Person {i}",
                stamp,
                stamp,
                stamp,
            )
            for i in range(n)
        ),
    )
    db.execute("COMMIT")
    db.close()
    return site


def blogtool(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("blogtool", path=str(Path(sys.executable).parent)) or "blogtool"
    env = {**os.environ, "BLOGTOOL_NOW": NOW, "BLOGTOOL_SECRET": SECRET}
    return subprocess.run([exe, "--site", str(site), *args], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip


def timed_send(site: Path) -> tuple[float, int]:
    exe = shutil.which("blogtool", path=str(Path(sys.executable).parent)) or "blogtool"
    env = {**os.environ, "BLOGTOOL_NOW": NOW, "BLOGTOOL_SECRET": SECRET}
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, exe, "--site", str(site), "newsletter", "send"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    seconds, rss = out.stdout.split()
    return float(seconds), int(rss)


def prebuilt_messages(site: Path, n: int) -> list[tuple[str, bytes]]:
    from blogtool.config import load_config
    from blogtool.mail.compose import MessageFactory, Recipient
    from blogtool.mail.issues import get_issue
    from blogtool.store import connect

    config = load_config(site)
    db = connect(config.state_path)
    issue = get_issue(db, 1)
    factory = MessageFactory(config, issue, SECRET.encode())
    now = dt.datetime.fromisoformat(NOW)
    out = []
    for i in range(n):
        r = Recipient(i + 1, i + 1, f"person{i:06d}@example.se", f"Person {i}")
        out.append((r.email, factory.render(r, factory.message_id(r), now)))
    db.close()
    return out


def baseline(port: int, messages: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for rcpt, data in messages:
            smtp.sendmail("nyhetsbrev@vaxjo.example", [rcpt], data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description="newsletter send benchmark")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--sizes", default="1000,5000", help="smaller N for the memory curve")
    parser.add_argument("--runs", type=int, default=3)
    ns = parser.parse_args()
    sink = SinkProcess()
    try:
        sizes = sorted({int(x) for x in ns.sizes.split(",") if x} | {ns.subscribers})
        print(f"sink: aiosmtpd on 127.0.0.1:{sink.port} (own process); {os.cpu_count()} cores")
        print(
            f"{'N':>7} {'blogtool msg/s':>15} {'smtplib msg/s':>14} {'ratio':>6} "
            f"{'peak MB':>8}   runs (s)"
        )
        for n in sizes:
            ours, base, rss = [], [], []
            for _ in range(ns.runs):
                site = make_site(n, sink.port)
                blogtool(site, "newsletter", "build")
                sink.ask("reset")
                seconds, peak = timed_send(site)
                got = int(sink.ask("count"))
                assert got == n, f"the sink received {got} of {n}"
                ours.append(seconds)
                rss.append(peak)
                messages = prebuilt_messages(site, n)
                sink.ask("reset")
                base.append(baseline(sink.port, messages))
                assert int(sink.ask("count")) == n
                del messages
            o, b = statistics.median(ours), statistics.median(base)
            print(
                f"{n:>7} {n / o:>15.0f} {n / b:>14.0f} {b / o:>6.2f} {max(rss) / 1024:>8.0f}   "
                f"blogtool {' '.join(f'{x:.2f}' for x in ours)} | "
                f"smtplib {' '.join(f'{x:.2f}' for x in base)}"
            )
    finally:
        sink.close()


if __name__ == "__main__":
    main()
