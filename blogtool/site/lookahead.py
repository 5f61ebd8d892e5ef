"""Looking at the output on the other core while the site is planned.

A rebuild must know, for each page of the last build, whether it is still a file in the live
release, and whether the spare release it is about to reuse holds the very same file (``look``).
That is two lstat calls a page: for 5,000 posts, a tenth of a one-change build, spent waiting on
the file system. For a big site a child process makes them while the parent builds the view and
the plan (``Lookahead``), and answers with the few exceptions. The build uses an answer only
for the very releases it is about; without one (a small site, no fork, a child that failed)
it looks for itself, with the same ``look``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from blogtool.site.engine import load_manifest, output_file


@dataclass(frozen=True)
class Looked:
    """What the child found for the pages of the last build's manifest."""

    live: str  # the live release it looked in
    spare: str | None  # the spare release it compared with, if there was one
    missing: frozenset[str]  # page files that are not a regular file in the live release
    differ: frozenset[str]  # page files whose copy in the spare is not the live file


class Lookahead:
    """``start`` it, go on with the build, then ``result`` (or ``close``, which ends the
    child whatever it was doing)."""

    def __init__(self, manifest: Path, live: Path, spare: Path | None):
        self._pid = 0
        self._read = -1
        try:
            read_end, write_end = os.pipe()
            pid = os.fork()
        except OSError:
            return
        if pid == 0:  # the child: nothing but lstat calls, then one write, then out
            code = 1
            try:
                os.close(read_end)
                looked = look(load_manifest(manifest), live, spare)
                answer = json.dumps(
                    [looked.live, looked.spare, sorted(looked.missing), sorted(looked.differ)]
                ).encode()
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(answer)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self._pid, self._read = pid, read_end

    def result(self) -> Looked | None:
        if not self._pid:
            return None
        try:
            with os.fdopen(self._read, "rb") as pipe:
                self._read = -1
                live, spare, missing, differ = json.loads(pipe.read())
            if self._wait() != 0:
                return None
            return Looked(live, spare, frozenset(missing), frozenset(differ))
        except (OSError, ValueError, KeyError, TypeError):
            self.close()
            return None

    def close(self) -> None:
        if self._read >= 0:
            os.close(self._read)  # a child still writing gets a broken pipe and ends
            self._read = -1
        if self._pid:
            self._wait()

    def _wait(self) -> int:
        pid, self._pid = self._pid, 0
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def look(pages: Iterable[str], live: Path, spare: Path | None) -> Looked:
    """For each of ``pages`` (site paths): is it a regular file in ``live``, and is the file
    in ``spare`` that very file?"""
    missing: list[str] = []
    differ: list[str] = []
    for page in pages:
        name = output_file(page)
        st = _lstat(f"{live}/{name}")
        if st is None or not stat.S_ISREG(st.st_mode):
            missing.append(name)
            continue
        if spare is not None:
            copy = _lstat(f"{spare}/{name}")
            if copy is None or (copy.st_dev, copy.st_ino) != (st.st_dev, st.st_ino):
                differ.append(name)
    spare_text = str(spare) if spare is not None else None
    return Looked(str(live), spare_text, frozenset(missing), frozenset(differ))


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def start(manifest: Path, live: Path | None, spare: Path | None) -> Lookahead | None:
    """A child looking at ``live`` (and ``spare``) for the pages of ``manifest``; None
    when there is nothing to look at."""
    if live is None or not manifest.is_file() or not hasattr(os, "fork"):
        return None
    return Lookahead(manifest, live, spare)
