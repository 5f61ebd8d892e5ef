"""What this blogtool is: its version and a digest of its own code.

Caches and build fingerprints include the digest, so an upgrade (even an editable install whose
files changed in place) that may parse or render differently starts them afresh once.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from blogtool import __version__

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def code_digest() -> str:
    h = hashlib.sha256(__version__.encode())
    for path in sorted(PACKAGE.rglob("*")):  # the code, the default templates, the catalogues
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(PACKAGE).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()
