"""The site's other pages: index pages of topics, services and years, the search page, the
published pictures, and the sitemap, robots.txt, 404, static files and redirects. Like
``pages.py``: one function per page type, each returning its pages with their digests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Collection
from functools import partial
from pathlib import Path
from typing import Any

from blogtool.content.model import Item
from blogtool.files import check_source
from blogtool.pictures import variants
from blogtool.pictures.metadata import MetadataError, without_metadata
from blogtool.site.engine import BuildError, Page, digest, place
from blogtool.site.pages import SiteView
from blogtool.site.templates import PACKAGE_TEMPLATES, render
from blogtool.site.urls import STATIC_DIR
from blogtool.timeutil import month_year


def tag_index(v: SiteView) -> list[Page]:
    """/tagg/: every topic, with how many items it has."""
    tags = _tag_list(v)
    produce = partial(
        v.page,
        "tags.html",
        tags=tags,
        page_title=v.word("tags_title"),
        canonical=v.urls.tag_index(),
        section="archive",
    )
    return [v.spec(v.urls.tag_index(), [json.dumps(tags)], produce)]


def _tag_list(v: SiteView) -> list[dict[str, Any]]:
    """Every tag with its page and how many items it has, by name (the tag index and the
    archive show it)."""
    by_tag, names = v.by_tag
    return [
        {"name": names[p], "path": p, "count": len(items)}
        for p, items in sorted(by_tag.items(), key=lambda kv: names[kv[0]].lower())
    ]


def service_index(v: SiteView) -> list[Page]:
    """/tjanst/: every service, with its picture and how many tips featured it."""
    if not v.config.tips.enabled:
        return []
    counts = {key: sum(1 for t in v.tips if t.service == key) for key in v.config.services}
    entries = [{"service": s, "count": counts[k]} for k, s in v.config.services.items()]
    inputs = [json.dumps(counts)]
    inputs += v.pictures.digest([(s.image, None) for s in v.config.services.values()])
    produce = partial(
        v.page,
        "services.html",
        entries=entries,
        page_title=v.word("services_title"),
        canonical=v.urls.service_index(),
        section="services",
    )
    return [v.spec(v.urls.service_index(), inputs, produce)]


def year_pages(v: SiteView) -> list[Page]:
    """/arkiv/2026/: everything of one year."""
    by_year: dict[int, list[Item]] = defaultdict(list)
    local = v.local_dates
    for item in v.items:
        if item.slug in local:
            by_year[local[item.slug].year].append(item)
    pages = []
    for year, items in sorted(by_year.items()):
        path = v.urls.archive_year(year)
        heading = v.word("year_heading", year)
        produce = v.listing(path, items, heading, section="archive")
        pages.append(v.spec(path, [year, *v.listed_of(items)], produce))
    return pages


def search_page(v: SiteView) -> list[Page]:
    """/sok/: the search (Pagefind's index is made over the finished release)."""
    produce = partial(
        v.page,
        "search.html",
        page_title=v.word("search_title"),
        canonical=v.urls.search(),
        section="search",
    )
    return [v.spec(v.urls.search(), [], produce)]


def picture_files(v: SiteView) -> list[Page]:
    """The files of every made picture the build's items and the site show; their names
    carry their content's digest. (A picture only an unpublished item shows is made, so the
    item's preview and its publication find it ready, but not published.)"""
    pages = []
    for source, picture in v.pictures.made.items():
        if source not in v.shown_pictures:
            continue
        for path, file in variants.publishable(picture, v.config):
            # The name carries the digest of the original and of how it was made.
            pages.append(Page(path, digest("picture", path), partial(file.read_bytes)))
    return pages


def sitemap_robots_404(v: SiteView) -> list[Page]:
    urls = v.urls
    series = v.config.tips.enabled
    listed = [urls.home(), *([urls.series] if series else []), urls.archive()]
    listed += [urls.accessibility()] if v.config.accessibility.enabled else []
    listed += [urls.service(k) for k in v.config.services] if series else []
    found: list[tuple[str, str | None]] = [(p, None) for p in listed]
    found += [
        (urls.item(i), date.date().isoformat() if (date := i.values["date"]) else None)
        for i in v.published
    ]
    robots = (
        "User-agent: *\nDisallow: /\n"
        if v.preview
        else f"User-agent: *\nAllow: /\n\nSitemap: {urls.absolute('sitemap.xml')}\n"
    )

    def sitemap() -> bytes:
        entries = [{"path": path, "lastmod": lastmod} for path, lastmod in found]
        return render(v.env, "sitemap.xml", v.config, entries=entries).encode("utf-8")

    not_found = partial(v.page, "404.html", page_title=v.word("not_found_title"), canonical=None)
    return [
        v.spec("sitemap.xml", [f"{path}\x1e{lastmod}" for path, lastmod in found], sitemap),
        v.spec("robots.txt", [robots], partial(robots.encode, "utf-8")),
        v.spec("404.html", [], not_found),
    ]


def static_files(v: SiteView) -> list[Page]:
    """The package's theme, overridden by the site's templates/static and static/."""
    found: dict[str, Path] = {}
    for base in (
        PACKAGE_TEMPLATES / STATIC_DIR,
        v.config.templates_dir / STATIC_DIR,
        v.config.root / STATIC_DIR,
    ):
        if base.is_dir():
            for f in sorted(base.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    found[f"{STATIC_DIR}/" + f.relative_to(base).as_posix()] = f
    pages = []
    for path, source in sorted(found.items()):
        if source.is_relative_to(v.config.root):
            refused = check_source(source, v.config.root)
            if refused is not None:
                rel = source.relative_to(v.config.root)
                raise BuildError(f"{rel}: {refused}")
        data = source.read_bytes()
        try:
            data = without_metadata(data, source.name)  # no GPS position from a phone photo
        except MetadataError as exc:
            raise BuildError(f"{_shown(source, v)}: {exc}") from None
        pages.append(
            Page(path, digest("static", hashlib.sha256(data).hexdigest()), partial(bytes, data))
        )
    return pages


def _shown(path: Path, v: SiteView) -> str:
    return str(path.relative_to(v.config.root)) if path.is_relative_to(v.config.root) else str(path)


def redirect_pages(v: SiteView, taken: Collection[str] = ()) -> list[Page]:
    """A page at each old address an item lists in ``aliases`` (an imported blog's URLs), and
    redirects.map, which nginx can include for real 301s. An address a page of the site has
    (``taken``, as ``engine.place`` gives them) keeps its page, and is not in the map."""
    pages, lines = [], []
    taken = {*taken, "redirects.map"}
    for item in v.published:
        if not item["aliases"]:
            continue
        target = v.urls.href(v.urls.item(item))
        for alias in item["aliases"]:
            path = alias.lstrip("/")
            if not path or path.endswith(".html"):
                out = path or "index.html"
            else:
                out = path.rstrip("/") + "/"
            if place(out) in taken:
                continue
            lines.append(f"{alias} {target};")
            produce = partial(
                v.page, "redirect.html", title=item.title, target=v.urls.absolute(v.urls.item(item))
            )
            pages.append(v.spec(out, [v.digests[item.slug], alias], produce))
    if lines:
        text = "\n".join(sorted(lines)) + "\n"
        pages.append(v.spec("redirects.map", [text], partial(text.encode, "utf-8")))
    return pages


def _by_month(v: SiteView) -> dict[dt.date, list[Item]]:
    by_month: dict[dt.date, list[Item]] = defaultdict(list)
    local = v.local_dates
    for item in v.items:
        if item.slug in local:
            when = local[item.slug]
            by_month[dt.date(when.year, when.month, 1)].append(item)
    return by_month


def archive_pages(v: SiteView) -> list[Page]:
    lang = v.config.site.language
    by_month = _by_month(v)
    pages = []
    for month, items in sorted(by_month.items()):
        path = v.urls.archive(month)
        heading = v.word("month_heading", month_year(month, lang))
        produce = v.listing(path, items, heading, section="archive")
        pages.append(v.spec(path, v.listed_of(items), produce))
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for month in sorted(by_month, reverse=True):
        label = month_year(month, lang)
        years[month.year].append(
            {"path": v.urls.archive(month), "label": label, "count": len(by_month[month])}
        )
    tag_list = _tag_list(v)
    produce = partial(
        v.page,
        "archive.html",
        years=sorted(years.items(), reverse=True),
        tags=tag_list,
        page_title=v.word("archive_title"),
        canonical=v.urls.archive(),
        section="archive",
    )
    inputs = [json.dumps(sorted(years.items()), default=str), json.dumps(tag_list)]
    pages.append(v.spec(v.urls.archive(), inputs, produce))
    return pages
