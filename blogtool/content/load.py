"""The whole site: every post and tip read, validated and cross-checked.

Loading never stops at the first problem: every file is read and every problem is collected with
its file, line and key, so ``blogtool check`` can report them all at once.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import stat
import threading
import zlib
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from blogtool import parallel
from blogtool.config import Config
from blogtool.content import fields, readiness
from blogtool.content.model import Item, Kind, Site
from blogtool.content.parse import read_item
from blogtool.errors import Problem
from blogtool.files import check_source, private_dir, remove
from blogtool.i18n import _
from blogtool.pictures import sources
from blogtool.site.urls import reserved_slugs
from blogtool.version import code_digest


def content_files(config: Config) -> Iterable[tuple[Path, Kind]]:
    for directory, _in_site, kind, entry in _sources(config):
        yield directory / entry.name, kind


def _sources(config: Config) -> Iterable[tuple[Path, str, Kind, os.DirEntry[str]]]:
    """Every post and tip file, in name order: its folder, that folder's path in the site (as
    text: a Path for each of thousands of files costs more than reading them from the cache),
    and its directory entry (whose lstat is cached: a big site is listed with one system call a
    file)."""
    for directory, kind in ((config.posts_dir, Kind.POST), (config.tips_dir, Kind.TIP)):
        in_site = directory.relative_to(config.root).as_posix()  # root/posts and root/tips
        try:
            entries = sorted(
                (e for e in os.scandir(directory) if e.name.endswith(".md")),
                key=lambda e: e.name,
            )
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith((".", "_")):
                yield directory, in_site, kind, entry


def load_site(
    config: Config,
    cache: Path | None = None,
    seen: dict[str, os.stat_result] | None = None,
    meanwhile: Callable[[], None] | None = None,
    later: Callable[[Callable[[], None]], None] | None = None,
    readability: bool = False,
) -> Site:
    """Read every post and tip (see ``_load_site``), with the cyclic garbage collector paused:
    a big site allocates tens of thousands of objects, none of them garbage, and each pass
    over them costs time for nothing. ``meanwhile``: work for this process while worker
    processes parse, if they do (a big load); not called otherwise. ``later``: given, the
    cache is not written now; its writing is handed to ``later``, for the caller to run.
    ``readability``: count each text's LIX as it is read (``check``), while its running text
    is at hand."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _load_site(config, cache, seen or {}, meanwhile, later, readability)
    finally:
        if paused:
            gc.enable()


def _load_site(
    config: Config,
    cache: Path | None,
    seen: dict[str, os.stat_result],
    meanwhile: Callable[[], None] | None,
    later: Callable[[Callable[[], None]], None] | None,
    readability: bool = False,
) -> Site:
    """Read every post and tip. Never raises for bad content: see ``Site.problems``.

    With ``cache``, files whose (mtime, size, inode) and the config are unchanged since the last
    call are not parsed again; a large site then loads in a fraction of the time. ``seen``: the
    lstat of files by path, as a snapshot just took them (``site.incremental.snapshot``).
    """
    items: list[Item] = []
    problems: list[Problem] = []
    shards = _read_shards(cache, config) if cache else []
    cached: dict[str, Any] = {}
    for shard in shards:
        cached.update(shard)
    fresh: dict[str, tuple[tuple[int, int, int], Item | None, list[Problem]]] = {}
    todo: list[_Job] = []
    inside: dict[str, bool] = {}  # by the folder's path in the site (a str hashes faster)
    real_root = config.root.resolve()
    for folder, in_site, kind, entry in _sources(config):
        rel = f"{in_site}/{entry.name}"
        st: os.stat_result | None = seen.get(entry.path)
        if st is None:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                st = None
        regular = st is not None and stat.S_ISREG(st.st_mode)
        if regular and in_site not in inside:
            inside[in_site] = folder.resolve().is_relative_to(real_root)
        plain = regular and inside[in_site]
        if not plain:
            path = folder / entry.name
            refused = check_source(path, config.root)  # a link, a FIFO, outside the site
            if refused is not None:
                problems.append(Problem(Path(rel), refused))
                continue
            try:
                st = path.stat()
            except OSError:
                st = None
        key = (st.st_mtime_ns, st.st_size, st.st_ino) if st is not None else (0, 0, 0)
        hit = cached.get(rel)
        if hit is not None and hit[0] == key:
            fresh[rel] = hit
        else:
            fresh[rel] = (key, None, [])
            todo.append((folder / entry.name, Path(rel), kind, key, plain))
    for rel_str, key, item, found in _parse_all(todo, config, meanwhile, readability):
        fresh[rel_str] = (key, item, found)
    for _key, item, found in fresh.values():
        problems.extend(found)
        if item is not None:
            items.append(item)
    if cache is not None and fresh != cached:
        write = partial(_write_cache, cache, config, fresh, shards)
        if later is None:
            write()
        else:
            later(write)
    problems.extend(_cross_checks(items, config))
    problems.extend(sources.config_problems(config))
    problems.extend(readiness.tag_typos(items))
    # (By the paths as text: an item from the cache makes its Path only if asked.)
    bad = {p.path.as_posix() for p in problems if p.is_error}
    # Checked last and apart: an item that is fine but for these is "unready", not broken.
    not_ready = readiness.problems((i for i in items if i.rel not in bad), config)
    problems.extend(not_ready)
    unready = {p.path.as_posix() for p in not_ready if p.is_error}
    if cache is not None:
        sources.save_headers(config)
    return Site(
        config,
        tuple(
            sorted((i for i in items if i.rel not in bad and i.rel not in unready), key=_sort_key)
        ),
        tuple(problems),
        tuple(i for i in items if i.rel in unready),
    )


_PARALLEL_LOAD = 800  # below this many files a process pool costs more than it saves
_LOAD_CONFIG: Config | None = None
_LOAD_READABILITY = False  # count each text's LIX as it is read
_LOAD_JOBS: list[_Job] = []  # set before the pool forks: workers are sent indexes, not paths


# A file to parse: its path, its path in the site, its kind, its stat key, and whether it was
# listed as a regular file in a folder inside the site (``read_item``'s ``plain``).
_Job = tuple[Path, Path, Kind, tuple[int, int, int], bool]


def _parse_one(job: _Job, config: Config, readability: bool) -> tuple[str, Any, Any, Any]:
    path, rel, kind, key, plain = job
    item, found = read_item(path, rel, kind, config, plain, readability)
    return str(rel), key, item, found


def _parse_part(indexes: list[int]) -> list[tuple[str, Any, Any, Any]]:
    """In a forked worker: these jobs, by index, with what the parent set before it forked."""
    assert _LOAD_CONFIG is not None
    return [_parse_one(_LOAD_JOBS[n], _LOAD_CONFIG, _LOAD_READABILITY) for n in indexes]


# The module's _LOAD_* values are what a pool's workers inherit: one pool at a time sets them
# (the studio reads the site from more than one thread).
_POOL = threading.Lock()


def _parse_all(
    jobs: list[_Job],
    config: Config,
    meanwhile: Callable[[], None] | None = None,
    readability: bool = False,
) -> list[tuple[str, Any, Any, Any]]:
    """Parse files (each item with its HTML); a large site is parsed on every core (YAML and
    Markdown are CPU-bound), while this process does ``meanwhile``. In no particular order."""
    global _LOAD_CONFIG, _LOAD_READABILITY
    workers = min(os.cpu_count() or 1, 8)
    if len(jobs) < _PARALLEL_LOAD or workers < 2:
        return [_parse_one(job, config, readability) for job in jobs]
    import multiprocessing

    with _POOL:
        _LOAD_CONFIG, _LOAD_READABILITY = config, readability
        _LOAD_JOBS[:] = jobs  # (pickling 5,000 jobs' paths cost more than parsing 40 files)
        try:
            # Each part's results come back in one message; the parts shrink as the files run
            # out, so that no core waits long for the other's last part. (The order they come
            # back in does not matter: the caller files each result under its path.)
            work = parallel.parts(range(len(jobs)), workers)
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                parsed = pool.imap_unordered(_parse_part, work)
                if meanwhile is not None:
                    meanwhile()
                return [result for part in parsed for result in part]
        finally:
            _LOAD_CONFIG = None
            _LOAD_READABILITY = False
            _LOAD_JOBS.clear()


_CACHE_VERSION = 3


def _cache_header(config: Config) -> tuple[int, str]:
    """Whatever can change how a file parses: blogtool's code, the field table, the config."""
    h = hashlib.sha256(code_digest(config.state_dir).encode())
    h.update(fields.signature().encode())
    h.update(config.path.read_bytes())
    return _CACHE_VERSION, h.hexdigest()


_SHARDS = 32  # one changed file rewrites one shard of the cache, not the whole of it


def _shard(rel: str) -> int:
    return zlib.crc32(rel.encode("utf-8", "surrogatepass")) % _SHARDS


def _read_cache(directory: Path, config: Config) -> dict[str, Any]:
    """The parsed items of the last load, by path in the site (``_read_shards``, merged)."""
    entries: dict[str, Any] = {}
    for shard in _read_shards(directory, config):
        entries.update(shard)
    return entries


def _read_shards(directory: Path, config: Config) -> list[dict[str, Any]]:
    """The parsed items of the last load, shard by shard, from ``directory``. The cache is the
    site's own, in its state directory, written by this code; anything unexpected in a shard
    just means its files are parsed again."""
    header = _cache_header(config)
    allowed = {kind: fields.allowed(kind) for kind in Kind}
    return [
        _read_shard(directory / f"{number:02d}.pickle", header, allowed)
        for number in range(_SHARDS)
    ]


def _read_shard(path: Path, header: object, allowed: dict[Kind, Any]) -> dict[str, Any]:
    import pickle

    try:
        with open(path, "rb") as fh:
            found, entries = pickle.load(fh)
        if found != header or not isinstance(entries, dict):
            return {}
        # Belt and braces: an entry made with another field table is never used.
        for _key, item, _problems in entries.values():
            if item is not None and (
                not isinstance(item, Item) or list(item.values) != allowed.get(item.kind)
            ):
                return {}
    except Exception:
        return {}
    return entries


def _bodies_path(directory: Path, number: int) -> Path:
    return directory / f"{number:02d}.bodies"  # pickled, beside the items' shard


def _read_bodies(path: Path, header: object) -> dict[str, tuple[str, str]]:
    """A shard's bodies: path in the site -> (content digest, HTML)."""
    import pickle

    try:
        with open(path, "rb") as fh:
            found, entries = pickle.load(fh)
    except Exception:
        return {}
    return entries if found == header and isinstance(entries, dict) else {}


# The bodies shards this process has read, by path: (their stat, what they hold).
_BODIES_READ: dict[Path, tuple[tuple[int, int, int], dict[str, tuple[str, str]]]] = {}


def kept_html(config: Config, item: Item) -> str | None:
    """The HTML of ``item``'s body as it was made when its file was last parsed, from the
    parse cache (its shard is read once a process, and again once it is rewritten); None when
    none was kept for this very content with this code and these library versions."""
    path = _bodies_path(config.state_dir / "cache" / "content", _shard(item.rel))
    try:
        st = path.stat()
    except OSError:
        return None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    held = _BODIES_READ.get(path)
    if held is None or held[0] != key:
        held = _BODIES_READ[path] = (key, _read_bodies(path, _cache_header(config)))
    found = held[1].get(item.rel)
    if found is not None and found[0] == (item.content_digest or item.content()):
        return found[1]
    return None


def _write_cache(
    directory: Path, config: Config, entries: dict[str, Any], before: list[dict[str, Any]]
) -> None:
    """Rewrite the shards whose entries differ from ``before`` (the shards as they were read):
    those that gain an entry parsed again, or lose one. An entry read from a shard and kept is
    the very object read (``_load_site`` keeps it), so a shard it stays in needs no
    rewriting. Each item's HTML goes to a shard of its own beside them (``kept_html``): a load
    reads the items alone, and a build only the HTML of the pages it renders."""
    import dataclasses
    import pickle

    from blogtool.files import write_atomic

    if len(before) != _SHARDS:
        before = [{} for _ in range(_SHARDS)]
    parsed: dict[int, dict[str, Any]] = {}  # by shard: entries not as they were read
    kept: set[str] = set()
    for number, old in enumerate(before):
        for rel, entry in old.items():
            if entries.get(rel) is entry:
                kept.add(rel)
            else:  # parsed again, or its file is gone
                parsed.setdefault(number, {})
    for rel in entries.keys() - kept:
        parsed.setdefault(_shard(rel), {})[rel] = entries[rel]
    header = _cache_header(config)
    try:
        directory.with_name("content.pickle").unlink(missing_ok=True)  # the unsharded cache
        remove(directory.with_name("bodies"))  # each body's HTML, now kept with its item
        private_dir(directory)
        for number, changed in sorted(parsed.items()):
            shard = {rel: e for rel, e in before[number].items() if rel in entries} | changed
            bodies_path = _bodies_path(directory, number)
            bodies = {
                rel: held for rel, held in _read_bodies(bodies_path, header).items() if rel in shard
            }
            for rel, (key, item, problems) in shard.items():
                if item is not None and item.html is not None:
                    bodies[rel] = (item.content_digest, item.html)
                    shard[rel] = (key, dataclasses.replace(item, html=None), problems)
            data = pickle.dumps((header, bodies), protocol=pickle.HIGHEST_PROTOCOL)
            write_atomic(bodies_path, data, durable=False, private=True)
            data = pickle.dumps((header, shard), protocol=pickle.HIGHEST_PROTOCOL)
            write_atomic(directory / f"{number:02d}.pickle", data, durable=False, private=True)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _sort_key(item: Item) -> tuple[int, float, str]:
    date = item.values["date"]
    return (date is None, date.timestamp() if date else 0.0, item.rel)


def _cross_checks(items: list[Item], config: Config) -> list[Problem]:
    problems: list[Problem] = []
    if not config.tips.enabled:
        problems += [
            Problem(
                item.path,
                _(
                    "a tip, but [tips] enabled = false: the site has no series to publish it "
                    "in; turn the series on, or move the file to posts/"
                ),
            )
            for item in items
            if item.kind is Kind.TIP
        ]
    by_slug: dict[str, Item] = {}
    reserved = reserved_slugs(config)
    for item in items:
        if item.slug in reserved:
            problems.append(
                Problem(
                    item.path,
                    _("{slug!r} is reserved for the site's own pages").format(slug=item.slug),
                    "slug",
                )
            )
        other = by_slug.get(item.slug)
        if other is not None:
            problems.append(
                Problem(
                    item.path,
                    _(
                        "{slug!r} is already used by {path}; change the title or set a "
                        "different slug"
                    ).format(slug=item.slug, path=other.path),
                    "slug",
                )
            )
        else:
            by_slug[item.slug] = item
    tips_by_day: dict[dt.date, Item] = {}
    for item in items:
        if item.kind is Kind.TIP and item.date is not None:
            day = item.date.date()
            if day in tips_by_day:
                problems.append(
                    Problem(
                        item.path,
                        _("{isoformat} already has a tip: {path}").format(
                            isoformat=day.isoformat(), path=tips_by_day[day].path
                        ),
                        "date",
                        severity="warning",
                    )
                )
            else:
                tips_by_day[day] = item
    return problems
