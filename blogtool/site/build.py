"""The static site: plan every page with a digest of its inputs, render only what changed, and
swap the results in only after everything has rendered.

A page is re-rendered when its digest differs from the one recorded at the last build (or its
file is missing). The digest covers the page's own inputs (the items it shows, their status) and a
fingerprint of everything every page depends on (templates, config, blogtool's version, build
flags), so a rebuild with nothing changed renders nothing and touches no file, a changed post
re-renders that post and the pages that list it, and a changed template rebuilds everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from markupsafe import Markup

from blogtool.config import Config
from blogtool.content.model import Item, Kind, Site, Status
from blogtool.errors import BlogtoolError, UsageError
from blogtool.files import write_atomic
from blogtool.site.feeds import FeedEntry, render_feed
from blogtool.site.render import excerpt, portable, to_html
from blogtool.site.templates import fingerprint, make_environment, render
from blogtool.site.urls import Urls
from blogtool.timeutil import month_year, weekday_name

MANIFEST_VERSION = 1
PARALLEL_THRESHOLD = 150  # below this many item pages a process pool costs more than it saves

Progress = Callable[[int], None]


@dataclass(frozen=True)
class BuildOptions:
    output: Path
    drafts: bool = False
    future: bool = False
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(frozen=True)
class BuildResult:
    output: Path
    written: int
    skipped: int
    removed: int
    seconds: float

    @property
    def total(self) -> int:
        return self.written + self.skipped

    def summary(self) -> str:
        return (
            f"Built {self.output}: {self.written} written, {self.skipped} unchanged, "
            f"{self.removed} removed in {self.seconds:.2f} s"
        )


class BuildError(BlogtoolError):
    """The build failed; the previous output is untouched."""


@dataclass
class _Page:
    path: str  # site path, e.g. "torsdagstips/slug/" or "feed.xml"
    digest: str
    produce: Callable[[], bytes] | None = None  # None: an item page, rendered by a worker
    item_index: int = -1


def _hash(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def check_output_dir(config: Config, output: Path) -> Path:
    """Refuse an output directory that would overwrite or swallow the site's sources."""
    out = output.resolve()
    root = config.root.resolve()
    if out == root:
        raise UsageError(f"output directory {output} is the site itself; choose e.g. public/")
    for directory in (config.posts_dir, config.tips_dir, config.templates_dir, config.state_dir):
        d = directory.resolve()
        # The preview lives inside the state directory; anywhere else inside a source is refused.
        inside = out.is_relative_to(d) and directory != config.state_dir
        if out == d or d.is_relative_to(out) or inside:
            raise UsageError(
                f"output directory {output} is or contains {d.relative_to(root)}/; "
                "it would overwrite the site's sources; choose e.g. public/"
            )
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {output} exists and is not a directory")
    return out


# --- the build context, shared with worker processes -----------------------------------------


class _Context:
    def __init__(self, site: Site, now: dt.datetime, options: BuildOptions):
        self.config = site.config
        self.now = now
        self.options = options
        self.urls = Urls(self.config)
        self.preview = options.drafts or options.future
        shown = {Status.PUBLISHED}
        if options.drafts:
            shown.add(Status.DRAFT)
        if options.future:
            shown.add(Status.SCHEDULED)
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        self.items = sorted(
            (i for i in site.items if i.status(now) in shown),
            key=lambda i: (i.date or far, i.slug),
            reverse=True,
        )
        self.status = {i.slug: i.status(now).value for i in self.items}
        self.digests = {i.slug: i.digest(self.status[i.slug]) for i in self.items}
        self.published = [i for i in self.items if self.status[i.slug] == "published"]
        tips_oldest_first = sorted(
            (i for i in self.items if i.kind is Kind.TIP), key=lambda i: (i.date or far, i.slug)
        )
        self.tip_numbers = {t.slug: n for n, t in enumerate(tips_oldest_first, 1)}
        self.env = make_environment(
            self.config, lambda item: self.status.get(item.slug, "published"), preview=self.preview
        )
        self.staging: Path | None = None

    def summary(self, item: Item) -> str:
        return item.summary or excerpt(item.body) or item.title

    def entries(self, items: Iterable[Item]) -> list[dict[str, Any]]:
        return [{"item": i, "summary": self.summary(i)} for i in items]

    def list_page(self, template: str, items: list[Item], **context: Any) -> bytes:
        """A page listing ``items``; their summaries are worked out only if it is rendered."""
        return self.page(template, entries=self.entries(items), **context)

    def page(self, template: str, **context: Any) -> bytes:
        context.setdefault("description", "")
        context.setdefault("section", "")
        context.setdefault("canonical", None)
        return render(self.env, template, self.config, **context).encode("utf-8")

    def item_page(self, item: Item) -> bytes:
        service = self.config.services.get(item.service or "")
        return self.page(
            "item.html",
            item=item,
            html=Markup(to_html(item.body)),
            service=service,
            number=self.tip_numbers.get(item.slug) if item.kind is Kind.TIP else None,
            page_title=item.title,
            description=self.summary(item),
            canonical=self.urls.item(item),
            section="series" if item.kind is Kind.TIP else "",
        )

    def feed_entry(self, item: Item) -> FeedEntry:
        url = self.urls.absolute(self.urls.item(item))
        html = to_html(item.body)
        service = self.config.services.get(item.service or "")
        if service is not None:
            card = render(self.env, "partials/service_card.html", self.config, service=service)
            html += "\n" + card
        return FeedEntry(item=item, url=url, summary=self.summary(item), html=portable(html, url))


_CTX: _Context | None = None  # set in the parent before the pool forks
_TODO: list[_Page] = []


def _render_page(ctx: _Context, page: _Page) -> None:
    assert ctx.staging is not None
    produce = page.produce or (lambda: ctx.item_page(ctx.items[page.item_index]))
    _stage(ctx.staging, page.path, produce())


def _render_chunk(indexes: list[int]) -> int:
    ctx = _CTX
    assert ctx is not None
    for index in indexes:
        _render_page(ctx, _TODO[index])
    return len(indexes)


def _staged_name(path: str) -> str:
    # Flat names: a tree of thousands of one-file directories costs a mkdir and an rmdir each.
    return hashlib.sha1(path.encode("utf-8")).hexdigest()


def _stage(staging: Path, path: str, data: bytes) -> None:
    fd = os.open(staging / _staged_name(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


# --- planning ----------------------------------------------------------------------------------


def _plan(ctx: _Context, global_fp: str) -> list[_Page]:
    config, urls = ctx.config, ctx.urls
    pages: list[_Page] = []

    def add(path: str, inputs: list[object], produce: Callable[[], bytes]) -> None:
        pages.append(_Page(path, _hash(global_fp, path, *inputs), produce))

    # One page per item.
    for index, item in enumerate(ctx.items):
        path = urls.item(item)
        number = ctx.tip_numbers.get(item.slug, "")
        pages.append(
            _Page(path, _hash(global_fp, path, ctx.digests[item.slug], number), None, index)
        )

    def digests(items: Iterable[Item]) -> list[object]:
        return [ctx.digests[i.slug] for i in items]

    # Home, paginated.
    per_page = config.build.per_page
    n_pages = max(1, -(-len(ctx.items) // per_page))
    for page in range(1, n_pages + 1):
        chunk = ctx.items[(page - 1) * per_page : page * per_page]
        add(
            urls.home(page),
            [page, n_pages, *digests(chunk)],
            partial(
                ctx.list_page,
                "index.html",
                chunk,
                page=page,
                pages=n_pages,
                page_title=config.site.title,
                description=config.site.title,
                canonical=urls.home(page),
                section="home" if page == 1 else "",
            ),
        )

    # The series, numbered, newest first.
    tips = [i for i in ctx.items if i.kind is Kind.TIP]
    add(
        urls.series,
        [*digests(tips), *(ctx.tip_numbers[t.slug] for t in tips)],
        lambda: ctx.page(
            "series.html",
            entries=[
                {
                    "item": t,
                    "number": ctx.tip_numbers[t.slug],
                    "summary": ctx.summary(t),
                    "service": config.services.get(t.service or ""),
                }
                for t in tips
            ],
            weekday_label=weekday_name(config.tips.weekday, config.site.language),
            page_title=config.tips.title,
            canonical=urls.series,
            section="series",
        ),
    )

    # Tags.
    by_tag: dict[str, list[Item]] = defaultdict(list)
    tag_names: dict[str, str] = {}
    for item in ctx.items:
        for tag in item.tags:
            key = urls.tag(tag)
            by_tag[key].append(item)
            tag_names.setdefault(key, tag)
    for path, items in sorted(by_tag.items()):
        name = tag_names[path]
        add(
            path,
            digests(items),
            partial(
                ctx.list_page,
                "listing.html",
                items,
                heading=f"Ämne: {name}",
                intro="",
                service=None,
                page_title=f"Ämne: {name}",
                canonical=path,
            ),
        )

    # Featured services, with the tips that featured them.
    for key, service in config.services.items():
        featured = [t for t in tips if t.service == key]
        path = urls.service(key)
        add(
            path,
            digests(featured),
            partial(
                ctx.list_page,
                "listing.html",
                featured,
                heading=service.name,
                intro=f"{config.tips.title} som har tipsat om {service.name}.",
                service=service,
                page_title=service.name,
                description=service.description,
                canonical=path,
            ),
        )

    # Monthly archive.
    by_month: dict[dt.date, list[Item]] = defaultdict(list)
    for item in ctx.items:
        if item.date is not None:
            local = item.date.astimezone(config.site.timezone)
            by_month[dt.date(local.year, local.month, 1)].append(item)
    lang = config.site.language
    for month, items in sorted(by_month.items()):
        path = urls.archive(month)
        label = month_year(month, lang)
        add(
            path,
            digests(items),
            partial(
                ctx.list_page,
                "listing.html",
                items,
                heading=f"Arkiv: {label}",
                intro="",
                service=None,
                page_title=f"Arkiv: {label}",
                canonical=path,
                section="archive",
            ),
        )
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for month in sorted(by_month, reverse=True):
        years[month.year].append(
            {
                "path": urls.archive(month),
                "label": month_year(month, lang),
                "count": len(by_month[month]),
            }
        )
    tag_list = [
        {"name": tag_names[p], "path": p, "count": len(items)}
        for p, items in sorted(by_tag.items(), key=lambda kv: tag_names[kv[0]].lower())
    ]
    add(
        urls.archive(),
        [json.dumps(sorted(years.items()), default=str), json.dumps(tag_list)],
        lambda: ctx.page(
            "archive.html",
            years=sorted(years.items(), reverse=True),
            tags=tag_list,
            page_title="Arkiv",
            canonical=urls.archive(),
            section="archive",
        ),
    )

    # Feeds: only what is published, whatever the preview flags say.
    limit = config.build.feed_limit
    feeds = [
        (False, ctx.published[:limit], config.site.title, f"Allt från {config.site.title}"),
        (
            True,
            [i for i in ctx.published if i.kind is Kind.TIP][:limit],
            f"{config.tips.title} – {config.site.title}",
            f"{config.tips.title}: varje vecka ett tips om en tjänst från kommunen.",
        ),
    ]

    def feed(items: list[Item], title: str, description: str, home: str, path: str) -> bytes:
        return render_feed(
            config,
            [ctx.feed_entry(i) for i in items],
            title=title,
            description=description,
            home=home,
            self_url=urls.absolute(path),
            atom=path.endswith("atom.xml"),
        )

    for series, items, title, description in feeds:
        home = urls.absolute(urls.series if series else urls.home())
        for atom in (False, True):
            path = urls.feed(series=series, atom=atom)
            add(path, digests(items), partial(feed, items, title, description, home, path))

    # Sitemap, robots.txt, 404.
    listed = [urls.home(), urls.series, urls.archive()]
    listed += [urls.service(k) for k in config.services]
    sitemap = [{"path": p, "lastmod": None} for p in listed]
    sitemap += [
        {"path": urls.item(i), "lastmod": i.date.date().isoformat() if i.date else None}
        for i in ctx.published
    ]
    add(
        "sitemap.xml",
        [json.dumps(sitemap)],
        lambda: render(ctx.env, "sitemap.xml", config, entries=sitemap).encode("utf-8"),
    )
    robots = (
        "User-agent: *\nDisallow: /\n"
        if ctx.preview
        else f"User-agent: *\nAllow: /\n\nSitemap: {urls.absolute('sitemap.xml')}\n"
    )
    add("robots.txt", [robots], lambda: robots.encode("utf-8"))
    add(
        "404.html",
        [],
        lambda: ctx.page("404.html", page_title="Sidan finns inte", canonical=None),
    )

    # Static files: the package's theme, overridden by the site's templates/static and static/.
    static: dict[str, Path] = {}
    from blogtool.site.templates import PACKAGE_TEMPLATES

    for base in (
        PACKAGE_TEMPLATES / "static",
        config.templates_dir / "static",
        config.root / "static",
    ):
        if base.is_dir():
            for f in sorted(base.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    static["static/" + f.relative_to(base).as_posix()] = f
    for path, source in sorted(static.items()):
        data = source.read_bytes()
        pages.append(
            _Page(path, _hash("static", hashlib.sha256(data).hexdigest()), partial(bytes, data))
        )

    seen: set[str] = set()
    for planned in pages:
        out = Urls.output_file(planned.path)
        if out in seen:
            raise BuildError(f"two pages would be written to {out}; check slugs and tags")
        seen.add(out)
    return pages


# --- running a build -------------------------------------------------------------------------


def _manifest_path(config: Config, output: Path) -> Path:
    key = hashlib.sha256(str(output).encode()).hexdigest()[:16]
    return config.state_dir / "builds" / f"{key}.json"


def _load_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("version") != MANIFEST_VERSION:
        return {}
    return dict(data.get("pages", {}))


def build(
    site: Site,
    now: dt.datetime,
    options: BuildOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
    fail_after: int | None = None,
) -> BuildResult:
    """Build the site into ``options.output``. Raises with the previous output untouched.

    ``fail_after`` injects a failure after that many pages have rendered (tests only).
    """
    global _CTX
    started = time.perf_counter()
    config = site.config
    output = check_output_dir(config, options.output)
    ctx = _Context(site, now, options)
    global_fp = fingerprint(config, f"drafts={options.drafts}", f"future={options.future}")
    pages = _plan(ctx, global_fp)

    manifest_path = _manifest_path(config, output)
    old = _load_manifest(manifest_path)
    todo = [
        p
        for p in pages
        if old.get(p.path) != p.digest or not (output / Urls.output_file(p.path)).is_file()
    ]
    new_paths = {p.path for p in pages}
    stale = sorted(path for path in old if path not in new_paths)
    if on_start is not None:
        on_start(len(todo))

    if todo:
        output.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.staging-", dir=output.parent))
        ctx.staging = staging
        try:
            _render_all(ctx, todo, options.jobs, progress, fail_after)
            _commit(staging, output, todo)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            _CTX = None
    for path in stale:
        target = output / Urls.output_file(path)
        target.unlink(missing_ok=True)
        _prune_empty_dirs(target.parent, output)

    manifest = {"version": MANIFEST_VERSION, "pages": {p.path: p.digest for p in pages}}
    encoded = json.dumps(manifest, sort_keys=True, indent=0).encode("utf-8")
    if not manifest_path.is_file() or manifest_path.read_bytes() != encoded:
        write_atomic(manifest_path, encoded)
    return BuildResult(
        output=output,
        written=len(todo),
        skipped=len(pages) - len(todo),
        removed=len(stale),
        seconds=time.perf_counter() - started,
    )


def _render_all(
    ctx: _Context,
    todo: list[_Page],
    jobs: int,
    progress: Progress | None,
    fail_after: int | None,
) -> None:
    global _CTX
    assert ctx.staging is not None
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(n)
        if fail_after is not None and done >= fail_after:
            raise BuildError(f"injected failure after {done} pages")

    if len(todo) >= PARALLEL_THRESHOLD and jobs > 1:
        _CTX = ctx
        _TODO[:] = todo
        # Item pages (Markdown) first: they are the heavy ones, so the cheap pages fill the end.
        order = sorted(range(len(todo)), key=lambda i: todo[i].produce is not None)
        chunks = [order[i : i + 32] for i in range(0, len(order), 32)]
        # fork: the workers inherit the loaded site and the page plan instead of pickling them.
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                for n in pool.imap_unordered(_render_chunk, chunks):
                    tick(n)
        finally:
            _TODO.clear()
    else:
        for page in todo:
            _render_page(ctx, page)
            tick(1)


def _commit(staging: Path, output: Path, todo: list[_Page]) -> None:
    """Move every staged file into place, each with an atomic rename."""
    output.mkdir(parents=True, exist_ok=True)
    made: set[Path] = set()
    for page in todo:
        target = output / Urls.output_file(page.path)
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if target.is_dir():
            raise BuildError(f"{target} is a directory; expected to write a file there")
        os.replace(staging / _staged_name(page.path), target)


def _prune_empty_dirs(directory: Path, stop: Path) -> None:
    while directory != stop and directory.is_relative_to(stop):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
