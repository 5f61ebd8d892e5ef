"""Markdown to HTML with Python-Markdown, configured once: its own extensions and one of
blogtool's (headings in order, with ids), all through its public extension API.

What it costs is paid once per item and version: ``Bodies`` keeps each item's HTML in the
site's cache, keyed by the item's content digest and blogtool's code digest (which holds the
versions of every library that shapes output). A template change re-runs templates, never
Markdown; an upgrade of Markdown converts every body again.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import markdown
from markdown.extensions import Extension
from markdown.extensions.attr_list import AttrListExtension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.treeprocessors import Treeprocessor

from blogtool.content.model import Item
from blogtool.files import write_atomic
from blogtool.slugs import slugify
from blogtool.version import code_digest

_HEADINGS = frozenset(f"h{n}" for n in range(1, 7))


class _ShiftHeadings(Treeprocessor):
    """The page title is the only h1; a '# Heading' in the body becomes an h2, and so on down,
    so headings stay in order for screen readers (WCAG 1.3.1)."""

    def run(self, root: ET.Element) -> None:
        levels = [int(el.tag[1]) for el in root.iter() if el.tag in _HEADINGS]
        if not levels or min(levels) >= 2:
            return
        shift = 2 - min(levels)
        for el in root.iter():
            if el.tag in _HEADINGS:
                el.tag = f"h{min(6, int(el.tag[1]) + shift)}"


class _HeadingIds(Treeprocessor):
    """An id on every heading, made from its text like a slug, unique in the document, so a
    section can be linked to. (The toc extension does the same and builds a table of contents
    nobody asked for, at a tenth of the conversion time.)"""

    def run(self, root: ET.Element) -> None:
        used: set[str] = set()
        for el in root.iter():
            if el.tag not in _HEADINGS:
                continue
            if "id" in el.attrib:
                used.add(el.attrib["id"])
                continue
            text = _PLACEHOLDER.sub("", "".join(el.itertext()))
            base = slugify(text) or "rubrik"
            candidate, n = base, 1
            while candidate in used:
                candidate = f"{base}-{n}"
                n += 1
            used.add(candidate)
            el.set("id", candidate)


_PLACEHOLDER = re.compile("\x02[^\x03]*\x03")


class _HeadingsExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_ShiftHeadings(md), "shift_headings", 6)
        # After the inline processor (20) and attr_list (8), so explicit {#ids} are kept.
        md.treeprocessors.register(_HeadingIds(md), "heading_ids", 5)


_converters = threading.local()  # a Markdown instance keeps state while it converts


def _converter(backlink_title: str) -> markdown.Markdown:
    made: dict[str, markdown.Markdown] = _converters.__dict__.setdefault("made", {})
    if backlink_title not in made:
        made[backlink_title] = markdown.Markdown(
            extensions=[
                TableExtension(),
                FencedCodeExtension(),
                FootnoteExtension(BACKLINK_TITLE=backlink_title),
                SaneListExtension(),
                AttrListExtension(),
                _HeadingsExtension(),
            ],
            output_format="html",
        )
    return made[backlink_title]


def to_html(body: str, backlink_title: str = "") -> str:
    """The page HTML of a Markdown body. Raw HTML passes through. ``backlink_title`` is the
    tooltip of a footnote's way back to the text (a reader-facing word, from words.txt)."""
    md = _converter(backlink_title)
    try:
        return md.convert(body)
    finally:
        md.reset()


class Bodies:
    """Each item's body as HTML (``to_html``), kept in ``directory`` (None: not kept) under the
    item's path, with the key it was made for; the key changes with the item's text and
    fields, blogtool's code, a library's version, and the footnotes' word."""

    def __init__(self, directory: Path | None, backlink_title: str):
        self.directory, self.backlink_title = directory, backlink_title
        self.salt = f"{code_digest()}\0{backlink_title}"

    def html(self, item: Item) -> str:
        if self.directory is None:
            return to_html(item.body, self.backlink_title)
        digest = item.content_digest or item.content()
        key = hashlib.sha256(f"{digest}\0{self.salt}".encode()).hexdigest().encode() + b"\n"
        name = hashlib.sha256(item.rel.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        path = self.directory / name[:2] / f"{name}.html"
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            if data.startswith(key):
                return data[len(key) :].decode("utf-8", "surrogatepass")
        html = to_html(item.body, self.backlink_title)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            data = key + html.encode("utf-8", "surrogatepass")
            write_atomic(path, data, durable=False, private=True)
        return html
