"""The whole site: every post and tip read, validated and cross-checked.

Loading never stops at the first problem: every file is read and every problem is collected with
its file, line and key, so ``blogtool check`` can report them all at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from blogtool.config import Config
from blogtool.content import fields, readiness
from blogtool.content.model import Item, Kind, Site
from blogtool.content.parse import read_item
from blogtool.errors import Problem
from blogtool.files import check_sources
from blogtool.site.urls import reserved_slugs
from blogtool.version import code_digest


def content_files(config: Config) -> Iterable[tuple[Path, Kind]]:
    for directory, kind in ((config.posts_dir, Kind.POST), (config.tips_dir, Kind.TIP)):
        if directory.is_dir():
            for path in sorted(directory.glob("*.md")):
                if not path.name.startswith((".", "_")):
                    yield path, kind


def load_site(config: Config, cache: Path | None = None) -> Site:
    """Read every post and tip. Never raises for bad content: see ``Site.problems``.

    With ``cache``, files whose (mtime, size, inode) and the config are unchanged since the last
    call are not parsed again; a large site then loads in a fraction of the time.
    """
    items: list[Item] = []
    problems: list[Problem] = []
    cached = _read_cache(cache, config) if cache else {}
    fresh: dict[str, tuple[tuple[int, int, int], Item | None, list[Problem]]] = {}
    todo: list[tuple[Path, Path, Kind, tuple[int, int, int]]] = []
    files = list(content_files(config))
    refused = check_sources([path for path, _ in files], config.root)
    for path, kind in files:
        rel = path.relative_to(config.root)
        if path in refused:
            problems.append(Problem(rel, refused[path]))
            continue
        try:
            st = path.stat()
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            key = (0, 0, 0)
        hit = cached.get(str(rel))
        if hit is not None and hit[0] == key:
            fresh[str(rel)] = hit
        else:
            fresh[str(rel)] = (key, None, [])
            todo.append((path, rel, kind, key))
    for rel_str, key, item, found in _parse_all(todo, config):
        fresh[rel_str] = (key, item, found)
    for _, item, found in fresh.values():
        problems.extend(found)
        if item is not None:
            items.append(item)
    if cache is not None and fresh != cached:
        _write_cache(cache, config, fresh)
    problems.extend(_cross_checks(items, config))
    problems.extend(readiness.tag_typos(items))
    bad = {p.path for p in problems if p.is_error}
    # Checked last and apart: an item that is fine but for these is "unready", not broken.
    not_ready = readiness.problems((i for i in items if i.path not in bad), config)
    problems.extend(not_ready)
    unready = {p.path for p in not_ready if p.is_error}
    return Site(
        config,
        tuple(sorted((i for i in items if i.path not in bad | unready), key=_sort_key)),
        tuple(problems),
        tuple(i for i in items if i.path in unready),
    )


_PARALLEL_LOAD = 800  # below this many files a process pool costs more than it saves
_LOAD_CONFIG: Config | None = None


def _parse_one(job: tuple[Path, Path, Kind, tuple[int, int, int]]) -> tuple[str, Any, Any, Any]:
    path, rel, kind, key = job
    assert _LOAD_CONFIG is not None
    item, found = read_item(path, rel, kind, _LOAD_CONFIG)
    return str(rel), key, item, found


def _parse_all(
    jobs: list[tuple[Path, Path, Kind, tuple[int, int, int]]], config: Config
) -> list[tuple[str, Any, Any, Any]]:
    """Parse files; a large site is parsed on every core (YAML parsing is CPU-bound)."""
    global _LOAD_CONFIG
    _LOAD_CONFIG = config
    try:
        workers = min(os.cpu_count() or 1, 8)
        if len(jobs) < _PARALLEL_LOAD or workers < 2:
            return [_parse_one(job) for job in jobs]
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_parse_one, jobs, chunksize=64)
    finally:
        _LOAD_CONFIG = None


_CACHE_VERSION = 2


def _cache_header(config: Config) -> tuple[int, str]:
    """Whatever can change how a file parses: blogtool's code, the field table, the config."""
    h = hashlib.sha256(code_digest().encode())
    h.update(fields.signature().encode())
    h.update(config.path.read_bytes())
    return _CACHE_VERSION, h.hexdigest()


def _read_cache(path: Path, config: Config) -> dict[str, Any]:
    """The parsed items of the last load. The cache is the site's own file, in its state
    directory, written by this code; anything unexpected in it just means a full parse."""
    import pickle

    try:
        with open(path, "rb") as fh:
            header, entries = pickle.load(fh)
        if header != _cache_header(config) or not isinstance(entries, dict):
            return {}
        # Belt and braces: an entry made with another field table is never used.
        allowed = {kind: fields.allowed(kind) for kind in Kind}
        for _key, item, _problems in entries.values():
            if item is not None and (
                not isinstance(item, Item) or list(item.values) != allowed.get(item.kind)
            ):
                return {}
    except Exception:
        return {}
    return entries


def _write_cache(path: Path, config: Config, entries: dict[str, Any]) -> None:
    import pickle

    from blogtool.files import write_atomic

    try:
        data = pickle.dumps((_cache_header(config), entries), protocol=pickle.HIGHEST_PROTOCOL)
        write_atomic(path, data, durable=False, private=True)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _sort_key(item: Item) -> tuple[int, float, str]:
    return (item.date is None, item.date.timestamp() if item.date else 0.0, str(item.path))


def _cross_checks(items: list[Item], config: Config) -> list[Problem]:
    problems: list[Problem] = []
    by_slug: dict[str, Item] = {}
    reserved = reserved_slugs(config)
    for item in items:
        if item.slug in reserved:
            problems.append(
                Problem(item.path, f"{item.slug!r} is reserved for the site's own pages", "slug")
            )
        other = by_slug.get(item.slug)
        if other is not None:
            problems.append(
                Problem(
                    item.path,
                    f"{item.slug!r} is already used by {other.path}; "
                    "change the title or set a different slug",
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
                        f"{day.isoformat()} already has a tip: {tips_by_day[day].path}",
                        "date",
                        severity="warning",
                    )
                )
            else:
                tips_by_day[day] = item
    return problems
