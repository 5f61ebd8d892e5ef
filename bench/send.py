"""Send benchmark: one issue to N subscribers through a real SMTP server, over 1, 4 or 8
connections at once, against a bare smtplib loop over one connection, in the same run.

    python bench/send.py --subscribers 10000 --rtt-ms 50 --connections 1,4,8 [--runs 1]
    python bench/send.py --subscribers 10000 --sizes 1000,5000     # loopback, memory curve

The server is aiosmtpd on 127.0.0.1 in its own process; it offers PIPELINING, as relays do, and
counts every message. With --rtt-ms, the bench puts a proxy in front of it that holds every
chunk back half the round-trip time in each direction, as a relay across a network is reached
(Exchange Online, a mail provider). blogtool runs as `blogtool newsletter send`, a fresh process
with the durable queue in SQLite, as cron would run it: its wall time includes start-up,
freezing the recipients and marking every delivery twice. Peak memory is the largest resident
size of that process, to show that it stays flat as N grows. Medians of --runs runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
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


class DelayingProxy:
    """127.0.0.1:port -> target, every chunk delivered ``delay`` seconds after it arrived, in
    each direction (chunks do not wait for each other: a delay, not a narrow pipe)."""

    def __init__(self, target: int, delay: float):
        self.target, self.delay = target, delay
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await chunks.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(65536):
                chunks.put_nowait((self.loop.time() + self.delay, data))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            chunks.put_nowait((0.0, b""))
            with contextlib.suppress(ConnectionError):
                await sender
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


def make_site(n: int, port: int, connections: int = 4) -> Path:
    site = WORK / f"site-{n}"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for name in ("posts", "tips", "templates", "media"):
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
connections = {connections}
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
    from blogtool.newsletter.compose import MessageFactory, Recipient
    from blogtool.newsletter.issues import get_issue
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
    parser.add_argument("--sizes", default="", help="smaller N too, for the memory curve")
    parser.add_argument("--connections", default="1,4,8", help="connection counts to compare")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="round trip to the relay")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--baseline-sample", type=int, default=1000,
        help="the smtplib loop sends at most this many (its rate is flat; 10,000 at four round "
        "trips a message would take half an hour behind a 50 ms link)",
    )  # fmt: skip
    ns = parser.parse_args()
    sink = SinkProcess("pipelining")
    proxy = DelayingProxy(sink.port, ns.rtt_ms / 2000) if ns.rtt_ms else None
    port = proxy.port if proxy else sink.port
    try:
        sizes = sorted({int(x) for x in ns.sizes.split(",") if x} | {ns.subscribers})
        counts = [int(x) for x in ns.connections.split(",")]
        link = f"behind a {ns.rtt_ms:g} ms round-trip proxy" if proxy else "on loopback"
        print(f"server: aiosmtpd with PIPELINING {link}; {os.cpu_count()} cores")
        print(f"{'N':>7} {'sender':<26} {'msg/s':>7} {'seconds':>8} {'peak MB':>8}   runs (s)")
        for n in sizes:
            for c in counts:
                times, rss = [], []
                for _ in range(ns.runs):
                    site = make_site(n, port, c)
                    blogtool(site, "newsletter", "build")
                    sink.ask("reset")
                    seconds, peak = timed_send(site)
                    got = int(sink.ask("count"))
                    assert got == n, f"the server received {got} of {n}"
                    times.append(seconds)
                    rss.append(peak)
                row(n, f"blogtool, {c} connection{'s' if c > 1 else ''}", times, max(rss))
            messages = prebuilt_messages(site, min(n, ns.baseline_sample))
            times = []
            for _ in range(ns.runs):
                sink.ask("reset")
                times.append(baseline(port, messages))
                assert int(sink.ask("count")) == len(messages)
            row(len(messages), "smtplib loop, 1 connection", times, None)
            del messages
    finally:
        sink.close()


def row(n: int, label: str, times: list[float], peak_kib: int | None) -> None:
    t = statistics.median(times)
    peak = f"{peak_kib / 1024:>8.0f}" if peak_kib else f"{'':>8}"
    runs = " ".join(f"{x:.2f}" for x in times)
    print(f"{n:>7} {label:<26} {n / t:>7.1f} {t:>8.1f} {peak}   {runs}", flush=True)


if __name__ == "__main__":
    main()
