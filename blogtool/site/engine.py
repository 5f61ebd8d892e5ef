"""The build engine: given pages (a path, a digest of their inputs, a function that renders
them), render only those whose digest changed since the last build, and swap the results in
only after everything has rendered. It knows no page type; ``pages.py`` says what a site has.

A page is re-rendered when its digest differs from the one recorded at the last build (or its
file is missing), so a rebuild with nothing changed renders nothing and touches no file. Writers
refuse to write one path twice.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blogtool.errors import BlogtoolError
from blogtool.files import write_atomic

MANIFEST_VERSION = 1
PARALLEL_THRESHOLD = 150  # below this many pages a process pool costs more than it saves

Progress = Callable[[int], None]


class BuildError(BlogtoolError):
    """The build failed; the previous output is untouched."""


@dataclass
class Page:
    path: str  # site path, e.g. "torsdagstips/slug/" or "feed.xml"
    digest: str
    produce: Callable[[], bytes]
    heavy: bool = False  # rendered first in parallel builds (Markdown pages)


def digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def output_file(path: str) -> str:
    """The file a path is written to: pages ("", "x/") become ``.../index.html``."""
    return path + "index.html" if path == "" or path.endswith("/") else path


def check_unique(pages: list[Page]) -> None:
    seen: set[str] = set()
    for page in pages:
        out = output_file(page.path)
        if out in seen:
            raise BuildError(f"two pages would be written to {out}; check slugs and tags")
        seen.add(out)


# --- the manifest: what the last build wrote ---------------------------------------------------


def load_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return {}
    pages = data.get("pages", {})
    return dict(pages) if isinstance(pages, dict) else {}


def save_manifest(path: Path, pages: list[Page]) -> None:
    manifest = {"version": MANIFEST_VERSION, "pages": {p.path: p.digest for p in pages}}
    encoded = json.dumps(manifest, sort_keys=True, indent=0).encode("utf-8")
    if not path.is_file() or path.read_bytes() != encoded:
        write_atomic(path, encoded, private=True)


# --- releases: the output is a symlink to a complete tree, swapped in one rename ---------------
#
#   public -> .public.releases/r-20261203T080000-ab12cd      (the live release)
#   .public.previous -> .public.releases/r-...               (kept for a rollback)
#
# A build writes a new release beside the live one: pages whose digest changed are rendered
# into it, every other page is hard-linked from the live release (no copy, same mtime). When
# every page is there, a new symlink replaces ``public`` with one rename(): a reader, a web
# server or a kill -9 sees the old site or the new one, never a mix. Anything a killed build
# left (an unfinished release, a stray link) is removed by the next build.


def releases_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.releases"


def previous_link(output: Path) -> Path:
    return output.parent / f".{output.name}.previous"


def is_release_link(path: Path, output: Path | None = None) -> bool:
    """``path`` (the output, or ``output``'s previous link) is a symlink this engine made: it
    points into the output's releases folder."""
    if not path.is_symlink():
        return False
    target = Path(os.readlink(path))
    expected = releases_dir(output or path).name
    return (
        not target.is_absolute()
        and target.parent.name == expected
        and (path.parent / target).is_dir()
    )


def live_release(output: Path) -> Path | None:
    """The folder the site is served from now: the link's target, or a plain directory."""
    if is_release_link(output):
        return output.parent / os.readlink(output)
    return output if output.is_dir() and not output.is_symlink() else None


def clean_up(output: Path) -> None:
    """Remove what killed builds left: releases that are neither live nor previous, temporary
    links, and the staging folders of earlier versions of blogtool."""
    keep = {p.resolve() for p in (output, previous_link(output)) if is_release_link(p, output)}
    releases = releases_dir(output)
    if releases.is_dir():
        for entry in releases.iterdir():
            if entry.resolve() not in keep:
                _remove(entry)
    for pattern in (f".{output.name}.staging-*", f".{output.name}.*link-*"):
        for entry in output.parent.glob(pattern):
            _remove(entry)


def foreign_directory(output: Path) -> bool:
    """A plain, non-empty directory that no build of blogtool made."""
    return (
        output.is_dir()
        and not output.is_symlink()
        and any(output.iterdir())
        and not (output / "index.html").is_file()
    )


def publish(
    label: str,
    pages: list[Page],
    todo: list[Page],
    known: set[str],
    output: Path,
    jobs: int,
    progress: Progress | None = None,
    fail_after: int | None = None,
) -> None:
    """Make a new release of ``pages`` (rendering ``todo``, linking the rest from the live
    release) and swap it in. Files of the live release that no build wrote (``known`` lists
    what the last build did) come along. Raises with the live site as it was."""
    global _RELEASE
    releases = releases_dir(output)
    try:
        releases.mkdir(parents=True, exist_ok=True)
        release = Path(tempfile.mkdtemp(prefix=f"r-{label}-", dir=releases))
    except OSError as exc:
        raise BuildError(f"{output}: cannot write there ({exc.strerror})") from None
    _RELEASE = release
    try:
        _render_all(todo, jobs, progress, fail_after)
        live = live_release(output)
        _link_unchanged(pages, {p.path for p in todo}, live, release)
        if live is not None:
            ours = {output_file(p) for p in known} | {output_file(p.path) for p in pages}
            _carry_foreign(live, release, ours)
        _swap(output, release, label)
    except BaseException:
        _remove(release)
        raise
    finally:
        _RELEASE = None
    clean_up(output)


def _carry_foreign(live: Path, release: Path, ours: set[str]) -> None:
    """Files and folders someone put into the output by hand (a .well-known/ folder, a
    verification file) stay, as they did when builds wrote into the folder itself: every entry
    at the top that is not blogtool's comes along, whole. (Only the top is looked at: walking
    every page's folder would cost more than the rest of a small rebuild.)"""
    tops = {name.split("/", 1)[0] for name in ours}
    for entry in os.scandir(live):
        if entry.name in tops or os.path.lexists(os.path.join(release, entry.name)):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, os.path.join(release, entry.name), copy_function=_link)
        else:
            _link(entry.path, os.path.join(release, entry.name))


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # another file system, or links not allowed: a copy does the same
        shutil.copy2(source, target, follow_symlinks=False)


def _link_unchanged(
    pages: list[Page], rendered: set[str], live: Path | None, release: Path
) -> None:
    base, made = str(release), {str(release)}
    for page in pages:
        if page.path in rendered:
            continue
        name = output_file(page.path)
        if live is None:
            raise BuildError(f"{name}: no live release to take the unchanged page from")
        target = f"{base}/{name}"
        folder = target.rpartition("/")[0]
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        try:
            _link(f"{live}/{name}", target)
        except FileNotFoundError:
            raise BuildError(f"{live / name} is missing; run the build again") from None


def _swap(output: Path, release: Path, label: str) -> None:
    """Point ``output`` at ``release`` with one rename; the old release becomes the previous."""
    old = live_release(output)
    if old is not None and not is_release_link(output):
        # A plain directory from before releases existed: move it aside once. (For that one
        # moment there is no site; every later build swaps atomically.)
        legacy = releases_dir(output) / f"r-{label}-legacy"
        os.rename(output, legacy)
        old = legacy
    _replace_link(output, release)
    if old is not None:
        _replace_link(previous_link(output), old)


def _replace_link(link: Path, target: Path) -> None:
    tmp = link.parent / f".{link.name.lstrip('.')}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


def rollback(output: Path) -> Path:
    """Serve the previous release again (and keep the current one as the previous)."""
    previous = previous_link(output)
    if not is_release_link(previous, output) or not is_release_link(output):
        raise BuildError(f"{output}: there is no previous release to go back to")
    back, current = previous.resolve(), output.resolve()
    _replace_link(output, back)
    _replace_link(previous, current)
    return back


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


# --- rendering -----------------------------------------------------------------------------------

_TODO: list[Page] = []  # set in the parent before the pool forks; workers inherit it
_RELEASE: Path | None = None


def _render_page(page: Page) -> None:
    assert _RELEASE is not None
    data = page.produce()
    target = _RELEASE / output_file(page.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise BuildError(f"{output_file(page.path)} is a directory; expected to write a file there")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _render_chunk(indexes: list[int]) -> int:
    for index in indexes:
        _render_page(_TODO[index])
    return len(indexes)


def _render_all(
    todo: list[Page], jobs: int, progress: Progress | None, fail_after: int | None
) -> None:
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(n)
        if fail_after is not None and done >= fail_after:
            raise BuildError(f"injected failure after {done} pages")

    if len(todo) < PARALLEL_THRESHOLD or jobs < 2:
        for page in todo:
            _render_page(page)
            tick(1)
        return
    _TODO[:] = todo
    # The heavy pages first, so the cheap ones fill the end.
    order = sorted(range(len(todo)), key=lambda i: not todo[i].heavy)
    chunks = [order[i : i + 32] for i in range(0, len(order), 32)]
    # fork: the workers inherit the loaded site and the page plan instead of pickling them.
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for n in pool.imap_unordered(_render_chunk, chunks):
                tick(n)
    finally:
        _TODO.clear()
