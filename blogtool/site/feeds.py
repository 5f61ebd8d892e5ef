"""RSS 2.0 and Atom feeds with feedgen, built to the RSS Advisory Board profile.

Absolute links, a stable guid (the item's permalink), RFC 822 dates with English names and
numeric offsets, ``atom:link rel="self"``, the summary in ``description`` and the full, sanitised
HTML in ``content:encoded``. ``lastBuildDate`` is the newest item's date, so a rebuild with
nothing changed gives a byte-identical feed.
"""

from __future__ import annotations

import datetime as dt
import html as htmllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from blogtool.config import Config
from blogtool.content.model import Item

if TYPE_CHECKING:
    from feedgen.feed import FeedGenerator

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class FeedEntry:
    item: Item
    url: str  # absolute permalink
    summary: str  # plain text
    html: str  # sanitised, absolute
    # The lead picture: absolute URL, bytes, type, width, height.
    image: tuple[str, int, str, int, int] | None = None


def _generator(
    config: Config, title: str, description: str, home: str, self_url: str, updated: dt.datetime
) -> FeedGenerator:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.load_extension("media")
    fg.id(home)
    fg.title(title)
    fg.description(description)
    fg.subtitle(description)
    # feedgen uses the last link as the RSS <link>: self first, the site last.
    kind = "application/atom+xml" if self_url.endswith("atom.xml") else "application/rss+xml"
    fg.link(href=self_url, rel="self", type=kind)
    fg.link(href=home, rel="alternate")
    fg.language(config.site.language)
    fg.lastBuildDate(updated)
    fg.updated(updated)
    fg.generator("blogtool", uri="https://pypi.org/project/blogtool/")
    # Atom needs an author for the feed (or for every entry).
    fg.author(name=config.site.author or config.site.title)
    return fg


def render_feed(
    config: Config,
    entries: list[FeedEntry],
    *,
    title: str,
    description: str,
    home: str,
    self_url: str,
    atom: bool = False,
) -> bytes:
    """One feed, newest entry first (``entries`` must already be in that order)."""
    updated = max((e.item.date for e in entries if e.item.date), default=EPOCH)
    fg = _generator(config, title, description, home, self_url, updated)
    for entry in entries:
        item = entry.item
        assert item.date is not None
        fe = fg.add_entry(order="append")
        fe.id(entry.url)
        fe.guid(entry.url, permalink=True)
        fe.title(item.title)
        fe.link(href=entry.url)
        fe.published(item.date)
        fe.updated(item.date)
        fe.pubDate(item.date)
        for tag in item.tags:
            fe.category(term=tag)
        if entry.image is not None:
            url, length, mime, width, height = entry.image
            fe.media.content(
                url=url,
                fileSize=str(length),
                type=mime,
                medium="image",
                width=str(width),
                height=str(height),
                group=None,
            )
            if not atom:  # (feedgen writes Atom's rel="enclosure" link without its rel)
                fe.enclosure(url, str(length), mime)
        if atom:
            fe.summary(entry.summary)
            fe.content(entry.html, type="html")
            if item.author:
                fe.author(name=item.author)
        else:
            # RSS readers show a description as HTML: the plain summary is escaped for it.
            fe.description(htmllib.escape(entry.summary, quote=False))
            fe.content(entry.html, type="CDATA")
            if item.author:
                fe.dc.dc_creator(item.author)
    data: bytes = fg.atom_str(pretty=True) if atom else fg.rss_str(pretty=True)
    return data
