"""Pictures in pages, feeds and mail: the markup for the files ``variants.py`` made.

A page gets ``<picture>`` with WebP and the original's format in every width (``srcset`` and
``sizes``), ``width`` and ``height`` (no layout shift) and ``loading="lazy"`` below the fold. A
feed gets one plain ``<img>`` with an absolute URL; the newsletter one at its column's width,
made at twice that for sharp screens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html import escape
from html import unescape as html_unescape
from pathlib import Path
from typing import Protocol

from blogtool.config import Config
from blogtool.pictures import sources
from blogtool.pictures.variants import MAIL_WIDTH, SHARE_WIDTH, Picture, Variant

# The text column of the default theme is about 45rem wide; on a phone, the screen.
SIZES = "(min-width: 48rem) 45rem, 100vw"
MAIL_COLUMN = 552  # the newsletter's text column (600 less its padding)
MAIL_STYLE = "display:block;width:100%;max-width:552px;height:auto;border:0"
THUMB_SIZES = "8rem"

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'([a-zA-Z-]+)="([^"]*)"')


class Showing(Protocol):
    """What a picture is looked up for: a post or tip (``content.model.Item``)."""

    @property
    def path(self) -> Path: ...  # the item's file, relative to the site
    @property
    def image(self) -> str | None: ...  # its lead picture, as written
    @property
    def links(self) -> tuple[tuple[int, str, bool], ...] | None: ...  # (offset, target, image)


def wanted(config: Config, items: Iterable[Showing]) -> set[str]:
    """Every picture ``items`` show, and the site's own: items' lead pictures and body
    pictures, the site's picture and logo, the services' pictures (site-relative originals
    that exist)."""
    found: set[str] = set()
    for item in items:
        lead, links = item.image, item.links
        if not lead and not links:
            continue  # (most items: no picture, no link)
        refs = [lead] if lead else []
        refs += [target for _o, target, image in links or () if image]
        for ref in refs:
            path = sources.find(config, ref, item.path)
            if path is not None and Path(path).suffix.lower() in sources.RASTER | sources.VECTOR:
                found.add(path)
    named = [config.site.image, config.site.logo, *(s.image for s in config.services.values())]
    for name in named:
        where = sources.find(config, name, None) if name else None
        if where is not None:
            found.add(where)
    return found


class Pictures:
    """The made pictures of one build, and their markup."""

    def __init__(
        self,
        config: Config,
        made: dict[str, Picture],
        href: Callable[[str], str],
        absolute: Callable[[str], str],
    ):
        self.config, self.made, self.href, self.absolute = config, made, href, absolute
        self._found: dict[tuple[str, Path | None], Picture | None] = {}

    def find(self, ref: str | None, item: Showing | None = None) -> Picture | None:
        """The made picture ``ref`` names (in ``item``), looked up once per build: digests,
        pages and feeds all ask."""
        if not ref:
            return None
        key = (ref, item.path if item is not None else None)
        if key not in self._found:
            path = sources.find(self.config, ref, key[1])
            self._found[key] = self.made.get(path) if path is not None else None
        return self._found[key]

    def digest(self, refs: Iterable[tuple[str | None, Showing | None]]) -> list[str]:
        """What a page's digest needs of the pictures it shows: their published files."""
        out = []
        for ref, item in refs:
            pic = self.find(ref, item)
            out.append(pic.variants[-1].path if pic and pic.variants else str(ref))
        return out

    # markup ---------------------------------------------------------------------------------
    def page_html(
        self, pic: Picture, alt: str, *, lazy: bool = True, sizes: str = SIZES, css: str = ""
    ) -> str:
        cls = f' class="{escape(css)}"' if css else ""
        if pic.vector:
            return f'<img{cls} src="{self.href(pic.source)}" alt="{escape(alt)}">'
        fallback = pic.at_least(960)
        loading = ' loading="lazy"' if lazy else ' fetchpriority="high"'
        srcset = ", ".join(f"{self.href(v.path)} {v.width}w" for v in _page_widths(pic, None))
        webp = ", ".join(f"{self.href(v.path)} {v.width}w" for v in _page_widths(pic, "webp"))
        return (
            f'<picture><source type="image/webp" srcset="{webp}" sizes="{sizes}">'
            f'<img{cls} src="{self.href(fallback.path)}" srcset="{srcset}" sizes="{sizes}" '
            f'width="{pic.width}" height="{pic.height}" alt="{escape(alt)}"{loading} '
            'decoding="async"></picture>'
        )

    def plain_html(self, pic: Picture, alt: str, width: int, style: str = "") -> str:
        """One ``<img>`` with an absolute URL (feeds, mail), shown ``width`` wide; in mail
        (``width`` up to the column's) made at twice that, for sharp screens."""
        css = f' style="{escape(style)}"' if style else ""
        if pic.vector:
            return f'<img src="{self.absolute(pic.source)}" alt="{escape(alt)}"{css}>'
        made = pic.at_least(MAIL_WIDTH * 2 if width <= MAIL_WIDTH else width)
        shown = min(width, pic.width)
        height = round(pic.height * shown / pic.width)
        return (
            f'<img src="{self.absolute(made.path)}" width="{shown}" height="{height}" '
            f'alt="{escape(alt)}"{css}>'
        )

    def share(self, pic: Picture | None) -> Variant | None:
        """The variant for og:image (1200 wide, or the widest there is)."""
        return None if pic is None or pic.vector else pic.at_least(SHARE_WIDTH)

    def embed(self, html: str, item: Showing, mode: str = "page") -> str:
        """Every ``<img>`` of a body whose source is a made picture, as ``mode`` wants it."""

        def swap(m: re.Match[str]) -> str:
            attrs = {k.lower(): html_unescape(v) for k, v in _ATTR.findall(m.group(0))}
            pic = self.find(attrs.get("src"), item)
            if pic is None:
                return m.group(0)
            alt = attrs.get("alt", "")
            if mode == "page":
                return self.page_html(pic, alt)
            if mode == "mail":
                return self.plain_html(pic, alt, MAIL_COLUMN, MAIL_STYLE)
            return self.plain_html(pic, alt, 960)

        return _IMG.sub(swap, html)


def _page_widths(pic: Picture, ext: str | None) -> list[Variant]:
    """The widths a page offers (the share and mail sizes are for elsewhere)."""
    mime = "image/webp" if ext == "webp" else pic.fallback_mime
    pool = [v for v in pic.of(mime) if v.width not in (SHARE_WIDTH, MAIL_WIDTH * 2)]
    return pool or pic.of(mime)
