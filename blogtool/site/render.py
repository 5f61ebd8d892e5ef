"""Markdown to HTML, and the safe, absolute HTML that feeds and mail carry.

Pages get the authors' HTML as written (they are trusted staff). Anything that leaves the site in
a feed or an email is sanitised with nh3 and has every link made absolute.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html import unescape as html_unescape
from pathlib import Path
from urllib.parse import urljoin

from blogtool.content.markdown import prose as running_text
from blogtool.content.model import Item
from blogtool.content.readiness import local_links, resolve
from blogtool.site.urls import STATIC_DIR


def excerpt(body: str, limit: int = 240) -> str:
    """A plain-text summary: the first paragraph, cut at a word boundary."""
    text = running_text(body, keep_code=True)
    first = next((p for p in text.split("\n\n") if p.strip()), "")
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:–-")
    return cut + "…"


# A relative href="..." or src="...": found from its '="' (a literal, which the regex engine
# scans for quickly; a pattern that starts with "href|src" is tried at every character).
_LOCAL_URL = re.compile(
    r'="(?:(?<=\bhref=")|(?<=\bsrc="))(?![a-zA-Z][a-zA-Z0-9+.-]*:|[#/?])([^"]+)"'
)


def link_sources(
    html: str,
    source: Path,
    targets: Mapping[str, str],
    href: Callable[[str], str] | None = None,
) -> str:
    """Turn a link to another post's or tip's source file (``[se
    här](2026-11-05-felanmal-gatlampa.md)``) into that item's URL; ``targets`` maps source paths
    (relative to the site) to URLs. A relative link to a file in the site's ``static/`` folder
    (``../static/bilder/karta.jpg``) becomes its published address through ``href``. Other
    links are left as written."""
    if href is None and not targets:
        return html

    def fix(m: re.Match[str]) -> str:
        url = m.group(1)
        path = resolve(source, html_unescape(url))
        target = targets.get(path)
        if target is None and href is not None and path.startswith(f"{STATIC_DIR}/"):
            target = href(path)
        if target is None:
            return m.group(0)
        fragment = "#" + url.split("#", 1)[1] if "#" in url else ""
        return f'="{target}{fragment}"'

    return _LOCAL_URL.sub(fix, html)


def linked_sources(item: Item) -> list[str]:
    """The site paths an item links to by relative path (what ``link_sources`` may rewrite)."""
    links = item.links if item.links is not None else tuple(local_links(item.body))
    return sorted({resolve(item.rel, target) for _, target, _ in links} - {""})


# --- what leaves the site --------------------------------------------------------------------

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "*": {"lang"},
}
_URL_ATTR = re.compile(r'\b(href|src)="([^"]*)"')


def sanitize(html: str, *, top_heading: bool = False) -> str:
    """Strip what must not travel in a feed or an email, or come in from another site: script,
    iframe, object, embed, style, event handlers and javascript: URLs. ``top_heading`` keeps
    h1 (imported HTML has them; a page's body shifts its headings below the title)."""
    import nh3

    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS | {"h1"} if top_heading else _ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def absolutize(html: str, base: str) -> str:
    """Make every href and src absolute against ``base`` (the item's own URL)."""

    def fix(m: re.Match[str]) -> str:
        url = m.group(2)
        if url.startswith("#"):
            return m.group(0) if not base else f'{m.group(1)}="{base}{url}"'
        return f'{m.group(1)}="{urljoin(base, url)}"'

    return _URL_ATTR.sub(fix, html)


def portable(html: str, base: str) -> str:
    """HTML for feeds and mail: sanitised, then with absolute URLs."""
    return absolutize(sanitize(html), base)
