"""Search without a server: Pagefind indexes the live release, and the search page and the
header's search field use the index it writes (``pagefind/``), from the site itself.

Pagefind makes its index from the whole site each time (its API cannot update one page of an
existing index): seconds on a site of thousands of posts. So it is off the critical path: a
new release carries the live one's index (hard links, no copy), is swapped in, and the
changed pages are live at once; then Pagefind indexes the live release into a folder beside
the releases, which replaces its index by two renames (``install``). ``build.index_search``
runs that, in the build's process or, for a big site, in a process of its own. A build with
nothing changed skips it, and keeps the index it had.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from blogtool.config import Config
from blogtool.files import link_or_copy, remove, umask
from blogtool.i18n import _
from blogtool.site.engine import BuildError
from blogtool.site.urls import SEARCH_INDEX_DIR

OLD = f".{SEARCH_INDEX_DIR}-old"  # the index just replaced, until it is deleted


def carry(release: Path, live: Path | None) -> set[str]:
    """The live release's index, hard-linked into the new ``release`` before it is swapped
    in: its changed pages go live with the index as it was, and the new one follows
    (``build.index_search``). Its files, relative to the release (named as they are linked:
    thousands of files at thousands of posts, not walked again)."""
    source = live / SEARCH_INDEX_DIR if live is not None else None
    if source is None or not source.is_dir():
        return set()
    target = release / SEARCH_INDEX_DIR
    if target.exists() or target.is_symlink():
        # A reused release's older index goes aside in one rename: deleting thousands of
        # files (the last links to them) costs more than the rest of a one-post rebuild, so
        # it is done after the swap, with the new index (``build.index_search``).
        trash = trash_dir(release.parent)
        trash.mkdir(mode=0o700, exist_ok=True)
        os.rename(target, trash / f"{release.name}-{os.getpid()}-{time.monotonic_ns()}")
    start = len(str(release)) + 1
    files: set[str] = set()

    def link(src: str, dst: str) -> None:
        link_or_copy(src, dst)
        files.add(dst[start:])

    shutil.copytree(source, target, copy_function=link)
    return files


def pending_path(config: Config) -> Path:
    """Present while the live release's search index is older than its pages; it holds the
    name of the release the build that owed it swapped in."""
    return config.state_dir / "search-pending"


def log_path(config: Config) -> Path:
    """Where the process that makes the index in the background writes what it did."""
    return config.state_dir / "search.log"


def lock_path(config: Config) -> Path:
    """Held by the process making the index (``build.index_search``)."""
    return config.state_dir / "search.lock"


def owed(config: Config) -> str | None:
    """None when the live release's index is up to date; "making" while a process makes it;
    "owed" when one is owed and no process makes it (a failed or stopped one)."""
    if not pending_path(config).exists():
        return None
    try:
        fd = os.open(lock_path(config), os.O_RDWR)
    except FileNotFoundError:
        return "owed"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "making"
    finally:
        os.close(fd)
    return "owed"


def trash_dir(releases: Path) -> Path:
    """Where what a build set aside waits to be deleted: beside the releases' folder."""
    return releases.with_name(f"{releases.name}-trash")


def set_trash_aside(releases: Path, doomed: Path) -> None:
    """Move the trash to ``doomed`` (to be deleted there, out of the builds' way)."""
    trash = trash_dir(releases)
    if trash.exists():
        os.rename(trash, doomed)


def install(release: Path, made: Path) -> set[str]:
    """Put the index in ``made`` (a folder beside the release, on the same file system) in
    place of ``release``'s ``pagefind/`` by two renames: a search that starts meanwhile finds
    the old index or the new one. The index's files, relative to the release."""
    current, old = release / SEARCH_INDEX_DIR, release / OLD
    remove(old)  # what a killed one left
    if current.exists():
        os.rename(current, old)
    os.rename(made, current)
    remove(old)
    return {p.relative_to(release).as_posix() for p in current.rglob("*") if p.is_file()}


def index(release: Path, series: str, out: Path | None = None) -> set[str]:
    """Run Pagefind (the binary bundled with the ``pagefind`` package) over ``release``, into
    ``out`` (default: its ``pagefind/``); the files it wrote, relative to ``out``'s parent.
    ``series``: the series' folder, where tips are."""
    out = out or release / SEARCH_INDEX_DIR
    command = [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(release),
        "--output-path",
        str(out),
        "--silent",
        # Posts and tips only (the pages marked data-pagefind-body); lists are not read.
        "--glob",
        f"{{*,{series}/*}}/index.html",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(_("the search index could not be made: {exc}").format(exc=exc)) from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BuildError(
            _("the search index could not be made (Pagefind): {join}").format(join=" ".join(reason))
        )
    written = list(out.rglob("*"))
    if umask() & 0o755:  # Pagefind made them with the umask: they are the site's, for all to read
        for path in [out, *written]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    return {p.relative_to(out.parent).as_posix() for p in written if p.is_file()}
