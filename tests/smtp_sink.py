"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts and injects faults."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Faults:
    #: address -> replies to give at RCPT, one per attempt, before accepting ("451 ...", "550 ...")
    rcpt: dict[str, list[str]] = field(default_factory=dict)
    #: every k-th DATA is answered 421 and the connection dropped (the message is not accepted)
    drop_every: int = 0
    #: seconds to wait before answering DATA (to let a test kill the sender mid-run)
    data_delay: float = 0.0
    #: after this many accepted messages, shut down: every command on every connection, new or
    #: open, is answered 421 and the connection closed (until the server is started again)
    stop_after: int = 0
    #: every k-th DATA is accepted, then the connection drops before the reply (a "ghost")
    ghost_every: int = 0
    #: these DATA commands (1-based, counted over all connections) get 421 and a hang-up
    refuse_data: set[int] = field(default_factory=set)
    #: while this is clear, DATA waits for it (a relay that holds a send for as long as a test
    #: needs it under way)
    hold: threading.Event | None = None


class Sink:
    def __init__(self, faults: Faults | None = None, pipelining: bool = False):
        self.faults = faults or Faults()
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920) in the EHLO reply
        self.pipelined = 0  # MAIL commands that arrived with more commands behind them
        self.accepted: list[tuple[str, bytes]] = []
        self.ghosts: list[str] = []  # recipients whose message was taken but never confirmed
        self.data_commands = 0
        self.connections = 0
        self.mail_times: list[float] = []  # time.monotonic() of every MAIL command
        self.refused_at: list[float] = []  # ... of every 421 given for refuse_data
        self.in_data = 0  # DATA commands being worked on now, over all connections
        self.most_in_data = 0
        self.lock = threading.Lock()
        self.dead = False  # after stop_after: hang up on everyone, as a stopping server does

    def _hang_up(self, server) -> str:
        asyncio.get_running_loop().call_later(0.005, server.transport.close)
        return "421 4.3.2 Server shutting down"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.dead:
            return [self._hang_up(server)]
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.dead:
            return self._hang_up(server)
        envelope.mail_from = address
        with self.lock:
            self.mail_times.append(time.monotonic())
        envelope.mail_options.extend(mail_options)
        waiting = getattr(getattr(server, "_reader", None), "_buffer", b"")
        if waiting:  # RCPT (and DATA) came in the same write: the client pipelined
            with self.lock:
                self.pipelined += 1
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.dead:
            return self._hang_up(server)
        replies = self.faults.rcpt.get(address)
        if replies:
            reply = replies[0]
            if reply.startswith("4"):
                replies.pop(0)  # a temporary failure is used up; a permanent one stays
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.dead:
            return self._hang_up(server)  # the message is not taken
        with self.lock:
            self.in_data += 1
            self.most_in_data = max(self.most_in_data, self.in_data)
        if self.faults.data_delay:
            await asyncio.sleep(self.faults.data_delay)
        while self.faults.hold is not None and not self.faults.hold.is_set():
            await asyncio.sleep(0.005)
        with self.lock:
            self.in_data -= 1
            self.data_commands += 1
            if self.data_commands in self.faults.refuse_data:
                self.refused_at.append(time.monotonic())
                asyncio.get_running_loop().call_later(0.01, server.transport.close)
                return "421 4.7.0 Too many messages, slow down"
            k = self.faults.drop_every
            if k and self.data_commands % k == 0:
                asyncio.get_running_loop().call_later(0.01, server.transport.close)
                return "421 4.3.2 Service shutting down, try again"
            for rcpt in envelope.rcpt_tos:
                self.accepted.append((rcpt, envelope.original_content))
            g = self.faults.ghost_every
            if g and self.data_commands % g == 0:
                self.ghosts.extend(envelope.rcpt_tos)
                server.transport.abort()  # the message is taken; its 250 never leaves
                return "250 2.0.0 OK queued"
            stop = self.faults.stop_after and len(self.accepted) >= self.faults.stop_after
        if stop:
            self.dead = True
            asyncio.get_running_loop().call_later(0.005, server.transport.close)
        return "250 2.0.0 OK queued"

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.accepted)


class Server:
    """aiosmtpd's Controller on a fixed loopback port, restartable on the same port."""

    def __init__(self, sink: Sink, port: int | None = None):
        self.sink = sink
        self.port = port or free_port()
        self.controller: Controller | None = None

    def start(self) -> Server:
        self.sink.dead = False
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, ready_timeout=60
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        controller, self.controller = self.controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Server:
        """``with Server(sink, port):`` serves for the block and stops whatever happens."""
        return self if self.controller is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def delivered_once_but_uncertain(
    sink: Sink, states: dict[str, str], addresses: list[str], connections: int
) -> list[str]:
    """After a killed send and a re-run: everyone got exactly one message and is 'sent', except
    the rows a kill left in 'sending' (at most one per connection), which got at most one each.
    Returns those rows' addresses."""
    uncertain = [a for a, s in states.items() if s == "sending"]
    assert len(uncertain) <= connections, uncertain
    counts = sink.counts()
    for address in addresses:
        if address in uncertain:
            assert counts[address] <= 1, address
        else:
            assert counts[address] == 1 and states[address] == "sent", (address, counts[address])
    return uncertain
