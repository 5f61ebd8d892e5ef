"""Sending through a relay across a network: a local SMTP server that offers PIPELINING, behind a
proxy that delays every packet by half the round-trip time each way, as a municipality's relay
(Exchange Online, a mail provider) is reached.

    python bench/relay.py [--subscribers 300] [--rtt-ms 50] [--runs 1]

Prints messages per second for `blogtool newsletter send` with PIPELINING off and on, next to
a plain smtplib loop over one connection (four round trips a message). One connection each:
several connections at once are not built yet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import smtplib
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import send  # noqa: E402  (the send benchmark's site and sink helpers)


class DelayingProxy:
    """127.0.0.1:port -> target, every chunk held back ``delay`` seconds in each direction."""

    def __init__(self, target: int, delay: float):
        self.target, self.delay = target, delay
        self.port = send.free_port()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=1)
    ns = parser.parse_args()
    sink = send.SinkProcess("pipelining")
    proxy = DelayingProxy(sink.port, ns.rtt_ms / 2000)
    n = ns.subscribers
    print(
        f"relay: aiosmtpd with PIPELINING behind a {ns.rtt_ms:g} ms round-trip proxy; {n} messages"
    )
    try:
        for label, pipelining in (
            ("blogtool, PIPELINING off", False),
            ("blogtool, PIPELINING on", True),
        ):
            times = []
            for _ in range(ns.runs):
                site = send.make_site(n, proxy.port)
                if not pipelining:
                    with open(site / "blogtool.toml", "a", encoding="utf-8") as fh:
                        fh.write("pipelining = false\n")
                send.blogtool(site, "newsletter", "build")
                sink.ask("reset")
                started = time.perf_counter()
                result = send.blogtool(site, "newsletter", "send")
                times.append(time.perf_counter() - started)
                got = int(sink.ask("count"))
                assert got == n, f"the relay received {got} of {n}: {result.stderr[-500:]}"
            t = statistics.median(times)
            print(f"  {label:<28} {n / t:>7.1f} msg/s  ({t:.1f} s)")
        messages = send.prebuilt_messages(site, n)
        sink.ask("reset")
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", proxy.port) as smtp:
            for rcpt, data in messages:
                smtp.sendmail("nyhetsbrev@vaxjo.example", [rcpt], data)
        t = time.perf_counter() - started
        print(f"  {'smtplib loop, one connection':<28} {n / t:>7.1f} msg/s  ({t:.1f} s)")
    finally:
        sink.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
