"""The editor's live preview: one item rendered as the site will show it, with the site's own
templates and stylesheet, and nothing else of the site rendered.

The site (every item, for a tip's neighbours and numbers, and the links between items) is
read once and read again only when a file was added, removed or replaced. The page's links
lead below ``PREFIX`` on the studio's own host, where the stylesheet and the item's pictures
(made as the build makes them, from the same cache) are served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from pathlib import Path

from blogtool.config import Config
from blogtool.content.load import load_site
from blogtool.content.model import Item, Site
from blogtool.pictures import variants
from blogtool.pictures.markup import wanted
from blogtool.site.pages import SiteView, page_environment
from blogtool.site.templates import PACKAGE_TEMPLATES
from blogtool.site.urls import STATIC_DIR

PREFIX = "/preview/"  # where the preview's pages and files are, on the studio's host
CACHE = "studio-preview"  # a preview's pages are made from nothing: no digests kept


def _signature(config: Config) -> tuple[int, ...]:
    """Changes when a post or tip is added, removed or replaced (as editors and git write
    files), or the configuration changes."""
    out = []
    for path in (config.posts_dir, config.tips_dir, config.path):
        try:
            out.append(path.stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


class Previewer:
    def __init__(self, config: Config):
        self.config = config
        # The site as the preview shows it: its links below PREFIX on the studio's host.
        site = dataclasses.replace(config.site, base_url=f"http://studio.invalid{PREFIX}")
        self.shown = dataclasses.replace(config, site=site)
        self.env = page_environment(self.shown, preview=True)
        self.lock = threading.Lock()
        self.rendering = threading.Lock()
        self._site: Site | None = None
        self._signature: tuple[int, ...] = ()
        self.files: dict[str, Path] = {}  # the preview's pictures: path below PREFIX -> file

    def site(self) -> Site:
        """Every item, read again only after a file was added, removed or replaced."""
        signature = _signature(self.config)
        with self.lock:
            if self._site is None or signature != self._signature:
                cache = self.config.state_dir / "cache" / "content"
                self._site = load_site(self.config, cache)
                self._signature = signature
            return self._site

    def forget(self) -> None:
        """Read the site again next time (a file was written)."""
        with self.lock:
            self._site = None

    def page(self, item: Item, now: dt.datetime) -> bytes:
        """``item`` (as it is being written) on its page, among the site's other items."""
        site = self.site()
        others = tuple(i for i in site.items if i.path != item.path)
        shown = Site(self.shown, (*others, item), ())
        made, _count = variants.prepare(self.config, wanted(self.config, [item]), 1)
        for picture in made.values():
            for variant in picture.variants:
                self.files[variant.path] = variant.file
            if picture.vector:
                self.files[picture.source] = self.config.root / picture.source
        with self.rendering:  # a view sets the environment's globals for its own pages
            view = SiteView(shown, now, True, True, CACHE, made, self.env)
            return view.item_page(item)

    def file(self, path: str) -> Path | None:
        """A file the preview's pages load (``path`` below PREFIX): the stylesheet and the
        theme's files, and the pictures of items previewed."""
        if path.startswith(f"{STATIC_DIR}/"):
            name = path[len(STATIC_DIR) + 1 :]
            for base in (
                self.config.root / STATIC_DIR,
                self.config.templates_dir / STATIC_DIR,
                PACKAGE_TEMPLATES / STATIC_DIR,
            ):
                found = (base / name).resolve()
                if found.is_relative_to(base.resolve()) and found.is_file():
                    return found
            return None
        return self.files.get(path)
