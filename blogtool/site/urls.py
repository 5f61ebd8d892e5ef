"""Where everything lives on the published site. One place decides every URL and output path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import urlsplit

from blogtool.config import Config
from blogtool.content.model import Item, Kind
from blogtool.slugs import slugify

TAG_DIR = "tagg"
SERVICE_DIR = "tjanst"
ARCHIVE_DIR = "arkiv"
PAGE_DIR = "sida"
SEARCH_DIR = "sok"
STATIC_DIR = "static"
PICTURE_DIR = "bilder"  # made pictures; keep in step with site/images.OUT
MEDIA_DIR = "media"  # the site's own media/ folder, when an SVG is published from it
SEARCH_INDEX_DIR = "pagefind"
FEED_NAMES = ("feed.xml", "atom.xml")


def reserved_slugs(config: Config) -> set[str]:
    """Top-level names the site's own pages use; a post with one of them as its slug would
    overwrite (or be overwritten by) them."""
    names = {config.tips.slug, TAG_DIR, SERVICE_DIR, ARCHIVE_DIR, PAGE_DIR, STATIC_DIR}
    names |= {SEARCH_DIR, PICTURE_DIR, MEDIA_DIR, SEARCH_INDEX_DIR}
    return names | {name.split(".")[0] for name in FEED_NAMES}


class Urls:
    """Paths are relative to the site root, without a leading slash, and end in '/' for pages
    (served as ``index.html``) or in a file name."""

    def __init__(self, config: Config):
        self.base = config.site.base_url
        self.prefix = urlsplit(self.base).path or "/"
        self.series = config.tips.slug + "/"

    # paths -----------------------------------------------------------------------------------
    def item(self, item: Item) -> str:
        return f"{self.series}{item.slug}/" if item.kind is Kind.TIP else f"{item.slug}/"

    def home(self, page: int = 1) -> str:
        return "" if page == 1 else f"{PAGE_DIR}/{page}/"

    def tag(self, tag: str) -> str:
        return f"{TAG_DIR}/{slugify(tag) or 'tagg'}/"

    def tag_index(self) -> str:
        return f"{TAG_DIR}/"

    def service(self, key: str) -> str:
        return f"{SERVICE_DIR}/{key}/"

    def service_index(self) -> str:
        return f"{SERVICE_DIR}/"

    def archive_year(self, year: int) -> str:
        return f"{ARCHIVE_DIR}/{year}/"

    def search(self) -> str:
        return f"{SEARCH_DIR}/"

    def archive(self, month: dt.date | None = None) -> str:
        if month is None:
            return f"{ARCHIVE_DIR}/"
        return f"{ARCHIVE_DIR}/{month.year}/{month.month:02d}/"

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
        return {item.path.as_posix(): self.href(self.item(item)) for item in items}
