"""What the live and the spare release hold of the last build's pages.

A rebuild must know, for each page of the last build, whether it is still a file in the live
release (one deleted or replaced by hand is rendered again), and whether the spare release it
is about to reuse holds the very same file (``look``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from blogtool.site.engine import output_file


@dataclass(frozen=True)
class Looked:
    """What ``look`` found for the pages of the last build's manifest."""

    live: str  # the live release it looked in
    spare: str | None  # the spare release it compared with, if there was one
    missing: frozenset[str]  # page files that are not a regular file in the live release
    differ: frozenset[str]  # page files whose copy in the spare is not the live file


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
