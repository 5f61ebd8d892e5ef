"""Releases: the output is a symlink to a complete tree, swapped in one rename.

    public -> .public.releases/r-20261203T070000Z-ab12cd      (the live release)
    .public.previous -> .public.releases/r-...               (kept for a rollback)

A build writes a new release beside the live one: pages whose digest changed are rendered
into it, every other page is hard-linked from the live release (no copy, same mtime). When
every page is there, a new symlink replaces ``public`` with one rename(): a reader, a web
server or a kill -9 sees the old site or the new one, never a mix. Anything a killed build
left (an unfinished release, a stray link) is removed by the next build, and one complete
spare release is kept to be reused by the next build instead of making a tree from nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from blogtool.files import link_or_copy, public_dir, remove, write_atomic
from blogtool.i18n import _
from blogtool.site.engine import BuildError, Page, Progress, output_file, render_into
from blogtool.site.incremental.lookahead import Looked, Recorded


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


def _file_list(release: Path) -> Path:
    """Beside every complete release, the list of its files: what makes it reusable."""
    return release.with_name(release.name + ".files")


def _kept(output: Path) -> set[Path]:
    return {p.resolve() for p in (output, previous_link(output)) if is_release_link(p, output)}


def is_kept(output: Path, release: Path) -> bool:
    """Whether ``release`` is served or kept for a rollback: no build changes it then."""
    return release.resolve() in _kept(output) and _file_list(release).is_file()


def clean_up(output: Path) -> None:
    """Remove what killed builds left (a release without its file list is incomplete),
    releases beyond the live, the previous and one complete spare that the next build reuses,
    temporary links, and the staging folders of earlier versions of blogtool."""
    keep = _kept(output)
    releases = releases_dir(output)
    if releases.is_dir():
        spare_kept = False
        for entry in sorted(releases.iterdir(), key=lambda p: p.name, reverse=True):
            if entry.name.endswith(".files") or entry.resolve() in keep:
                continue
            if not spare_kept and entry.is_dir() and _file_list(entry).is_file():
                spare_kept = True
                continue
            _file_list(entry).unlink(missing_ok=True)
            remove(entry)
        for listing in releases.glob("*.files"):
            if not listing.with_suffix("").is_dir():
                listing.unlink(missing_ok=True)
    for pattern in (f".{output.name}.staging-*", f".{output.name}.*link-*"):
        for entry in output.parent.glob(pattern):
            remove(entry)


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
    finish: tuple[str, Callable[[Path, set[str]], set[str]] | None] | None = None,
    looked: Looked | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Recorded | None:
    """Make a new release of ``pages`` (rendering ``todo``, linking the rest from the live
    release) and swap it in. Files of the live release that no build wrote (``known`` lists
    what the last build did) come along. ``finish`` is (a folder, a step that writes it over
    the complete release, given the files a reused release had in it, and returns its files,
    or None to leave the folder out): the search index. ``looked``: what the live and the
    spare release held (``lookahead.look``). ``meanwhile``: as ``render_into`` has it.
    Returns the new release's page files by inode, for the next build (None when there was
    no live release to take pages from: a first build records none). Raises with the live
    site as it was."""
    try:
        release, had, spare = _new_release(output, label)
    except OSError as exc:
        raise BuildError(
            _("{output}: cannot write there ({strerror})").format(
                output=output, strerror=exc.strerror
            )
        ) from None
    try:
        render_into(release, todo, jobs, progress, fail_after, meanwhile)
        live = live_release(output)
        names = [output_file(p.path) for p in pages]  # (in the plan's order: the record's)
        planned = set(names)
        # Which of the reused release's files are not the live ones, if what was looked at
        # is this very spare and live release; else every file is linked again.
        differ = None
        if looked is not None and (looked.live, looked.spare) == (str(live), str(spare)):
            differ = looked.differ
        # A page taken from the live release is checked there as it is taken, unless the
        # look found every page there.
        checked = looked is not None and looked.live == str(live) and looked.live_checked
        linked, late = _link_unchanged(
            pages, {p.path for p in todo}, live, release, bool(had), differ, not checked
        )
        if late:  # pages gone from the live release (deleted or replaced by hand): made again
            render_into(release, late, jobs)
        rendered = {output_file(p.path) for p in (*todo, *late)}
        known_inodes = looked.inodes if looked is not None and looked.live == str(live) else None
        recorded = _record(release, names, rendered, linked, known_inodes) if live else None
        made = f"{finish[0]}/" if finish else None
        foreign: set[str] = set()
        if live is not None:
            gone = known.difference(p.path for p in pages)  # the last build's, not this one's
            ours = planned | {output_file(p) for p in gone} | ({made} if made else set())
            # (".pagefind-next" and the like: the finish step's own, never the site's)
            passing = f".{finish[0]}-" if finish else None
            foreign = _carry_foreign(live, release, ours, passing)
        kept: set[str] = set()  # what a reused release had of the folder: the step's to change
        if made:
            kept = {name for name in had if name.startswith(made)}
            had -= kept
        _remove_files(release, had - planned - foreign)
        if finish and finish[1] is not None:
            planned |= finish[1](release, kept)
        elif made:
            remove(release / made)
        write_atomic(
            _file_list(release), "\n".join(sorted(planned | foreign)).encode(), durable=False
        )
        _swap(output, release, label)
    except BaseException:
        _file_list(release).unlink(missing_ok=True)
        remove(release)
        raise
    clean_up(output)
    return recorded


def _record(
    release: Path,
    names: list[str],
    rendered: set[str],
    linked: dict[str, int],
    known: Mapping[str, int] | None,
) -> Recorded | None:
    """The page files ``names`` of ``release`` by inode: a page rendered into it as found
    there, one linked as its source was, one it kept as ``known`` had the live file (the
    record of the last build, or what the look found). None where one is not known."""
    files: dict[str, int] = {}
    for name in names:
        inode = None
        if name not in rendered:
            inode = linked.get(name)
            if inode is None and known is not None:
                inode = known.get(name)
        if inode is None:
            try:
                inode = os.lstat(f"{release}/{name}").st_ino
            except OSError:
                return None
        files[name] = inode
    return Recorded(release.name, os.lstat(release).st_dev, files)


def relist(release: Path, folder: str, files: set[str]) -> None:
    """Record that ``release``'s ``folder`` now holds ``files`` (after the search index was
    made again in the live release), so a build that reuses it knows its files."""
    listing = _file_list(release)
    if not listing.is_file():
        return
    kept = [n for n in listing.read_text("utf-8").splitlines() if not n.startswith(f"{folder}/")]
    write_atomic(listing, "\n".join(sorted({*kept, *files})).encode(), durable=False)


def spare_release(output: Path) -> Path | None:
    """The complete release (not live, not previous) the next build reuses, if there is one."""
    releases = releases_dir(output)
    if not releases.is_dir():
        return None
    keep = _kept(output)
    for entry in sorted(releases.iterdir(), key=lambda p: p.name, reverse=True):
        if entry.name.endswith(".files") or entry.resolve() in keep:
            continue
        if _file_list(entry).is_file():
            return entry
    return None


def _new_release(output: Path, label: str) -> tuple[Path, set[str], Path | None]:
    """A folder for the next release, the files already in it, and the spare release it was
    (if it was one). A complete spare release is reused: most of its files are the live ones
    already, so changing it costs far less than making a tree of thousands of folders and
    deleting one."""
    releases = public_dir(releases_dir(output))
    spare = spare_release(output)
    if spare is None:
        while True:  # (mkdtemp would make it 0700: the web server's user could not read it)
            fresh = releases / f"r-{label}-{os.urandom(4).hex()}"
            try:
                fresh.mkdir()
            except FileExistsError:
                continue
            fresh.chmod(0o755)  # whatever the umask: the web server's user reads it
            return fresh, set(), None
    listing = _file_list(spare)
    had = set(listing.read_text("utf-8").splitlines())
    listing.unlink()  # until its new list is written, it is an unfinished release
    fresh = releases / f"r-{label}-{os.urandom(4).hex()}"
    os.rename(spare, fresh)
    return fresh, had, spare


def _remove_files(release: Path, names: set[str]) -> None:
    """Files a reused release had that the new one does not; folders left empty go too."""
    for name in sorted(names, reverse=True):
        target = release / name
        remove(target)
        folder = target.parent
        while folder != release and folder.is_relative_to(release):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _carry_foreign(
    live: Path, release: Path, ours: set[str], passing: str | None = None
) -> set[str]:
    """Files and folders someone put into the output by hand (a .well-known/ folder, a
    verification file) stay, as they did when builds wrote into the folder itself: every entry
    at the top that is not blogtool's comes along, whole. (Only the top is looked at: walking
    every page's folder would cost more than the rest of a small rebuild.) Returns the files
    it carried, relative to the release."""
    tops = {name.split("/", 1)[0] for name in ours}
    carried: set[str] = set()
    for entry in os.scandir(live):
        if entry.name in tops or (passing and entry.name.startswith(passing)):
            continue
        target = release / entry.name
        remove(target)  # a reused release may hold an older copy
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, target, copy_function=link_or_copy)
            carried |= {
                str(Path(folder, name).relative_to(release))
                for folder, _dirs, files in os.walk(target)
                for name in files
            }
        else:
            link_or_copy(entry.path, str(target))
            carried.add(entry.name)
    return carried


def _link_unchanged(
    pages: list[Page],
    rendered: set[str],
    live: Path | None,
    release: Path,
    recycled: bool,
    differ: frozenset[str] | None,
    check: bool = False,
) -> tuple[dict[str, int], list[Page]]:
    """Link the pages not rendered from the live release. A reused release (``recycled``)
    keeps its files that are the live ones already: all but ``differ`` (None: none). With
    ``check``, each file is looked at in the live release first. Returns the inodes of the
    files it linked (those it checked), and the pages that are not a regular file in the live
    release (to be rendered)."""
    linked: dict[str, int] = {}
    late: list[Page] = []
    base, made = str(release), {str(release)}
    again = differ if recycled and live is not None else None  # None: link every one
    for page in pages:
        if page.path in rendered:
            continue
        name = output_file(page.path)
        if again is not None and name not in again:
            continue  # unchanged since the reused release was made
        if live is None:
            raise BuildError(
                _("{name}: no live release to take the unchanged page from").format(name=name)
            )
        target, source = f"{base}/{name}", f"{live}/{name}"
        if check:
            try:
                st = os.lstat(source)
            except OSError:
                st = None
            if st is None or not stat.S_ISREG(st.st_mode):
                late.append(page)
                continue
            linked[name] = st.st_ino
        folder = target.rpartition("/")[0]
        if folder not in made:
            public_dir(Path(folder))
            made.add(folder)
        if recycled:
            remove(Path(target))
        try:
            link_or_copy(source, target)
        except FileNotFoundError:
            raise BuildError(
                _("{value} is missing; run the build again").format(value=live / name)
            ) from None
    return linked, late


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
        raise BuildError(
            _("{output}: there is no previous release to go back to").format(output=output)
        )
    back, current = previous.resolve(), output.resolve()
    _replace_link(output, back)
    _replace_link(previous, current)
    return back
