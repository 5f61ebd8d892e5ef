"""Search without a server: Pagefind indexes the finished release, and the search page and the
header's search field use the index it writes (``pagefind/``), from the site itself.

Pagefind makes its index from the whole site each time (its API cannot update one page of an
existing index), so it runs when a build wrote something; a build with nothing changed skips
it, and keeps the index it had.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from blogtool.files import umask
from blogtool.i18n import _
from blogtool.site.engine import BuildError
from blogtool.site.urls import SEARCH_INDEX_DIR


def index(release: Path, series: str) -> set[str]:
    """Run Pagefind (the binary bundled with the ``pagefind`` package) over ``release``; the
    files it wrote, relative to the release. ``series``: the series' folder, where tips are."""
    command = [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(release),
        "--output-subdir",
        SEARCH_INDEX_DIR,
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
    out = release / SEARCH_INDEX_DIR
    written = list(out.rglob("*"))
    if umask() & 0o755:  # Pagefind made them with the umask: they are the site's, for all to read
        for path in [out, *written]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    return {p.relative_to(release).as_posix() for p in written if p.is_file()}
