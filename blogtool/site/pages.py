"""What a site consists of: one small function per page type, each returning its pages with a
digest of their inputs. ``PAGE_TYPES`` lists them; the engine renders whatever they return.

A page's digest covers its own inputs (the items it shows, their status) and a fingerprint of
everything every page depends on (templates, config, blogtool's code, build flags).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property, partial
from typing import Any

import jinja2
from markupsafe import Markup

from blogtool.config import Config
from blogtool.content.load import kept_html
from blogtool.content.markdown import body_html as markdown_html
from blogtool.content.model import Item, Kind, Site, Status
from blogtool.pictures.markup import SIZES, THUMB_SIZES, Pictures, wanted
from blogtool.pictures.variants import Picture
from blogtool.site.engine import ItemError, Page, digest, digest_of_text, reason_of
from blogtool.site.feeds import FeedEntry, render_feed
from blogtool.site.render import excerpt, link_sources, linked_sources, portable
from blogtool.site.sharing import json_ld, og_locale
from blogtool.site.templates import (
    Renderer,
    compile_pages,
    make_environment,
    own_html_templates,
    words,
)
from blogtool.site.urls import Urls
from blogtool.timeutil import weekday_name

_STATUS_TEXT = {status: status.value for status in Status}


class _ItemUrls(Mapping[str, str]):
    """Each shown item's source path (as links in a body name it) -> its root-relative URL
    (``Urls.sources``), worked out when first asked: a build renders few pages, and the text
    of most links to no other item's file."""

    def __init__(self, urls: Urls, items: list[Item]):
        self._urls, self._items = urls, items
        self._made: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._made is None:
            self._made = self._urls.sources(self._items)
        return self._made

    def __getitem__(self, path: str) -> str:
        return self._all()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class SiteView:
    """The site as the pages see it at ``now``: which items are shown, their status and
    digests, the tip numbers, the template environment. Worker processes inherit it."""

    def __init__(
        self,
        site: Site,
        now: dt.datetime,
        drafts: bool,
        future: bool,
        fp: str,
        made: dict[str, Picture] | None = None,
        env: jinja2.Environment | None = None,
    ):
        self.config: Config = site.config
        self.urls = Urls(self.config)
        self.pictures = Pictures(self.config, made or {}, self.urls.href, self.urls.absolute)
        # Pictures the whole site shows (the logo, the site's picture) are part of every page.
        fp = digest(
            fp,
            *self.pictures.digest([(self.config.site.logo, None), (self.config.site.image, None)]),
        )
        self.fingerprint = fp
        self.preview = drafts or future
        shown = {Status.PUBLISHED.value}
        shown |= {Status.DRAFT.value} if drafts else set()
        shown |= {Status.SCHEDULED.value} if future else set()
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        # (Slugs are unique. The text of each status from a table: an enum member's .value
        # costs more than working the status out.)
        status = {i.slug: _STATUS_TEXT[i.status(now)] for i in site.items}
        self.items = sorted(
            (i for i in site.items if status[i.slug] in shown),
            key=lambda i: (i.values["date"] or far, i.slug),
            reverse=True,
        )
        self.status = {i.slug: status[i.slug] for i in self.items}
        # The pictures this build may publish: those of the items it shows and the site's
        # own. A draft's or a scheduled post's picture appears with its post, not before.
        self.shown_pictures = wanted(self.config, self.items)
        # What a page of the item is made of: its content, its status, its pictures' files;
        # joined, not hashed (every page's digest hashes what it is made of).
        self.digests = {
            i.slug: "\x1e".join(
                [
                    i.content_digest or i.content(),
                    status[i.slug],
                    *(self.pictures.digest(_refs(i)) if i.image or i.links else ()),
                ]
            )
            for i in self.items
        }
        self.published = [i for i in self.items if self.status[i.slug] == "published"]
        self.tips = [i for i in self.items if i.kind is Kind.TIP]  # newest first
        self.tip_at = {t.slug: n for n, t in enumerate(self.tips)}
        oldest_first = sorted(self.tips, key=lambda i: (i.values["date"] or far, i.slug))
        self.tip_numbers = {t.slug: n for n, t in enumerate(oldest_first, 1)}
        if env is None or env.globals.get("preview") != self.preview:
            env = page_environment(self.config, self.preview, compiled=False)
        self.env = env
        self.env.globals.update(
            item_status=lambda item: self.status.get(item.slug, "published"),
            picture=self.picture_markup,
            share_image=self.share_image,
            og_locale=og_locale(self.config.site.language),
            json_ld=partial(json_ld, self.config, self.urls),
            list_entry=self.list_entry,
        )
        self.render = Renderer(self.env, self.config)
        self.word = words(self.env, self.config)
        self.backlink = self.word("footnote_backlink")
        self.sources = _ItemUrls(self.urls, self.items)
        self._feed_entries: dict[str, FeedEntry] = {}
        self._list_entries: dict[tuple[Any, ...], Markup] = {}

    @cached_property
    def by_tag(self) -> tuple[dict[str, list[Item]], dict[str, str]]:
        """Tag page path -> its items, and -> the tag's name; worked out once a build (the tag
        pages, the tag index and the archive all ask)."""
        by_tag: dict[str, list[Item]] = defaultdict(list)
        names: dict[str, str] = {}
        path_of: dict[str, str] = {}
        for item in self.items:
            for tag in item.values["tags"]:
                key = path_of.get(tag)
                if key is None:
                    key = path_of[tag] = self.urls.tag(tag)
                by_tag[key].append(item)
                names.setdefault(key, tag)
        return by_tag, names

    @cached_property
    def local_dates(self) -> dict[str, dt.datetime]:
        """Each dated item's time in the site's zone, by slug (the archive's months and
        years ask)."""
        tz = self.config.site.timezone
        return {i.slug: d.astimezone(tz) for i in self.items if (d := i.values["date"])}

    def body_html(self, item: Item, mode: str = "page") -> str:
        """The item's body as HTML, links to other items' source files made into their URLs,
        pictures as ``mode`` (page, feed) wants them. What cannot be made of it names the item
        (``ItemError``), on whichever page showed it."""
        try:
            kept = kept_html(self.config, item) if item.html is None else None
            html = self.pictures.embed(markdown_html(item, self.backlink, kept), item, mode)
            return link_sources(html, item.path, self.sources, self.urls.href)
        except Exception as exc:
            raise ItemError(item.rel, reason_of(exc)) from exc

    def picture_markup(
        self,
        ref: str | None,
        alt: str,
        item: Item | None = None,
        lazy: bool = True,
        css: str = "",
        thumb: bool = False,
    ) -> Markup:
        """For templates: the made picture ``ref`` names, or nothing."""
        pic = self.pictures.find(ref, item)
        if pic is None:
            return Markup("")
        sizes = THUMB_SIZES if thumb else SIZES
        return Markup(self.pictures.page_html(pic, alt, lazy=lazy, sizes=sizes, css=css))

    def share_image(self, item: Item | None = None) -> dict[str, Any] | None:
        """og:image of a page: the item's picture, else the site's."""
        pic = self.pictures.find(item.image, item) if item is not None and item.image else None
        alt = item.image_alt if pic is not None and item is not None else self.config.site.image_alt
        pic = pic or self.pictures.find(self.config.site.image)
        made = self.pictures.share(pic)
        if made is None:
            return None
        return {
            "url": self.urls.absolute(made.path),
            "width": made.width,
            "height": made.height,
            "mime": made.mime,
            "alt": alt or "",
        }

    def links_of(self, item: Item) -> list[object]:
        """What the item's page shows of other items: the URLs its source links turn into."""
        return [(p, self.sources.get(p)) for p in linked_sources(item)]

    def spec(
        self,
        path: str,
        inputs: Iterable[object],
        produce: Callable[[], bytes],
        heavy: bool = False,
        source: str = "",
    ) -> Page:
        return Page(path, digest(self.fingerprint, path, *inputs), produce, heavy, source)

    def digests_of(self, items: Iterable[Item]) -> list[object]:
        return [self.digests[i.slug] for i in items]

    def listed_of(self, items: Iterable[Item]) -> list[object]:
        """For a list page: what it shows of each item (``listed``)."""
        listed = self.listed
        return [listed[i.slug] for i in items]

    @cached_property
    def listed(self) -> dict[str, str]:
        """What a list page shows of each item, by slug, as a digest. The default list
        templates show an item's kind, address, title, date, summary (or its text's first
        paragraph), picture, status and service, never its text: an edit of the text alone
        re-renders the item's own page and the feeds, not every list it is on. A site with
        HTML templates of its own, which may show anything, gets the full digests."""
        if own_html_templates(self.config):
            return self.digests
        listed = {}
        status = self.status
        for i in self.items:  # (Item.listed, worked out when the item was parsed)
            shown = f"{i.listed_digest or i.listed()}\x1e{status[i.slug]}"
            if i.values["image"]:
                shown += "\x1e".join(["", *self.pictures.digest([(i.values["image"], i)])])
            listed[i.slug] = shown
        return listed

    def summary(self, item: Item) -> str:
        return item.summary or excerpt(item.body) or item.title

    def page(self, template: str, **context: Any) -> bytes:
        context.setdefault("description", "")
        context.setdefault("section", "")
        context.setdefault("canonical", None)
        return self.render(template, **context).encode("utf-8")

    def list_page(self, template: str, items: list[Item], **context: Any) -> bytes:
        """A page listing ``items``; their summaries are worked out only if it is rendered."""
        href, url = self.urls.href, self.urls.item
        entries = [
            {"item": i, "summary": self.summary(i), "url": href(url(i)), "date": i.date}
            for i in items
        ]
        return self.page(template, entries=entries, **context)

    def listing(
        self, path: str, items: list[Item], heading: str, section: str = ""
    ) -> Callable[[], bytes]:
        """How a plain listing page (a topic, a month, a year) of ``items`` is made."""
        return partial(
            self.list_page,
            "listing.html",
            items,
            heading=heading,
            intro="",
            service=None,
            page_title=heading,
            canonical=path,
            section=section,
        )

    def list_entry(self, entry: dict[str, Any]) -> Markup:
        """For templates: one entry of a list of items (``partials/list_entry.html``), made
        once a process; an item is on many lists (the home pages, its topics, its month)."""
        key = (entry["item"].slug, entry["url"], entry["summary"], entry["date"])
        made = self._list_entries.get(key)
        if made is None:
            made = Markup(self.render("partials/list_entry.html", entry=entry))
            self._list_entries[key] = made
        return made

    def neighbours(self, item: Item) -> tuple[Item | None, Item | None]:
        """The tips before and after a tip (older, newer), among those shown."""
        at = self.tip_at.get(item.slug) if item.kind is Kind.TIP else None
        if at is None:
            return None, None
        newer = self.tips[at - 1] if at > 0 else None
        older = self.tips[at + 1] if at + 1 < len(self.tips) else None
        return older, newer

    def item_page(self, item: Item) -> bytes:
        older, newer = self.neighbours(item)
        return self.page(
            "item.html",
            item=item,
            older=older,
            newer=newer,
            html=Markup(self.body_html(item)),
            service=self.config.services.get(item.service or ""),
            card_label=self.word("service_label", False),
            number=self.tip_numbers.get(item.slug) if item.kind is Kind.TIP else None,
            page_title=item.title,
            description=self.summary(item),
            canonical=self.urls.item(item),
            section="series" if item.kind is Kind.TIP else "",
        )

    def feed_entry(self, item: Item) -> FeedEntry:
        """An item as the feeds carry it; made once a build, though RSS and Atom (and the
        series' feeds) each carry it."""
        made = self._feed_entries.get(item.slug)
        if made is None:
            made = self._feed_entries[item.slug] = self._make_feed_entry(item)
        return made

    def _make_feed_entry(self, item: Item) -> FeedEntry:
        url = self.urls.absolute(self.urls.item(item))
        html = self.body_html(item, "feed")
        image = None
        if item.image and (pic := self.pictures.find(item.image, item)) is not None:
            html = self.pictures.plain_html(pic, item.image_alt or "", 960) + "\n" + html
            if not pic.vector:
                made = pic.at_least(960)
                size = made.file.stat().st_size
                image = (self.urls.absolute(made.path), size, made.mime, made.width, made.height)
        service = self.config.services.get(item.service or "")
        if service is not None:
            html += "\n" + self.render("partials/service_card.html", service=service)
        return FeedEntry(item, url, self.summary(item), portable(html, url), image)


def page_environment(config: Config, preview: bool, compiled: bool = True) -> jinja2.Environment:
    """The template environment of the site's pages (give it to ``SiteView``); ``compiled``,
    with every page template compiled already (``templates.compile_pages``)."""
    env = make_environment(config, preview=preview)
    if compiled:
        compile_pages(env)
    return env


def _refs(item: Item) -> list[tuple[str | None, Item | None]]:
    """The pictures an item shows: its lead picture and those in its body."""
    refs: list[tuple[str | None, Item | None]] = [(item.image, item)] if item.image else []
    return refs + [(t, item) for _o, t, image in item.links or () if image]


# --- page types --------------------------------------------------------------------------------


def item_pages(v: SiteView) -> list[Page]:
    # (One page per item: for a big site, the loop itself is what a small rebuild plans, so
    # the digest's parts are written out as ``digest`` writes them, not gathered in a list.)
    url, digests, numbers, make = v.urls.item, v.digests, v.tip_numbers, v.item_page
    head = f"{v.fingerprint}\x1f"
    pages = []
    for item in v.items:
        slug = item.slug
        path = url(item)
        if item.kind is Kind.TIP:
            # a neighbour's title and address, not its text: its edits re-render it alone
            older, newer = v.neighbours(item)
            a = f"{older.title}\x1f{url(older)}" if older else ""
            b = f"{newer.title}\x1f{url(newer)}" if newer else ""
        else:
            a = b = ""
        links = v.links_of(item) if item.links != () else []  # () : it links nowhere
        number = numbers.get(slug, "")
        text = f"{head}{path}\x1f{digests[slug]}\x1f{number}\x1f{links}\x1f{a}\x1f{b}\x1f"
        pages.append(Page(path, digest_of_text(text), partial(make, item), True, item.rel))
    return pages


def home_pages(v: SiteView) -> list[Page]:
    per_page = v.config.build.per_page
    n_pages = max(1, -(-len(v.items) // per_page))
    pages = []
    for page in range(1, n_pages + 1):
        chunk = v.items[(page - 1) * per_page : page * per_page]
        path = v.urls.home(page)
        produce = partial(
            v.list_page,
            "index.html",
            chunk,
            page=page,
            pages=n_pages,
            page_title=v.config.site.title,
            description=v.config.site.title,
            canonical=path,
            section="home" if page == 1 else "",
        )
        pages.append(v.spec(path, [page, n_pages, *v.listed_of(chunk)], produce))
    return pages


def series_page(v: SiteView) -> list[Page]:
    if not v.config.tips.enabled:
        return []

    def produce() -> bytes:
        href, url = v.urls.href, v.urls.item
        entries = [
            {
                "item": t,
                "number": v.tip_numbers[t.slug],
                "summary": v.summary(t),
                "service": v.config.services.get(t.service or ""),
                "url": href(url(t)),
                "date": t.date,
            }
            for t in v.tips
        ]
        return v.page(
            "series.html",
            entries=entries,
            weekday_label=weekday_name(v.config.tips.weekday, v.config.site.language),
            page_title=v.config.tips.title,
            canonical=v.urls.series,
            section="series",
        )

    inputs = [*v.listed_of(v.tips), *(v.tip_numbers[t.slug] for t in v.tips)]
    return [v.spec(v.urls.series, inputs, produce)]


def tag_pages(v: SiteView) -> list[Page]:
    by_tag, names = v.by_tag
    pages = []
    for path, items in sorted(by_tag.items()):
        heading = v.word("tag_heading", names[path])
        pages.append(v.spec(path, v.listed_of(items), v.listing(path, items, heading)))
    return pages


def service_pages(v: SiteView) -> list[Page]:
    if not v.config.tips.enabled:
        return []  # the services are the ones the series tips readers off about
    pages = []
    for key, service in v.config.services.items():
        featured = [t for t in v.tips if t.service == key]
        path = v.urls.service(key)
        produce = partial(
            v.list_page,
            "listing.html",
            featured,
            heading=service.name,
            intro=v.word("service_intro", service),
            service=service,
            page_title=service.name,
            description=service.description,
            canonical=path,
        )
        pages.append(v.spec(path, v.listed_of(featured), produce))
    return pages


def feed_pages(v: SiteView) -> list[Page]:
    """RSS and Atom, for everything and for the series: only what is published, whatever the
    preview flags say."""
    limit = v.config.build.feed_limit
    feeds = [
        (False, v.published[:limit], "feed_title", "feed_description"),
        (
            True,
            [i for i in v.published if i.kind is Kind.TIP][:limit],
            "series_feed_title",
            "series_feed_description",
        ),
    ]

    def feed(items: list[Item], title: str, about: str, home: str, path: str) -> bytes:
        return render_feed(
            v.config,
            [v.feed_entry(i) for i in items],
            title=v.word(title),
            description=v.word(about),
            home=home,
            self_url=v.urls.absolute(path),
            atom=path.endswith("atom.xml"),
        )

    if not v.config.tips.enabled:
        feeds = feeds[:1]  # no series, no series feed
    pages = []
    for series, items, title, about in feeds:
        home = v.urls.absolute(v.urls.series if series else v.urls.home())
        for atom in (False, True):
            path = v.urls.feed(series=series, atom=atom)
            produce = partial(feed, items, title, about, home, path)
            pages.append(v.spec(path, v.digests_of(items), produce))
    return pages
