"""Processes a test starts, and how a test waits for something to happen.

A test waits on an event (a line of output, a message count, a file), never on a fixed sleep:
``wait_for`` looks at the condition every few milliseconds and returns as soon as it holds, so
its generous bound costs nothing on a quiet machine and still holds on a busy one.

A process a test starts is ``Started``: a context manager that stops it (and every process it
started: the whole process group) when the block ends, whether the test passed, failed or
timed out. Tests start no process any other way (``tests/test_architecture.py`` checks).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

#: How long a test waits for something before it fails: long enough for a machine that is busy
#: with other work, and only ever spent when something is wrong.
WAIT = 120.0
#: How long a process has to stop after it was asked to, before it is killed.
STOP = 20.0

T = TypeVar("T")

# A test run started in the background (nohup, '&' in a script, a CI runner) ignores SIGINT,
# and the processes it starts would inherit that: Ctrl-C would not stop a preview server. A
# handler, unlike "ignore", is not inherited: they start with SIGINT as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def wait_for(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float = WAIT,
    process: Started | None = None,
    every: float = 0.01,
) -> T:
    """Return ``condition()`` as soon as it is true. Fails after ``timeout`` seconds, or at once
    when ``process`` has ended (it will not make the condition come true any more)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"{what}: the process ended first with {process.returncode}\n{process.stderr()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port`` (for ``wait_for``)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def blogtool(*args: str) -> list[str]:
    """The command line of ``blogtool ARGS`` run by this test's Python."""
    return [sys.executable, "-m", "blogtool", *args]


class Started:
    """A child process in a process group of its own, its output read as it comes.

    ``with Started([...]) as p:`` stops it when the block ends: ``stop_signal`` (SIGTERM unless
    told), ``STOP`` seconds to end, then SIGKILL to the whole group. Both output streams are
    read by threads into lists, so a chatty process never blocks on a full pipe."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.args = list(args)
        self.stop_signal = stop_signal
        self._lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            self.args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self._lines[name].append(line)
                self._changed.notify_all()
        stream.close()

    # --- what it said ------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def poll(self) -> int | None:
        return self.process.poll()

    def stdout(self) -> str:
        with self._changed:
            return "".join(self._lines["stdout"])

    def stderr(self) -> str:
        with self._changed:
            return "".join(self._lines["stderr"])

    def wait_for_line(
        self, pattern: str, *, stream: str = "stderr", timeout: float = WAIT
    ) -> re.Match[str]:
        """The first line of ``stream`` that ``pattern`` matches, waiting for it to be printed.
        Fails when the process ends without printing it, or after ``timeout`` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                lines = self._lines[stream]
                for line in lines[seen:]:
                    found = regex.search(line)
                    if found:
                        return found
                seen = len(lines)
                ended = self.process.poll() is not None and not any(
                    r.is_alive() for r in self._readers
                )
                left = deadline - time.monotonic()
                if ended or left <= 0:
                    why = "it ended" if ended else f"not within {timeout:.0f} s"
                    raise AssertionError(
                        f"{' '.join(self.args[2:])}: no line matching {pattern!r} ({why})\n"
                        f"{''.join(self._lines['stderr'])}"
                    )
                self._changed.wait(min(left, 0.1))

    # --- its end -----------------------------------------------------------------------------

    def wait(self, timeout: float = WAIT) -> int:
        """Wait for it to end by itself (the test fails, and it is killed, after ``timeout``),
        and for all of its output."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{' '.join(self.args[2:])} did not end within {timeout:.0f} s\n{self.stderr()}"
            ) from None
        for reader in self._readers:
            reader.join(STOP)
        return code

    def ended_within(self, seconds: float) -> bool:
        """Whether it ends by itself within ``seconds`` (a fault injected at a random moment
        waits this way: not past the process's end)."""
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process itself (as a terminal's Ctrl-C or a kill by pid would)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> int:
        """SIGKILL the whole group at once (a power cut, the OOM killer, systemd's last word),
        and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()

    def stop(self) -> int:
        """Ask it to stop (``stop_signal``), then kill the group if it has not within ``STOP``
        seconds. Whatever it had started goes with it."""
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP)
        code = self.kill()  # also whatever it started and left behind
        for reader in self._readers:
            reader.join(STOP)
        return code

    def __enter__(self) -> Started:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving_waitress(server: Any, socket_map: dict[int, Any]) -> Iterator[Any]:
    """A waitress server made with ``socket_map`` (``make_server(..., socket_map=...)``) run
    in a thread, and stopped in that thread.

    waitress's loop is not thread-safe: ``close()`` called from another thread closes sockets
    the loop may still be polling, and a number the system hands out again (to a file this
    process opens next) is then read or written by the loop. So a pipe is added to the loop's
    map; a byte on it raises SystemExit there, on which ``run()`` closes the server itself."""
    from waitress import wasyncore

    class Stop(wasyncore.file_dispatcher):  # type: ignore[misc]
        def writable(self) -> bool:
            return False

        def handle_read(self) -> None:
            raise SystemExit  # run() catches it and closes the server, in its own thread

    read_end, write_end = os.pipe()
    Stop(read_end, map=socket_map)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        os.write(write_end, b"x")
        thread.join(WAIT)
        os.close(read_end)
        os.close(write_end)
        assert not thread.is_alive(), "the server did not stop"
