"""What this blogtool is: its version, the versions of the libraries that shape what it
writes, and a digest of its own code and of those versions.

Caches and build fingerprints include the digest, so an upgrade of blogtool (even an editable
install whose files changed in place) or of a library that may parse or render differently
starts them afresh once. Each build records the library versions it was made with.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

from blogtool import __version__
from blogtool.files import tree_stats, write_atomic

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


# What this process found (``library_versions``, ``code_digest``); ``forget`` clears it.
_found: dict[str, object] = {}


def library_versions(state_dir: Path | None = None) -> dict[str, str]:
    """The installed version of each library in ``SHAPING`` ("" for one not installed), as
    the installed distributions' metadata (``importlib.metadata``) gives it. With
    ``state_dir``, what was found is kept there (``cache/libraries.json``) under a description
    of every folder Python imports from (``_installed``), and read back while that holds:
    asking the metadata costs more than the rest of a one-page rebuild's start."""
    versions = _found.get("versions")
    if isinstance(versions, dict):
        return versions
    kept = state_dir / "cache" / "libraries.json" if state_dir is not None else None
    where = _installed()
    if kept is not None:
        try:
            held = json.loads(kept.read_text("utf-8"))
            if held["installed"] == where and sorted(held["versions"]) == sorted(SHAPING):
                versions = {name: str(held["versions"][name]) for name in SHAPING}
        except (OSError, ValueError, KeyError, TypeError):
            versions = None
    if not isinstance(versions, dict):
        versions = _ask_metadata()
        if kept is not None:
            data = json.dumps({"installed": where, "versions": versions}).encode()
            with contextlib.suppress(OSError):  # (a read-only site asks again next time)
                write_atomic(kept, data, durable=False, private=True)
    _found["versions"] = versions
    return versions


def _ask_metadata() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in SHAPING:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = ""
    return found


def _installed() -> list[list[object]]:
    """Every place Python imports from, in order, with the installed distributions' folders
    in it (``Markdown-3.7.dist-info``: installing, upgrading or removing one adds, renames or
    removes its folder); an archive as the file system describes it. A new place in the path,
    or one in another order, changes the list too."""
    described: list[list[object]] = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:  # a zip archive
            with contextlib.suppress(OSError):
                st = os.stat(entry)
                described.append([entry, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
                continue
            described.append([entry])
            continue
        except OSError:
            described.append([entry])
            continue
        described.append([entry, *sorted(n for n in names if n.endswith(_DISTRIBUTIONS))])
    return described


_DISTRIBUTIONS = (".dist-info", ".egg-info")  # an installed distribution's folder


def code_digest(state_dir: Path | None = None) -> str:
    """blogtool's own files and the library versions (``library_versions``; ``state_dir``,
    where it keeps them) in one digest."""
    found = _found.get("digest")
    if isinstance(found, str):
        return found
    versions = library_versions(state_dir)
    shaping = "\0".join(f"{name}={v}" for name, v in versions.items())
    found = _found["digest"] = digest_of(PACKAGE, f"{__version__}\0{shaping}")
    return found


def forget() -> None:
    """Ask the installed libraries and blogtool's files again next time (after an upgrade
    in a long-running process, or a test's)."""
    _found.clear()


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
