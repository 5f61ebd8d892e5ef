"""Where everything lives on the published site. One place decides every URL and output path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import urlsplit

from blogtool.config import Config
from blogtool.content.model import Item, Kind
from blogtool.slugs import slugify

STATIC_DIR = "static"
MEDIA_DIR = "media"  # the site's own media/ folder, when an SVG is published from it
SEARCH_INDEX_DIR = "pagefind"
FEED_NAMES = ("feed.xml", "atom.xml")
#: The [urls] words that name a folder of the published site.
SITE_SEGMENTS = ("tag", "archive", "service", "page", "search", "pictures", "accessibility")


def segments(config: Config) -> dict[str, str]:
    """The site's folders by [urls] key: {'tag': 'tagg', ...}."""
    return {key: getattr(config.urls, key) for key in SITE_SEGMENTS}


def reserved_slugs(config: Config) -> set[str]:
    """Top-level names the site's own pages use; a post with one of them as its slug would
    overwrite (or be overwritten by) them."""
    names = {config.tips.slug, STATIC_DIR, MEDIA_DIR, SEARCH_INDEX_DIR}
    names |= set(segments(config).values())
    return names | {name.split(".")[0] for name in FEED_NAMES}


class Urls:
    """Paths are relative to the site root, without a leading slash, and end in '/' for pages
    (served as ``index.html``) or in a file name."""

    def __init__(self, config: Config):
        self.base = config.site.base_url
        self.prefix = urlsplit(self.base).path or "/"
        self.series = config.tips.slug + "/"
        u = config.urls
        self.tag_dir, self.archive_dir, self.service_dir = u.tag, u.archive, u.service
        self.page_dir, self.search_dir, self.picture_dir = u.page, u.search, u.pictures
        self.accessibility_dir = u.accessibility

    # paths -----------------------------------------------------------------------------------
    def item(self, item: Item) -> str:
        return f"{self.series}{item.slug}/" if item.kind is Kind.TIP else f"{item.slug}/"

    def home(self, page: int = 1) -> str:
        return "" if page == 1 else f"{self.page_dir}/{page}/"

    def tag(self, tag: str) -> str:
        return f"{self.tag_dir}/{slugify(tag) or self.tag_dir}/"

    def tag_index(self) -> str:
        return f"{self.tag_dir}/"

    def service(self, key: str) -> str:
        return f"{self.service_dir}/{key}/"

    def service_index(self) -> str:
        return f"{self.service_dir}/"

    def archive_year(self, year: int) -> str:
        return f"{self.archive_dir}/{year}/"

    def search(self) -> str:
        return f"{self.search_dir}/"

    def accessibility(self) -> str:
        return f"{self.accessibility_dir}/"

    def archive(self, month: dt.date | None = None) -> str:
        if month is None:
            return f"{self.archive_dir}/"
        return f"{self.archive_dir}/{month.year}/{month.month:02d}/"

    def feed(self, series: bool = False, atom: bool = False) -> str:
        name = FEED_NAMES[1] if atom else FEED_NAMES[0]
        return f"{self.series}{name}" if series else name

    # as links ----------------------------------------------------------------------------------
    def href(self, path: str) -> str:
        """A root-relative link that also works when the site lives below a sub-path."""
        return self.prefix + path

    def absolute(self, path: str) -> str:
        return self.base + path

    def sources(self, items: Iterable[Item]) -> dict[str, str]:
        """Each item's source path (as links in a body name it) -> its root-relative URL."""
        return {item.rel: self.href(self.item(item)) for item in items}
