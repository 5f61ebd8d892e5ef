"""What this blogtool is: its version, the versions of the libraries that shape what it
writes, and a digest of its own code and of those versions.

Caches and build fingerprints include the digest, so an upgrade of blogtool (even an editable
install whose files changed in place) or of a library that may parse or render differently
starts them afresh once. Each build records the library versions it was made with.
"""

from __future__ import annotations

import functools
import hashlib
import stat
from importlib import metadata
from pathlib import Path

from blogtool import __version__
from blogtool.files import tree_stats

PACKAGE = Path(__file__).resolve().parent


#: The distributions whose versions shape what blogtool writes: front matter read, Markdown
#: rendered, templates, feeds, mail (CSS inlined, HTML cleaned), dates and words, pictures,
#: imported text, the search index.
SHAPING = (
    "Markdown",
    "Jinja2",
    "MarkupSafe",
    "PyYAML",
    "python-frontmatter",
    "feedgen",
    "css-inline",
    "nh3",
    "Babel",
    "Pillow",
    "markdownify",
    "pagefind",
)


@functools.cache
def library_versions() -> dict[str, str]:
    """The installed version of each library in ``SHAPING`` ("" for one not installed)."""
    found = {}
    for name in SHAPING:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = ""
    return found


@functools.cache
def code_digest() -> str:
    shaping = "\0".join(f"{name}={v}" for name, v in library_versions().items())
    return digest_of(PACKAGE, f"{__version__}\0{shaping}")


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
