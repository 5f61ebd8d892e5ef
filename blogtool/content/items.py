"""The content model: posts and tips read from Markdown files into frozen, validated objects.

Loading never stops at the first problem: every file is read and every problem is collected with
its file, line and key, so ``blogtool check`` can report them all at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from blogtool.config import WEEKDAYS, Config
from blogtool.content.slugs import is_valid_slug, slugify
from blogtool.errors import ContentError, Problem
from blogtool.timeutil import parse_when

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class Kind(StrEnum):
    POST = "post"
    TIP = "tip"


class Status(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"


COMMON_KEYS = ("title", "date", "draft", "tags", "summary", "author", "slug", "image", "image_alt")
TIP_KEYS = (*COMMON_KEYS, "service")


@dataclass(frozen=True)
class Item:
    """A post or a tip. ``path`` is relative to the site root."""

    kind: Kind
    path: Path
    title: str
    slug: str
    date: dt.datetime | None
    draft: bool
    tags: tuple[str, ...]
    summary: str
    author: str
    image: str | None
    image_alt: str | None
    service: str | None
    body: str
    body_line: int

    def status(self, now: dt.datetime) -> Status:
        """Derived, never stored: draft wins, then a future date means scheduled."""
        if self.draft or self.date is None:
            return Status.DRAFT
        if self.date > now:
            return Status.SCHEDULED
        return Status.PUBLISHED

    def is_published(self, now: dt.datetime) -> bool:
        return self.status(now) is Status.PUBLISHED


@dataclass(frozen=True)
class Site:
    config: Config
    items: tuple[Item, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def raise_for_errors(self) -> Site:
        if self.errors:
            raise ContentError(list(self.problems))
        return self

    @property
    def posts(self) -> list[Item]:
        return [i for i in self.items if i.kind is Kind.POST]

    @property
    def tips(self) -> list[Item]:
        return [i for i in self.items if i.kind is Kind.TIP]


# --- reading one file --------------------------------------------------------------------------

_HANDLER = YAMLHandler()


class _Collector:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def error(self, message: str, key: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, key, line))

    def warning(self, message: str, key: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, key, line, "warning"))


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


def _split(text: str) -> tuple[str, str, int] | None:
    """Front matter, body and the body's first line number; None without front matter.

    python-frontmatter's boundary pattern swallows blank lines after the opening '---', which
    shifts every line number we report, so the split is done here with an exact pattern.
    """
    if not _HANDLER.detect(text):
        return None
    m = _FRONT_MATTER.match(text)
    if m is None:
        return None
    fm = m.group(1)
    return fm, text[m.end() :], 3 + fm.count("\n")


def _yaml_mapping(fm: str, c: _Collector) -> tuple[Any, dict[str, int]] | None:
    """Parse the front matter, keeping each top-level key's line (1-based, in the file)."""
    loader = _Loader(fm)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark else None  # YAML counts from 0; '---' is line 1
        if line is not None:  # an error found at the end points at the last front-matter line
            line = min(line, 1 + max(1, fm.count("\n")))
        problem = exc.problem or exc.context or "could not be parsed"
        c.error(f"front matter is not valid YAML: {problem}", line=line)
        return None
    except yaml.YAMLError as exc:
        c.error(f"front matter is not valid YAML: {exc}")
        return None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 2
    return data, lines


_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\s*[\(\[]")
_HTML_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_HTML_ALT = re.compile(r"\balt\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)


def images_without_alt(body: str) -> list[int]:
    """Offsets of images in a Markdown body that have no alt text."""
    found = [m.start() for m in _MD_IMAGE.finditer(body) if not m.group(1).strip()]
    for m in _HTML_IMG.finditer(body):
        alt = _HTML_ALT.search(m.group(0))
        if not alt or not alt.group(1).strip("\"' "):
            found.append(m.start())
    return sorted(found)


def read_item(
    source: Path, rel: Path, kind: Kind, config: Config
) -> tuple[Item | None, list[Problem]]:
    """Read and validate one file. Returns the item (None if unusable) and every problem."""
    try:
        raw = source.read_bytes()
    except OSError as exc:
        return None, [Problem(rel, f"cannot be read: {exc.strerror}")]
    return parse_item(raw, rel, kind, config)


def parse_item(
    raw: bytes, rel: Path, kind: Kind, config: Config
) -> tuple[Item | None, list[Problem]]:
    """Validate the bytes of one file; ``rel`` is the path that messages name."""
    c = _Collector(rel)
    if not raw.strip():
        c.error("file is empty; expected front matter between '---' lines with at least a title")
        return None, c.problems
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        c.error(
            f"not UTF-8 (byte 0x{raw[exc.start]:02X} cannot be decoded); save the file as UTF-8",
            line=raw[: exc.start].count(b"\n") + 1,
        )
        return None, c.problems
    text = text.replace("\r\n", "\n")

    split = _split(text)
    if split is None:
        c.error(
            "no front matter; expected a '---' line, then key: value lines, then '---'",
            line=1,
        )
        return None, c.problems
    fm, body, body_line = split
    parsed = _yaml_mapping(fm, c)
    if parsed is None:
        return None, c.problems
    data, lines = parsed
    if data is None:
        c.error("front matter is empty; expected at least a title", line=2)
        return None, c.problems
    if not isinstance(data, dict):
        kinds = {list: "a list", str: "a single string"}
        got = kinds.get(type(data), type(data).__name__)  # type: ignore[call-overload]
        c.error(f"front matter must be a mapping of keys to values (key: value), got {got}", line=2)
        return None, c.problems

    def line(key: str) -> int | None:
        return lines.get(key)

    allowed = TIP_KEYS if kind is Kind.TIP else COMMON_KEYS
    hinted: set[str] = set()  # keys a misspelling probably meant: not also reported missing
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            if key == "service":
                msg = "only tips feature a service"
            elif hint:
                msg = f"unknown key; did you mean {hint[0]!r}?"
                hinted.add(hint[0])
            else:
                msg = f"unknown key; expected one of {', '.join(allowed)}"
            c.error(msg, key=str(key), line=line(str(key)))

    def text_value(key: str, default: str | None = None) -> str | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        c.error(f"expected text, got {type(value).__name__} {value!r}", key=key, line=line(key))
        return default

    title = (text_value("title") or "").strip() or None
    if title is None and "title" not in hinted:
        c.error("missing; every post and tip needs a title", key="title", line=line("title"))

    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        c.error(f"expected true or false, got {draft!r}", key="draft", line=line("draft"))
        draft = True  # an unclear draft flag must never publish

    date: dt.datetime | None = None
    tz = config.site.timezone
    if data.get("date") is not None:
        default_time = config.tips.time if kind is Kind.TIP else dt.time(0, 0)
        try:
            date = parse_when(data["date"], tz, default_time)
        except ValueError as exc:
            c.error(str(exc), key="date", line=line("date"))
            draft = True
    elif not draft and "date" not in hinted:
        c.error(
            "missing; a post that is not a draft needs a date (or set draft: true)",
            key="date",
            line=line("draft"),
        )

    raw_tags = data.get("tags") or []
    if isinstance(raw_tags, str):
        raw_tags = [t.strip() for t in raw_tags.split(",")]
    tags: list[str] = []
    if not isinstance(raw_tags, list):
        c.error("expected a list of tags, e.g. [natur, friluftsliv]", key="tags", line=line("tags"))
    else:
        for tag in raw_tags:
            if not isinstance(tag, str | int) or isinstance(tag, bool) or not str(tag).strip():
                c.error(f"expected each tag to be text, got {tag!r}", key="tags", line=line("tags"))
            elif str(tag).strip() not in tags:
                tags.append(str(tag).strip())

    slug = text_value("slug")
    if slug is not None:
        if not is_valid_slug(slug):
            c.error(
                f"expected lowercase ASCII letters, digits and single hyphens, got {slug!r}",
                key="slug",
                line=line("slug"),
            )
            slug = None
    elif title:
        slug = slugify(title)
        if not slug:
            c.error(
                "no slug can be made from this title; add a slug: key",
                key="title",
                line=line("title"),
            )

    image = text_value("image")
    image_alt = text_value("image_alt")
    if image and not (image_alt and image_alt.strip()):
        c.error(
            "missing; the image needs alt text that describes it (WCAG 1.1.1)",
            key="image_alt",
            line=line("image"),
        )
    for offset in images_without_alt(body):
        c.error(
            "image without alt text; write ![description](file) (WCAG 1.1.1)",
            line=body_line + body.count("\n", 0, offset),
        )

    service = text_value("service") if kind is Kind.TIP else None
    if service is not None and service not in config.services:
        known = ", ".join(config.services) or "none are configured"
        c.error(
            f"unknown service {service!r}; expected a key of [services] in blogtool.toml ({known})",
            key="service",
            line=line("service"),
        )

    if kind is Kind.TIP and date is not None and date.weekday() != config.tips.weekday:
        c.warning(
            f"{date.date().isoformat()} is a {WEEKDAYS[date.weekday()]}; "
            f"the series goes out on {config.tips.weekday_name}s",
            key="date",
            line=line("date"),
        )

    if any(p.is_error for p in c.problems) or title is None or not slug:
        return None, c.problems
    item = Item(
        kind=kind,
        path=rel,
        title=title,
        slug=slug,
        date=date,
        draft=bool(draft),
        tags=tuple(tags),
        summary=(text_value("summary") or "").strip(),
        author=(text_value("author") or config.site.author).strip(),
        image=image,
        image_alt=image_alt,
        service=service,
        body=body,
        body_line=body_line,
    )
    return item, c.problems


# --- the whole site ----------------------------------------------------------------------------


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
    for path, kind in content_files(config):
        rel = path.relative_to(config.root)
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
    bad = {p.path for p in problems if p.is_error}
    items = [i for i in items if i.path not in bad]
    return Site(config, tuple(sorted(items, key=_sort_key)), tuple(problems))


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


_CACHE_VERSION = 1


def _cache_header(config: Config) -> tuple[int, bytes]:
    import hashlib

    from blogtool import __version__

    digest = hashlib.sha256(__version__.encode() + config.path.read_bytes()).digest()
    return _CACHE_VERSION, digest


def _read_cache(path: Path, config: Config) -> dict[str, Any]:
    """The parsed items of the last load. The cache is the site's own file, in its state
    directory, written by this code; anything unexpected in it just means a full parse."""
    import pickle

    try:
        with open(path, "rb") as fh:
            header, entries = pickle.load(fh)
    except Exception:
        return {}
    return entries if header == _cache_header(config) else {}


def _write_cache(path: Path, config: Config, entries: dict[str, Any]) -> None:
    import pickle

    from blogtool.content.editing import write_atomic

    try:
        data = pickle.dumps((_cache_header(config), entries), protocol=pickle.HIGHEST_PROTOCOL)
        write_atomic(path, data, durable=False)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _sort_key(item: Item) -> tuple[int, float, str]:
    return (item.date is None, item.date.timestamp() if item.date else 0.0, str(item.path))


def _cross_checks(items: list[Item], config: Config) -> list[Problem]:
    problems: list[Problem] = []
    by_slug: dict[str, Item] = {}
    reserved = {config.tips.slug, "tagg", "tjanst", "arkiv", "sida", "feed", "static"}
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
