"""Reading what is imported: a WordPress eXtended RSS export (WXR 1.1/1.2) and any RSS 2.0,
RSS 1.0 or Atom feed, into one neutral shape (``Entry``). Nothing is written here.

The export is parsed with defusedxml: no entity expansion (a "billion laughs" bomb is refused),
no external entities (``file:///etc/passwd`` is never read), no network access.
"""

from __future__ import annotations

import datetime as dt
import html as htmllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from blogtool.errors import BlogtoolError
from blogtool.i18n import _

WP = "{http://wordpress.org/export/1.2/}"
WP_NAMESPACES = ("http://wordpress.org/export/1.2/", "http://wordpress.org/export/1.1/")
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
EXCERPT_NS = (
    "http://wordpress.org/export/1.2/excerpt/",
    "http://wordpress.org/export/1.1/excerpt/",
)
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"


class SourceError(BlogtoolError):
    """The source cannot be imported at all (nothing is written)."""


@dataclass
class Entry:
    """One item of the source, whatever it came from."""

    kind: str  # post, page, attachment, or a custom post type's name
    title: str
    slug: str
    status: str  # publish, draft, pending, private, future
    date: dt.datetime | None
    author: str
    tags: list[str]
    html: str
    excerpt: str
    guid: str
    link: str
    post_id: str = ""
    featured: str = ""  # the featured image's URL
    images: dict[str, str] = field(default_factory=dict)  # URL -> alt text (from attachments)
    problems: list[str] = field(default_factory=list)
    #: Paragraphs are blank lines (WordPress's classic editor), not yet <p> (a feed's HTML).
    autop: bool = False
    protected: bool = False  # WordPress asked its readers for a password
    base: str = ""  # the old site's address, for its links that start with '/'

    @property
    def label(self) -> str:
        return f"{self.kind} {self.post_id or self.guid or self.link}: {self.title or '(no title)'}"


@dataclass
class Export:
    entries: list[Entry]
    attachments: dict[str, tuple[str, str]]  # post id -> (URL, alt text)
    site_url: str


def _text(node: Any, tag: str) -> str:
    found = node.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def _wp(node: Any, name: str, ns: str) -> str:
    return _text(node, f"{{{ns}}}{name}")


def read_wxr(path: Path, zone: ZoneInfo) -> Export:
    """Every item of a WordPress export. Raises SourceError for a file that is not XML, not a
    WordPress export, truncated, or uses entities."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(
            _("{path}: cannot be read: {strerror}").format(path=path, strerror=exc.strerror)
        ) from None
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SourceError(
            _(
                "{path}: refused: the file uses XML entities ({type}); a WordPress "
                "export never does"
            ).format(path=path, type=type(exc).__name__)
        ) from None
    except ParseError as exc:
        raise SourceError(
            _("{path}: not well-formed XML (truncated?): {exc}").format(path=path, exc=exc)
        ) from None
    channel = root.find("channel")
    ns = next(
        (
            n
            for n in WP_NAMESPACES
            if channel is not None and channel.find(f"{{{n}}}wxr_version") is not None
        ),
        None,
    )
    if channel is None or ns is None:
        raise SourceError(
            _(
                "{path}: XML, but not a WordPress export (WXR): no channel with wp:wxr_version"
            ).format(path=path)
        )
    excerpt_ns = EXCERPT_NS[WP_NAMESPACES.index(ns)]
    attachments: dict[str, tuple[str, str]] = {}
    items = channel.findall("item")
    for item in items:
        if _wp(item, "post_type", ns) == "attachment":
            alt = ""
            for meta in item.findall(f"{{{ns}}}postmeta"):
                if _wp(meta, "meta_key", ns) == "_wp_attachment_image_alt":
                    alt = _wp(meta, "meta_value", ns)
            url = _wp(item, "attachment_url", ns) or _text(item, "guid")
            attachments[_wp(item, "post_id", ns)] = (url, alt)
    # Posts name their author by login ("monicaxx"); the export's authors give the name the
    # blog showed ("Monica").
    names = {
        login: _wp(author, "author_display_name", ns) or login
        for author in channel.findall(f"{{{ns}}}author")
        if (login := _wp(author, "author_login", ns))
    }
    entries = [_entry(item, ns, excerpt_ns, zone, attachments) for item in items]
    site = _wp(channel, "base_blog_url", ns) or _text(channel, "link")
    for entry in entries:
        entry.author = names.get(entry.author, entry.author)
        entry.base = site
    return Export(entries, attachments, _text(channel, "link"))


def _wp_date(item: Any, ns: str, zone: ZoneInfo) -> dt.datetime | None:
    gmt = _wp(item, "post_date_gmt", ns)
    if gmt and not gmt.startswith("0000"):
        try:
            return dt.datetime.fromisoformat(gmt).replace(tzinfo=dt.UTC).astimezone(zone)
        except ValueError:
            return None
    local = _wp(item, "post_date", ns)  # drafts have no GMT date; this one is the site's time
    if local and not local.startswith("0000"):
        try:
            return dt.datetime.fromisoformat(local).replace(tzinfo=zone)
        except ValueError:
            return None
    return None


def _entry(
    item: Any, ns: str, excerpt_ns: str, zone: ZoneInfo, attachments: dict[str, tuple[str, str]]
) -> Entry:
    tags = []
    for category in item.findall("category"):
        name = (category.text or "").strip()
        if (
            name
            and category.get("domain") in ("category", "post_tag")
            and name != "Okategoriserade"
            and name != "Uncategorized"
        ):
            tags.append(name)
    featured = ""
    for meta in item.findall(f"{{{ns}}}postmeta"):
        if _wp(meta, "meta_key", ns) == "_thumbnail_id":
            featured = attachments.get(_wp(meta, "meta_value", ns), ("", ""))[0]
    entry = Entry(
        kind=_wp(item, "post_type", ns) or "post",
        # WordPress keeps a title as typed, character references and all ("Höst &#8211; vinter").
        title=htmllib.unescape(_text(item, "title")),
        slug=unquote(_wp(item, "post_name", ns)),
        status=_wp(item, "status", ns) or "publish",
        date=_wp_date(item, ns, zone),
        author=_text(item, DC_CREATOR),
        tags=list(dict.fromkeys(tags)),
        html=_text(item, CONTENT),
        excerpt=_text(item, f"{{{excerpt_ns}}}encoded"),
        guid=_text(item, "guid"),
        link=_text(item, "link"),
        post_id=_wp(item, "post_id", ns),
        featured=featured,
        images={url: alt for url, alt in attachments.values()},
        autop=True,
        protected=bool(_wp(item, "post_password", ns)),
    )
    return entry


def read_feed(source: str, zone: ZoneInfo, fetch: Any) -> list[Entry]:
    """Every entry of an RSS 2.0, RSS 1.0 or Atom feed (a URL or a file), with feedparser.
    ``fetch(url)`` returns the bytes of a URL (or raises SourceError)."""
    import feedparser

    if source.startswith(("http://", "https://")):
        data = fetch(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise SourceError(
                _("{source}: cannot be read: {strerror}").format(
                    source=source, strerror=exc.strerror
                )
            ) from None
    parsed = feedparser.parse(data)
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception") or _("no RSS or Atom in it")
        raise SourceError(
            _("{source}: not an RSS or Atom feed ({reason})").format(source=source, reason=reason)
        )
    if not parsed.entries:
        raise SourceError(_("{source}: the feed has no items").format(source=source))
    entries = []
    for item in parsed.entries:
        content = item.get("content") or []
        html = content[0].get("value", "") if content else item.get("summary", "")
        stamp = item.get("published_parsed") or item.get("updated_parsed")
        date = dt.datetime(*stamp[:6]).replace(tzinfo=dt.UTC).astimezone(zone) if stamp else None
        images = {
            e.get("href", ""): ""
            for e in item.get("enclosures", [])
            if str(e.get("type", "")).startswith("image/")
        }
        entries.append(
            Entry(
                kind="post",
                title=str(item.get("title", "")).strip(),
                slug="",
                status="publish",
                date=date,
                # The name only: an RSS author is often "address (Name)".
                author=str(
                    (item.get("author_detail") or {}).get("name") or item.get("author", "")
                ).strip(),
                tags=[
                    str(t.get("term", "")).strip() for t in item.get("tags", []) if t.get("term")
                ],
                html=html,
                excerpt=item.get("summary", "") if content else "",
                guid=str(item.get("id", "") or item.get("link", "")),
                link=str(item.get("link", "")),
                featured=next(iter(images), ""),
            )
        )
    return entries
