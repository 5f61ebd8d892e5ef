"""Whether anything can have changed since a build or run, asked of the file system alone:
a snapshot of every source, without reading one.

The build's fast way out uses it (``fastway.py``), and so does the scheduled job's
(``quiet.py``).
"""

from __future__ import annotations

import hashlib
import os

from blogtool.config import Config
from blogtool.files import tree_stats
from blogtool.version import code_digest


def snapshot(config: Config, seen: dict[str, os.stat_result] | None = None) -> str:
    """Every source as the file system describes it, without reading one. Taken before a run
    reads them: a file changed while it runs makes the next run a full one. ``seen`` gets
    each entry's lstat by its path (``os.DirEntry.path``), for the loading that follows
    (``content.load``) not to ask again; a file changed in between is then parsed under its
    older stat, and so parsed again next time."""
    h = hashlib.sha256(code_digest(config.state_dir).encode())
    conf = config.path.stat()
    h.update(f"{conf.st_size}\0{conf.st_mtime_ns}\0{conf.st_ino}\n".encode())
    parts = []
    for directory in (
        config.posts_dir,
        config.tips_dir,
        config.templates_dir,
        config.media_dir,
        config.root / "static",
    ):
        for path, st in tree_stats(str(directory)):
            if st is None:
                parts.append(f"{path}\0missing\n")
                continue
            parts.append(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n")
            if seen is not None:
                seen[path] = st
    h.update("".join(parts).encode("utf-8", "surrogateescape"))
    return h.hexdigest()
