"""Every page of the site: the page types of ``pages.py`` and ``indexes.py``, in one plan."""

from __future__ import annotations

from collections.abc import Callable

from blogtool.site.accessibility import statement_page
from blogtool.site.engine import Page, place
from blogtool.site.indexes import (
    archive_pages,
    picture_files,
    redirect_pages,
    search_page,
    service_index,
    sitemap_robots_404,
    static_files,
    tag_index,
    year_pages,
)
from blogtool.site.moved import moved_pages
from blogtool.site.pages import (
    SiteView,
    feed_pages,
    home_pages,
    item_pages,
    series_page,
    service_pages,
    tag_pages,
)

PAGE_TYPES: list[Callable[[SiteView], list[Page]]] = [
    item_pages,
    home_pages,
    series_page,
    tag_pages,
    tag_index,
    service_pages,
    service_index,
    archive_pages,
    year_pages,
    search_page,
    statement_page,
    feed_pages,
    sitemap_robots_404,
    static_files,
    picture_files,
    redirect_pages,
]


def plan(view: SiteView, earlier: dict[str, list[str]] | None = None) -> list[Page]:
    """Every page; an old address that a real page now has keeps the real page. ``earlier``:
    the [urls] words earlier builds used (``moved.former``), whose pages redirect here."""
    pages = [
        p for page_type in PAGE_TYPES if page_type is not redirect_pages for p in page_type(view)
    ]
    taken = {place(p.path) for p in pages}
    old = redirect_pages(view, taken) + (moved_pages(view, pages, earlier) if earlier else [])
    return pages + [p for p in old if place(p.path) not in taken]
