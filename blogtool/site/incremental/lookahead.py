"""What the live and the spare release hold of the last build's pages.

A rebuild must know, for each page of the last build, whether the spare release it is about
to reuse holds the very file the live release holds (then the file stays), and whether a page
it takes from the live release is still a file there (one deleted or replaced by hand is
rendered again) (``look``).

Each build records the page files of the release it made, by inode (``Recorded``, kept in the
manifest). With that record, a rebuild looks at the spare release alone: a spare's file with
the recorded inode is the very file the build left in the live release, with the very content
(hard links), whatever happened to the live release's name for it since; any other is taken
from the live release again, and checked there as it is taken (``releases.publish``). Without
a record (the first rebuilds, an output that changed hands), both releases are looked at.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from blogtool.site.engine import output_file


@dataclass(frozen=True)
class Recorded:
    """The page files of a release as the build that made it left them."""

    release: str  # the release's folder name
    device: int
    files: Mapping[str, int]  # page file -> inode


@dataclass(frozen=True)
class Looked:
    """What ``look`` found for the pages of the last build's manifest."""

    live: str  # the live release it looked in
    spare: str | None  # the spare release it compared with, if there was one
    missing: frozenset[str]  # page files that are not a regular file in the live release
    differ: frozenset[str]  # page files whose copy in the spare is not the live file
    # Whether ``missing`` was looked for: not so when the spare was compared with a record,
    # and a page taken from the live release is checked as it is taken.
    live_checked: bool = True
    # page file -> inode in the live release, as far as it is known (the record's, or what
    # was found there): the inodes of the pages a new release keeps or links from it.
    inodes: Mapping[str, int] | None = None


def look(
    pages: Iterable[str], live: Path, spare: Path | None, recorded: Recorded | None = None
) -> Looked:
    """For each of ``pages`` (site paths): is the file in ``spare`` the live file, and (when
    the live release is not the one ``recorded`` describes) is it a regular file in
    ``live``?"""
    spare_text = str(spare) if spare is not None else None
    if spare is not None and recorded is not None and recorded.release == live.name:
        files, device = recorded.files, recorded.device
        differ = []
        for page in pages:
            name = output_file(page)
            copy = _lstat(f"{spare}/{name}")
            if copy is None or copy.st_ino != files.get(name) or copy.st_dev != device:
                differ.append(name)
        return Looked(str(live), spare_text, frozenset(), frozenset(differ), False, files)
    missing: list[str] = []
    differ = []
    inodes: dict[str, int] = {}
    for page in pages:
        name = output_file(page)
        st = _lstat(f"{live}/{name}")
        if st is None or not stat.S_ISREG(st.st_mode):
            missing.append(name)
            continue
        inodes[name] = st.st_ino
        if spare is not None:
            copy = _lstat(f"{spare}/{name}")
            if copy is None or (copy.st_dev, copy.st_ino) != (st.st_dev, st.st_ino):
                differ.append(name)
    return Looked(str(live), spare_text, frozenset(missing), frozenset(differ), True, inodes)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None
