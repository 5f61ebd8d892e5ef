"""Whether anything can have changed since a build or run, asked of the file system alone:
a snapshot of every source, without reading one.

The build's fast way out uses it (``site/build.py``), and so does the scheduled job's
(``job/quiet.py``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from blogtool.config import Config
from blogtool.version import code_digest


def _walk(directory: Path, h: hashlib._Hash, seen: dict[str, os.stat_result] | None) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        h.update(f"{directory}\0missing\n".encode())
        return
    for entry in entries:
        st = entry.stat(follow_symlinks=False)
        h.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
        if seen is not None:
            seen[entry.path] = st
        if entry.is_dir(follow_symlinks=False):
            _walk(Path(entry.path), h, seen)


def snapshot(config: Config, seen: dict[str, os.stat_result] | None = None) -> str:
    """Every source as the file system describes it, without reading one. Taken before a run
    reads them: a file changed while it runs makes the next run a full one. ``seen`` gets
    each entry's lstat by its path (``os.DirEntry.path``), for the loading that follows
    (``content.load``) not to ask again; a file changed in between is then parsed under its
    older stat, and so parsed again next time."""
    h = hashlib.sha256(code_digest().encode())
    st = config.path.stat()
    h.update(f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    for directory in (
        config.posts_dir, config.tips_dir, config.templates_dir, config.media_dir,
        config.root / "static",
    ):  # fmt: skip
        _walk(directory, h, seen)
    return h.hexdigest()
