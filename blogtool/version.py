"""What this blogtool is: its version and a digest of its own code.

Caches and build fingerprints include the digest, so an upgrade (even an editable install whose
files changed in place) that may parse or render differently starts them afresh once.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from blogtool import __version__

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
    _describe(str(folder), "", parts)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _describe(folder: str, prefix: str, parts: list[str]) -> None:
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            if entry.name != "__pycache__":
                _describe(entry.path, f"{prefix}{entry.name}/", parts)
            continue
        st = entry.stat(follow_symlinks=False)
        parts.append(
            f"{prefix}{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
        )
