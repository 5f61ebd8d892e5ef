"""What this blogtool is: its version and a digest of its own code.

Caches and build fingerprints include the digest, so an upgrade (even an editable install whose
files changed in place) that may parse or render differently starts them afresh once.
"""

from __future__ import annotations

import functools
import hashlib
import stat
from pathlib import Path

from blogtool import __version__
from blogtool.files import tree_stats

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def code_digest() -> str:
    return digest_of(PACKAGE, __version__)


def digest_of(folder: Path, version: str) -> str:
    """Every file below ``folder`` (the code, the default templates, the catalogues) as the
    file system describes it: name, size, modification and change times, inode. Reading and
    hashing them all cost a tenth of a small rebuild; and no edit, copy or install leaves a
    file's change time (which no tool can set) as it was."""
    parts = [version]
    start = len(str(folder)) + 1
    for path, st in tree_stats(str(folder), skip={"__pycache__"}):
        if st is not None and not stat.S_ISDIR(st.st_mode):
            described = f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
            parts.append(f"{path[start:]}\0{described}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
