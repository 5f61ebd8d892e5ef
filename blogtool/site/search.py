"""Search without a server: Pagefind indexes the live release, and the search page and the
header's search field use the index it writes (``pagefind/``), from the site itself.

Pagefind cannot update one page of an existing index, and its memory grows with what it reads
(hundreds of MB for thousands of posts). So the index is made in parts of a few MB of pages
each (``PART_BYTES``), named by what they hold, which the search page merges (Pagefind's
multisite search; ``bundles.js`` lists them): a changed post makes its part again, the others
are linked as they were, and no Pagefind process reads more than one part.

And it is off the critical path: a new release carries the live one's index (hard links, no
copy), is swapped in, and the changed pages are live at once; then the live release is indexed
into a folder beside the releases, which replaces its index by two renames (``install``).
``build.index_search`` runs that, in the build's process or, for a big site, in a process of
its own. A build with nothing changed skips it, and keeps the index it had.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from blogtool.config import Config
from blogtool.files import link_or_copy, remove, umask
from blogtool.i18n import _
from blogtool.site.engine import BuildError
from blogtool.site.output import search_pending_path
from blogtool.site.urls import SEARCH_INDEX_DIR
from blogtool.version import library_versions

OLD = f".{SEARCH_INDEX_DIR}-old"  # the index just replaced, until it is deleted


def carry(release: Path, kept: set[str], live: Path | None) -> set[str]:
    """The live release's index, hard-linked into the new ``release`` before it is swapped
    in: its changed pages go live with the index as it was, and the new one follows
    (``build.index_search``). A reused release keeps the parts of its own index that the
    live one has too (a part's name says what it holds; ``kept`` lists the files it had):
    after a one-post change, all parts but one or two. Returns the index's files, relative
    to the release."""
    source = live / SEARCH_INDEX_DIR if live is not None else None
    target = release / SEARCH_INDEX_DIR
    if source is None or not source.is_dir():
        _set_aside(release, target)
        return set()
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    target.mkdir(exist_ok=True)
    target.chmod(0o755)  # whatever the umask: the web server's user reads it
    wanted = {entry.name: entry.is_dir(follow_symlinks=False) for entry in os.scandir(source)}
    for entry in os.scandir(target):
        same_part = entry.name.startswith("s-") and wanted.get(entry.name)
        if not (same_part and entry.is_dir(follow_symlinks=False)):
            _set_aside(release, Path(entry.path))
    start = len(str(release)) + 1
    files: set[str] = set()

    def link(src: str, dst: str) -> None:
        link_or_copy(src, dst)
        files.add(dst[start:])

    by_part: dict[str, list[str]] = {}  # what the reused release had, by the part holding it
    inside = len(SEARCH_INDEX_DIR) + 1
    for held_name in kept:
        part, slash, _rest = held_name[inside:].partition("/")
        if slash:
            by_part.setdefault(part, []).append(held_name)
    for name, folder in wanted.items():
        if not folder:
            link(str(source / name), str(target / name))
        elif (target / name).is_dir():  # the same part, kept
            prefix = f"{SEARCH_INDEX_DIR}/{name}/"
            files.update(
                by_part.get(name)
                or (
                    f"{prefix}{Path(d, n).relative_to(target / name).as_posix()}"
                    for d, _dirs, names in os.walk(target / name)
                    for n in names
                )
            )
        else:
            shutil.copytree(source / name, target / name, copy_function=link)
    return files


def _set_aside(release: Path, path: Path) -> None:
    """Take ``path`` out of ``release`` now: a folder of thousands of files is moved to the
    trash in one rename (deleting it costs more than the rest of a one-post rebuild, so it is
    deleted after the swap, with the new index: ``build.index_search``); a file is removed."""
    if path.is_dir() and not path.is_symlink():
        trash = trash_dir(release.parent)
        trash.mkdir(mode=0o700, exist_ok=True)
        os.rename(path, trash / f"{release.name}-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    else:
        remove(path)


def log_path(config: Config) -> Path:
    """Where the process that makes the index in the background writes what it did."""
    return config.state_dir / "search.log"


def lock_path(config: Config) -> Path:
    """Held by the process making the index (``build.index_search``)."""
    return config.state_dir / "search.lock"


def owed(config: Config) -> str | None:
    """None when the live release's index is up to date; "making" while a process makes it;
    "owed" when one is owed and no process makes it (a failed or stopped one)."""
    if not search_pending_path(config).exists():
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
    the old index or the new one, but for the instant between the renames, when it finds
    none (and a process killed in that instant leaves none until the next build, which makes
    the index still owed). The index's files, relative to the release."""
    current, old = release / SEARCH_INDEX_DIR, release / OLD
    remove(old)  # what a killed one left
    if current.exists():
        os.rename(current, old)
    os.rename(made, current)
    remove(old)
    return {p.relative_to(release).as_posix() for p in current.rglob("*") if p.is_file()}


# How much HTML one Pagefind process reads. Its memory grows with what it reads (about
# 15 MB for each MB of pages), so a big site is indexed in parts of at most this much, one
# after the other, and searched as one: the search page merges them (Pagefind's multisite
# search). About 600 posts a part: under 150 MB for Pagefind at any site size.
PART_BYTES = 6 * 1024 * 1024
BUNDLES = "bundles.js"  # the parts, for the search page: window.blogtoolSearch = [...]
_INDEXED = re.compile(rb"<([A-Za-z][\w-]*)[^<>]*\sdata-pagefind-body\b")  # a post or tip
_HTML = re.compile(rb"<html\b[^<>]*>", re.IGNORECASE)  # its language
_MARKED = re.compile(rb"<[A-Za-z][^<>]*\sdata-pagefind-[^<>]*>")  # meta, filters: anywhere
_H1 = re.compile(rb"<h1\b", re.IGNORECASE)  # its title in the results
_IMG = re.compile(rb"<img\b[^<>]*>", re.IGNORECASE)  # its picture: the first after the h1


def _read_by_pagefind(content: bytes) -> bytes | None:
    """What of a page Pagefind reads, or None for a page it leaves out (not marked
    data-pagefind-body): its language, every tag marked for it, its body (from its first h1,
    if that comes before, to the last end tag of the body's kind) and the pictures after it
    (a result's picture is the first after the h1). A change to the rest alone (the site's
    title in the head, the header and the footer, its menu) changes no part of the index."""
    body = _INDEXED.search(content)
    if body is None:
        return None
    start = body.start()
    h1 = _H1.search(content, 0, start)
    if h1 is not None:
        start = h1.start()
    end = content.lower().rfind(b"</" + body.group(1).lower(), start)
    lang = _HTML.search(content, 0, start)
    marked = [m.group() for m in _MARKED.finditer(content)]
    body_end = end if end >= 0 else len(content)
    after = [m.group() for m in _IMG.finditer(content, body_end)]
    return b"\0".join([lang.group() if lang else b"", *marked, content[start:body_end], *after])


def _parts(release: Path, series: str) -> list[tuple[str, list[str]]]:
    """The release's posts and tips (the pages marked data-pagefind-body; lists are not read)
    in parts of about ``PART_BYTES``, each named by what it holds: its pages' paths and what
    Pagefind reads of them, how many parts there are, and Pagefind's version. A page stays in
    its part (by its path) until the site grows by a part, so a changed post changes one part.
    Templates of a site's own that mark no page get Pagefind's own rule: every page, whole."""
    pages: list[tuple[str, int, bytes]] = []  # path, size, digest (not the pages themselves)
    unmarked: list[tuple[str, int, bytes]] = []
    # (the series' folder as a path, not a pattern: a title of signs alone leaves it empty)
    candidates = {*release.glob("*/index.html"), *(release / series).glob("*/index.html")}
    for path in sorted(candidates):
        content = path.read_bytes()
        read = _read_by_pagefind(content)
        name = path.relative_to(release).as_posix()
        if read is not None:
            pages.append((name, len(content), hashlib.sha256(read).digest()))
        elif not pages:
            unmarked.append((name, len(content), hashlib.sha256(content).digest()))
    pages = pages or unmarked
    count = -(-sum(size for _n, size, _d in pages) // PART_BYTES)  # (none for a site of none)
    members: list[list[tuple[str, bytes]]] = [[] for _n in range(count)]
    for name, _size, digest in pages:
        number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count
        members[number].append((name, digest))
    parts = []
    pagefind = library_versions()["pagefind"]
    for number, held in enumerate(members):
        if not held:  # (few pages, many bytes each: a part may get none)
            continue
        made = hashlib.sha256(f"{pagefind}\0{count}\0{number}".encode())
        for name, page in held:
            made.update(b"\0%s\0%s" % (name.encode(), page))
        parts.append((f"s-{made.hexdigest()[:20]}", [name for name, _c in held]))
    return parts


def index(release: Path, series: str, out: Path) -> set[str]:
    """Index ``release``'s posts and tips with Pagefind (the binary bundled with the
    ``pagefind`` package) into ``out`` (a new folder beside it), part by part
    (``PART_BYTES``): a part whose pages are as in the release's index (``pagefind/s-*``) is
    linked from there, the others are made anew, one Pagefind process at a time. ``out``
    gets the parts, the search page's script and style (from the first part) and
    ``bundles.js``, which names the parts. The files written, relative to ``out``'s parent.
    ``series``: the series' folder, where tips are."""
    try:
        return _index(release, series, out)
    except OSError as exc:  # (the release reused by builds meanwhile; a full disk)
        raise BuildError(_("the search index could not be made: {exc}").format(exc=exc)) from None


def _index(release: Path, series: str, out: Path) -> set[str]:
    have = release / SEARCH_INDEX_DIR
    parts = _parts(release, series)
    remove(out)
    out.mkdir(parents=True)
    for name, pages in parts:
        if (have / name / "pagefind-entry.json").is_file():
            shutil.copytree(have / name, out / name, copy_function=link_or_copy)
        else:
            _pagefind(release, pages, out / name)
    for asset in (out / parts[0][0]).iterdir() if parts else ():
        if asset.is_file():  # pagefind-ui.js and its kin, where the pages load them
            link_or_copy(str(asset), str(out / asset.name))
    names = json.dumps([f"{name}/" for name, _pages in parts])
    (out / BUNDLES).write_text(f"window.blogtoolSearch = {names};\n", "utf-8")
    _readable([out, out / BUNDLES])
    return {p.relative_to(out.parent).as_posix() for p in out.rglob("*") if p.is_file()}


def _readable(paths: list[Path]) -> None:
    """What this process made with its umask is the site's, for the web server to read."""
    if umask() & 0o055:  # (read, and a folder's search, for the group and others)
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)


def _pagefind(release: Path, pages: list[str], out: Path) -> None:
    """One Pagefind process over ``pages`` (paths in ``release``), read from a folder of links
    to them beside ``out``, so their addresses are as on the site."""
    site = out.with_name(f"{out.name}.site")
    remove(site)
    try:
        for page in pages:
            (site / page).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(str(release / page), str(site / page))
        command = [sys.executable, "-m", "pagefind", "--site", str(site)]
        command += ["--output-path", str(out), "--silent"]
        try:  # (an OSError is the caller's, ``index``)
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BuildError(
                _("the search index could not be made: {exc}").format(exc=exc)
            ) from None
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise BuildError(
                _("the search index could not be made (Pagefind): {join}").format(
                    join=" ".join(reason)
                )
            )
        _readable([out, *out.rglob("*")])  # (a part linked from an earlier index was, already)
    finally:
        remove(site)
