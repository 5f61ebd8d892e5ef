"""The build engine: pages (a path, a digest of their inputs, a function that renders them)
and their rendering, on every core for a big build; ``releases.py`` swaps the result in
whole. It knows no page type; ``pages.py`` says what a site has.

Which pages are rendered is ``incremental/manifest.py``'s to say: those whose digest differs
from the one recorded at the last build (or whose file is missing), so a rebuild with nothing
changed renders nothing and touches no file. Writers refuse to write one path twice.
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blogtool import parallel
from blogtool.errors import BlogtoolError, ContentError, Problem
from blogtool.files import remove, umask
from blogtool.i18n import _

PARALLEL_THRESHOLD = 150  # below this many pages a process pool costs more than it saves

Progress = Callable[[int], None]


class BuildError(BlogtoolError):
    """The build failed; the previous output is untouched."""


def place(path: str) -> str:
    """Where a page is served: 'feed.xml', 'feed.xml/' and 'feed.xml/index.html' are one
    address (a redirect page made at the second would stand where the feed is)."""
    return path.removesuffix("index.html").strip("/")


@dataclass
class Page:
    path: str  # site path, e.g. "torsdagstips/slug/" or "feed.xml"
    digest: str
    produce: Callable[[], bytes]
    heavy: bool = False  # rendered first in parallel builds (Markdown pages)
    source: str = ""  # the file the page is made from (an item's), named when it fails


class ItemError(BlogtoolError):
    """What one item's page, or a page showing it (a feed), could not make of it."""

    def __init__(self, source: str, reason: str):
        super().__init__(reason)
        self.source = source


def reason_of(exc: Exception) -> str:
    """An error in one line: blogtool's own as it says it, anything else with its type."""
    reason = str(exc) if isinstance(exc, BlogtoolError) else f"{type(exc).__name__}: {exc}"
    return " ".join(reason.split())


def failed(page: Page, exc: Exception) -> tuple[str, str]:
    """Why ``page`` could not be made, and the file to name: the item's source (also when a
    feed could not show it), or the page's own output file."""
    where = exc.source if isinstance(exc, ItemError) else page.source or output_file(page.path)
    return where, reason_of(exc)


def digest(*parts: object) -> str:
    """Each part, then a unit separator; one hash update (a list page has thousands of parts)."""
    return digest_of_text("\x1f".join(map(str, parts)) + "\x1f")


def digest_of_text(text: str) -> str:
    """``digest`` of parts already written out as it writes them: each, then a unit
    separator (for a loop over thousands of pages of a few parts each)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def output_file(path: str) -> str:
    """The file a path is written to: pages ("", "x/") become ``.../index.html``."""
    return path + "index.html" if path == "" or path.endswith("/") else path


def check_unique(pages: list[Page]) -> None:
    seen: set[str] = set()
    for page in pages:
        out = output_file(page.path)
        if out in seen:
            raise BuildError(
                _("two pages would be written to {out}; check slugs and tags").format(out=out)
            )
        seen.add(out)


# --- rendering -----------------------------------------------------------------------------------

_TODO: list[Page] = []  # set in the parent before the pool forks; workers inherit it
_RELEASE: Path | None = None
_FOLDERS: set[str] = set()  # folders of the release known to exist (in this process)
# Whether the umask would keep the web server's user out (a service's is often 0077): the
# site's files are then made 0644 and its folders 0755 by hand.
_MASKED = False


def _render_page(page: Page) -> tuple[str, str] | None:
    """Render one page into the release; why it could not be made, or None. A big build
    writes thousands of files, so this makes as few system calls as it can: each folder once,
    no check before the file is created (a reused release's earlier version is found by the
    refusal), one write."""
    assert _RELEASE is not None
    try:
        data = page.produce()
    except Exception as exc:  # a template, a body or a picture: named, and the others go on
        return failed(page, exc)
    target = f"{_RELEASE}/{output_file(page.path)}"
    folder = target.rpartition("/")[0]
    if folder not in _FOLDERS:
        _make_folder(folder)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(target, flags, 0o644)
    except FileExistsError:
        remove(Path(target))  # a reused release holds the page's earlier version
        fd = os.open(target, flags, 0o644)
    if _MASKED:
        os.fchmod(fd, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return None


def _make_folder(folder: str) -> None:
    """``folder`` and any missing parents, below the release (which exists)."""
    parent = folder.rpartition("/")[0]
    if parent not in _FOLDERS:
        _make_folder(parent)
    try:
        os.mkdir(folder, 0o755)
    except FileExistsError:
        if not os.path.isdir(folder):  # a reused release has a file there
            remove(Path(folder))
            os.mkdir(folder, 0o755)
    if _MASKED:
        os.chmod(folder, 0o755)
    _FOLDERS.add(folder)


def _render_chunk(indexes: list[int]) -> tuple[int, list[tuple[str, str]]]:
    failures = [f for index in indexes if (f := _render_page(_TODO[index])) is not None]
    return len(indexes), failures


def render_into(
    folder: Path,
    todo: list[Page],
    jobs: int,
    progress: Progress | None = None,
    fail_after: int | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """Render ``todo`` into ``folder`` (a page's earlier version there is replaced), on every
    core for a big build; ``meanwhile`` is this process's work while the workers render (called
    then, if they do). A page that cannot be made does not stop the others: when all are
    done, a ``ContentError`` names each one that failed, by its file."""
    global _RELEASE, _MASKED
    _RELEASE = folder
    _MASKED = bool(umask() & 0o755)
    _FOLDERS.clear()
    _FOLDERS.add(str(folder))
    try:
        _render_all(todo, jobs, progress, fail_after, meanwhile)
    finally:
        _RELEASE = None
        _FOLDERS.clear()


def _render_all(
    todo: list[Page],
    jobs: int,
    progress: Progress | None,
    fail_after: int | None,
    meanwhile: Callable[[], None] | None,
) -> None:
    done = 0
    failures: list[tuple[str, str]] = []  # (file, reason)

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(n)
        if fail_after is not None and done >= fail_after:
            raise BuildError(_("injected failure after {done} pages").format(done=done))

    if len(todo) < PARALLEL_THRESHOLD or jobs < 2:
        for page in todo:
            failure = _render_page(page)
            if failure is not None:
                failures.append(failure)
            tick(1)
        _raise_for(failures)
        return
    _TODO[:] = todo
    # The heavy pages first, so the cheap ones fill the end.
    order = sorted(range(len(todo)), key=lambda i: not todo[i].heavy)
    chunks = parallel.parts(order, jobs)
    # fork: the workers inherit the loaded site and the page plan instead of pickling them.
    # Frozen first, so the workers' garbage collection never walks (and copies) those
    # inherited objects: it has only the pages' own short-lived ones to look at.
    # (A caller that froze objects of its own keeps them frozen.)
    import multiprocessing  # only for a build with many pages to render

    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            rendered = pool.imap_unordered(_render_chunk, chunks)
            if meanwhile is not None:
                meanwhile()
            for n, failed_here in rendered:
                failures += failed_here
                tick(n)
    finally:
        if not frozen_before:
            gc.unfreeze()
        _TODO.clear()
    _raise_for(failures)


def _raise_for(failures: list[tuple[str, str]]) -> None:
    """One problem for each reason a page could not be made, named by the first file that
    met it: a template broken for every item is one line, not one for each of them."""
    if not failures:
        return
    by_reason: dict[str, list[str]] = {}
    for where, reason in sorted(set(failures)):  # (a feed names the item its page named)
        by_reason.setdefault(reason, []).append(where)
    problems = []
    for reason, files in by_reason.items():
        if len(files) > 1:
            shown = ", ".join(files[1:4]) + (", …" if len(files) > 4 else "")
            reason = _("{reason} (and on {n} more: {shown})").format(
                reason=reason, n=len(files) - 1, shown=shown
            )
        problems.append(Problem(Path(files[0]), reason))
    raise ContentError(problems)
