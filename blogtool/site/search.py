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

import os
import shutil
import subprocess
import sys
from pathlib import Path

from blogtool.files import link_or_copy, remove, umask
from blogtool.i18n import _
from blogtool.site.engine import BuildError
from blogtool.site.urls import SEARCH_INDEX_DIR

OLD = f".{SEARCH_INDEX_DIR}-old"  # the index just replaced, until it is deleted


def carry(release: Path, live: Path | None) -> set[str]:
    """The live release's index, hard-linked into the new ``release`` before it is swapped
    in: its changed pages go live with the index as it was, and the new one follows
    (``refresh``). Its files, relative to the release."""
    source = live / SEARCH_INDEX_DIR if live is not None else None
    if source is None or not source.is_dir():
        return set()
    target = release / SEARCH_INDEX_DIR
    remove(target)
    shutil.copytree(source, target, copy_function=link_or_copy)
    return {p.relative_to(release).as_posix() for p in target.rglob("*") if p.is_file()}


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
