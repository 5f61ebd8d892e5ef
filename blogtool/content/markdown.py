"""The one Markdown reader: Python-Markdown, configured once (its own extensions and blogtool's
heading extension), through its public extension API. The pages' HTML comes from it, and so does
what the checks need of a body: every link and picture as Python-Markdown reads them, from its
element tree (a ``Treeprocessor``) and from the raw HTML it keeps aside. A link in code, in an
indented block or in an HTML comment is not a link to it, so it is not checked either.

A body is converted once per version: when a file is parsed, its HTML is kept with the item
(``Item.html``) and in the parse cache beside it, which blogtool's code digest keys (it holds
the versions of every library that shapes output); the pages, feeds and mail take it from
there (``body_html``). The one word that differs by site, a footnote's way back, is put in
when it is shown. A template change re-runs templates, never Markdown; an upgrade of Markdown
converts every body again.
"""

from __future__ import annotations

import functools
import html as htmllib
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import markdown
from markdown.blockprocessors import (
    BlockQuoteProcessor,
    HRProcessor,
    ReferenceProcessor,
    SetextHeaderProcessor,
)
from markdown.extensions import Extension
from markdown.extensions.attr_list import AttrListExtension, AttrListTreeprocessor
from markdown.extensions.fenced_code import FencedBlockPreprocessor, FencedCodeExtension
from markdown.extensions.footnotes import FootnoteBlockProcessor, FootnoteExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension, TableProcessor
from markdown.inlinepatterns import (
    IMAGE_LINK_RE,
    IMAGE_REFERENCE_RE,
    BacktickInlineProcessor,
    ImageInlineProcessor,
    ImageReferenceInlineProcessor,
    LinkInlineProcessor,
    ReferenceInlineProcessor,
    ShortImageReferenceInlineProcessor,
    ShortReferenceInlineProcessor,
)
from markdown.preprocessors import HtmlBlockPreprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AMP_SUBSTITUTE, AtomicString, Registry

from blogtool.content.model import Item
from blogtool.htmlparse import feedable
from blogtool.slugs import slugify

_HEADINGS = frozenset(f"h{n}" for n in range(1, 7))


@dataclass(frozen=True)
class Reference:
    """A link (``a href``) or a picture (``img src``) in a body, as Python-Markdown reads it."""

    target: str
    image: bool
    alt: str | None = None  # a picture's alt text; None when it has none at all
    offset: int = 0  # where in the body it is written (for a line number)
    html: bool = False  # written as HTML (where alt="" says "decorative" on purpose)


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
        # For each base, the number its next try starts from: the ones below it were taken
        # when last tried, and stay so. (Trying them all again for each of a text's many
        # headings of the same words took time growing with their number's square.)
        tried: dict[str, int] = {}
        for el in root.iter():
            if el.tag not in _HEADINGS:
                continue
            if "id" in el.attrib:
                used.add(el.attrib["id"])
                continue
            text = _PLACEHOLDER.sub("", "".join(el.itertext()))
            base = slugify(text) or "rubrik"
            n = tried.get(base, 0)
            candidate = f"{base}-{n}" if n else base
            while candidate in used:
                n += 1
                candidate = f"{base}-{n}"
            tried[base] = n
            used.add(candidate)
            el.set("id", candidate)


_PLACEHOLDER = re.compile("\x02[^\x03]*\x03")


# What makes a page run code: a script element, an event handler attribute, a javascript: URL
# (browsers ignore tabs, newlines and leading controls in a URL, and its case).
SCRIPT, HANDLER, JAVASCRIPT = "script", "handler", "javascript"
_URL_NOISE = re.compile(r"[\x00-\x20]")


def _runs_script(url: str) -> bool:
    return _URL_NOISE.sub("", url).lower().startswith(("javascript:", "vbscript:"))


# What makes a reader's browser fetch something as the page loads (not a link, which waits
# for a click): the element and its attributes that name an address.
LOADS = "loads"
_LOADING = {
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "script": ("src",),
    "link": ("href",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")\s]+)", re.I)


def remote(address: str) -> str | None:
    """The host an address makes the browser go to, if it is absolute (``https://host/...``
    or ``//host/...``); None for an address on the page's own host."""
    from urllib.parse import urlsplit

    address = _URL_NOISE.sub("", address)
    if not address.startswith("//") and not address.lower().startswith(("http:", "https:")):
        return None
    try:
        host = urlsplit(address).hostname
    except ValueError:
        return None
    return host or None


def _loads_of(tag: str, attrs: list[tuple[str, str | None]]) -> list[str]:
    """The absolute addresses an element makes the browser load from."""
    found: list[str] = []
    wanted = _LOADING.get(tag, ())
    for name, value in attrs:
        name = name.lower()
        if not value:
            continue
        if name in wanted:
            candidates = [part.strip().split(" ")[0] for part in value.split(",")]
            found += [c for c in (candidates if name == "srcset" else [value]) if remote(c)]
        elif name == "style":
            found += [u for u in _CSS_URL.findall(value) if remote(u)]
    return found


def _hazards_of(tag: str, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    found = [(SCRIPT, tag)] if tag == "script" else []
    for name, value in attrs:
        if name.lower().startswith("on"):
            found.append((HANDLER, name.lower()))
        elif value and _runs_script(value):
            found.append((JAVASCRIPT, name.lower()))
    found += [(LOADS, f"{tag} {address}") for address in _loads_of(tag, attrs)]
    return found


class _RawLinks(HTMLParser):
    """``a href`` and ``img src`` in raw HTML, and what in it runs script; what is in a comment
    is not read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, bool, str | None]] = []
        self.hazards: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "a" and named.get("href"):
            self.found.append((named["href"] or "", False, None))
        elif tag == "img" and named.get("src") is not None:
            self.found.append((named["src"] or "", True, named.get("alt")))
        self.hazards += _hazards_of(tag, attrs)

    handle_startendtag = handle_starttag


def _address(value: str) -> str:
    """An address as written: Python-Markdown writes an e-mail autolink's ``mailto:`` as
    character references behind its own ampersand marker, which the serializer undoes."""
    if AMP_SUBSTITUTE in value:
        value = htmllib.unescape(value.replace(AMP_SUBSTITUTE, "&"))
    return value


class _Collect(Treeprocessor):
    """Last of the tree processors: every link and picture of the finished tree, in order,
    then those of the raw HTML Python-Markdown kept aside."""

    def run(self, root: ET.Element) -> None:
        found: list[tuple[str, bool, str | None, bool]] = []
        hazards: list[tuple[str, str]] = []
        for el in root.iter():
            if el.tag == "a" and el.get("href"):
                found.append((_address(el.get("href", "")), False, None, False))
            elif el.tag == "img":
                found.append((_address(el.get("src", "")), True, el.get("alt"), False))
            # (What runs script or loads from elsewhere is a script or in an attribute.)
            if isinstance(el.tag, str) and (el.attrib or el.tag == "script"):
                hazards += _hazards_of(el.tag, [(k, _address(v)) for k, v in el.items()])
        raw = _RawLinks()
        for block in self.md.htmlStash.rawHtmlBlocks:
            if isinstance(block, str):
                raw.feed(feedable(block))
        raw.close()
        found += [(target, image, alt, True) for target, image, alt in raw.found]
        self.md.blogtool_references = found  # type: ignore[attr-defined]
        self.md.blogtool_hazards = hazards + raw.hazards  # type: ignore[attr-defined]
        if getattr(self.md, "blogtool_want_prose", False):  # (only where it is read: LIX)
            stash = [b if isinstance(b, str) else "" for b in self.md.htmlStash.rawHtmlBlocks]
            self.md.blogtool_prose = tuple(_prose_blocks(root, stash))  # type: ignore[attr-defined]


# --- the running text ---------------------------------------------------------------------------

# Elements whose text is one block of prose (a paragraph, a heading, a list item, a table row).
_PROSE_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "dt", "dd"})
# Elements that are no prose: code blocks, footnotes (their own list at the end), script.
_NOT_PROSE = frozenset({"pre", "script", "style"})
_NESTED = frozenset({"ul", "ol", "p", "pre", "blockquote", "table", "dl", "div"})
_STASHED = re.compile(markdown.util.HTML_PLACEHOLDER % r"(\d+)")
_TAG = re.compile(r"<[^>]*>")
_BARE_URL = re.compile(r"https?://\S+")
_NOT_PROSE_HTML = re.compile(r"\s*<(?:pre|script|style)\b", re.IGNORECASE)


def _stashed_words(raw: str) -> str:
    """The words of HTML Python-Markdown kept aside: none of a code block (fenced code is kept
    aside whole) or a script, the text of anything else."""
    if _NOT_PROSE_HTML.match(raw):
        return ""
    return _TAG.sub(" ", raw)


def _words(text: str, stash: list[str]) -> str:
    """``text`` with the raw HTML it stands for by its text only, entities read, and one
    space between words."""
    text = _STASHED.sub(lambda m: " " + _stashed_words(stash[int(m.group(1))]) + " ", text)
    text = htmllib.unescape(text.replace(AMP_SUBSTITUTE, "&"))
    return " ".join(_BARE_URL.sub("", text).split())


def _inline(el: ET.Element, keep_code: bool, stash: list[str]) -> str:
    """The running text of one block, without the blocks nested in it."""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "code":
            parts.append(child.text or "" if keep_code else "")
        elif tag == "br":
            parts.append(" ")
        elif tag in _NESTED or tag == "img" or "footnote-ref" in child.get("class", ""):
            pass  # a picture is not read; a nested block is a block of its own
        else:
            parts.append(_inline(child, keep_code, stash))
        parts.append(child.tail or "")
    return "".join(parts)


def _prose_blocks(root: ET.Element, stash: list[str]) -> list[tuple[str, str]]:
    """Each block of running text, in order, as (without inline code, with it): what LIX
    counts and what an excerpt shows. Code blocks, pictures and the footnotes are left out."""
    blocks: list[tuple[str, str]] = []

    def walk(el: ET.Element) -> None:
        for child in el:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in _NOT_PROSE or "footnote" in child.get("class", "").split():
                continue
            if tag in _PROSE_BLOCKS:
                lean = _words(_inline(child, False, stash), stash)
                full = _words(_inline(child, True, stash), stash)
                if full:
                    blocks.append((lean, full))
                if tag in ("li", "dd"):
                    walk(child)  # its paragraphs and nested lists
            else:
                walk(child)

    walk(root)
    return blocks


# The text and the address of a plain '[text](address)': no brackets in the text; no
# parenthesis, quote, space, '<' (the address would be '<...>') or placeholder in the address.
_PLAIN_LINK = re.compile(r'([^\[\]]*)\]\(([^()\'"\s<\x02\x03]*)\)')


# The most a link's or picture's text, address and title may span, in characters (browsers
# keep addresses under about 2,000). Python-Markdown looks for the parenthesis that closes an
# address in all the text after it, and for the bracket that closes a text in all the text
# there is (again after each link or picture it finds), so a paragraph of many of them took
# time growing with its square (64 KB of '[a](': 42 s; 14 KB of '![a](b)': 6.5 s). Looking
# no further than this keeps it linear.
WINDOW = 2048
TEXT_WINDOW = 512  # a link's text or a picture's alt text with brackets inside it


class _Bounded(LinkInlineProcessor):
    """Python-Markdown's bracket patterns, reading a text, address and title within WINDOW
    characters: a text without brackets in it in one step; an address not at all when no ')'
    is there to close it. (The one difference from Python-Markdown: it reads ``[x](a'b(c``,
    an address in which a quote and a '(' stand for a title no ')' ends, as a link to ``a'b``,
    having read on to the end of the paragraph to find that out; here it is text.)"""

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:
        close = data.find("]", index, index + TEXT_WINDOW)
        if close < 0:
            return "", index, False
        if data.find("[", index, close) < 0:
            return data[index:close], close + 1, True
        text, end, handled = super().getText(data[index : index + TEXT_WINDOW], 0)
        return text, index + end, handled

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:
        if data.find(")", index, index + WINDOW) < 0:
            return "", None, index, False
        window = data[index : index + WINDOW]
        href, title, end, handled = super().getLink(window, 0)
        if end < 0:  # (its backtracking can end a link at an index counted from the end)
            end += len(window)
        return href, title, index + end, handled


class _Images(_Bounded, ImageInlineProcessor):
    """``![alt](src)``, bounded."""


class _References(_Bounded, ReferenceInlineProcessor):
    """``[text][id]``, bounded."""


class _ShortReferences(_Bounded, ShortReferenceInlineProcessor):
    """``[id]``, bounded."""


class _ImageReferences(_Bounded, ImageReferenceInlineProcessor):
    """``![alt][id]``, bounded."""


class _ShortImageReferences(_Bounded, ShortImageReferenceInlineProcessor):
    """``![id]``, bounded."""


# Python-Markdown's patterns for a link's '[' and for a code span's '`', written to open
# with the character they look for. Python's regex engine jumps from one place where a
# pattern's first character is to the next; a pattern that opens with a look-behind, as the
# stock ones do, is tried at every character of the text (``(?<!\!)\[``: 10 us for 600
# characters of prose; ``\[(?<!\!\[)``: 0.9 us). Each matches where, and what, the stock one
# does (the look-behind, moved past the character it starts at, looks at the same character
# before it), with the same groups: ``test_render`` holds them to the stock ones.
LINK_AT_BRACKET = r"\[(?<!\!\[)"  # LINK_RE, REFERENCE_RE: '[' not after '!'
# BACKTICK_RE: an even run of backslashes before a '`', or a '`', neither after a backslash
BACKTICK_AT_MARK = r"(?:(\\(?<!\\\\)\\(?:\\{2})*)(?=`+)|`(?<!\\`))"

# Python-Markdown's own bracket patterns (name, class, expression, priority), each registered
# again in its own place, bounded. (The link pattern is ``_PlainLinks``.)
_BRACKETS = (
    ("reference", ReferenceInlineProcessor, _References, LINK_AT_BRACKET, 170),
    ("image_link", ImageInlineProcessor, _Images, IMAGE_LINK_RE, 150),
    ("image_reference", ImageReferenceInlineProcessor, _ImageReferences, IMAGE_REFERENCE_RE, 140),
    ("short_reference", ShortReferenceInlineProcessor, _ShortReferences, LINK_AT_BRACKET, 130),
    (
        "short_image_ref",
        ShortImageReferenceInlineProcessor,
        _ShortImageReferences,
        IMAGE_REFERENCE_RE,
        125,
    ),
)


class _PlainLinks(_Bounded):
    """Python-Markdown's link pattern reads a link's text and address one character at a time
    (brackets in brackets, titles in quotes): a third of converting a post. A plain link, most
    are, is read in one step into the same element; anything else is left to the pattern
    itself. (An inline pattern registered in its place, as extensions do.)"""

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[ET.Element | str | None, int | None, int | None]:
        plain = _PLAIN_LINK.match(data, m.end(0))
        if plain is None:
            return super().handleMatch(m, data)
        el = ET.Element("a")
        el.text = plain.group(1)
        el.set("href", plain.group(2))
        return el, m.start(0), plain.end(0)


def _in_place(registry: Registry[Any], name: str, stock: type, ours: Any, priority: int) -> None:
    """``ours`` registered under ``name`` and ``priority``, in the place of Python-Markdown's own
    processor there, if that is still the stock one (and not another extension's)."""
    if type(registry[name]) is stock:
        registry.register(ours, name, priority)


# Python-Markdown's block processors try each block with a pattern that opens with a line
# start, which the regex engine tries at every character of it: a paragraph is tried for a
# quote, a setext heading, a rule, a link definition and a footnote, the text for a fence.
# These are those processors, trying their pattern only where what it needs is there (as
# Python-Markdown's own heading processor does with its '#'); what they find, and do, is
# theirs. (``test_render`` holds each to the stock one.)


class _Quotes(BlockQuoteProcessor):
    def test(self, parent: ET.Element, block: str) -> bool:
        return ">" in block and super().test(parent, block)


class _SetextHeadings(SetextHeaderProcessor):
    def test(self, parent: ET.Element, block: str) -> bool:
        # (The heading's text is the block's first line: its underline starts the second.)
        end = block.find("\n")
        return end >= 0 and block[end + 1 : end + 2] in ("=", "-") and super().test(parent, block)


_RULE_START = re.compile(r"\n {0,3}[-_*]")  # a line that may be a rule (not the block's first)


class _Rules(HRProcessor):
    def test(self, parent: ET.Element, block: str) -> bool:
        first = block[:4].lstrip(" ")[:1] in ("-", "_", "*")
        return (first or _RULE_START.search(block) is not None) and super().test(parent, block)


class _LinkDefinitions(ReferenceProcessor):
    def test(self, parent: ET.Element, block: str) -> bool:
        return "]:" in block and super().test(parent, block)


# Python-Markdown's block processors (name, class, ours, priority), registered in their places.
_BLOCKS = (
    ("quote", BlockQuoteProcessor, _Quotes, 20),
    ("setextheader", SetextHeaderProcessor, _SetextHeadings, 60),
    ("hr", HRProcessor, _Rules, 50),
    ("reference", ReferenceProcessor, _LinkDefinitions, 15),
)


class _FootnoteDefinitions(FootnoteBlockProcessor):
    def test(self, parent: ET.Element, block: str) -> bool:
        return "[^" in block and "]:" in block and super().test(parent, block)


class _Footnotes(FootnoteExtension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        super().extendMarkdown(md)
        blocks = md.parser.blockprocessors
        _in_place(blocks, "footnote", FootnoteBlockProcessor, _FootnoteDefinitions(self), 17)


class _TableRows(TableProcessor):
    def test(self, parent: ET.Element, block: str) -> bool:
        # (A table's first row has a '|': it splits into cells, or has a border.)
        return "|" in block and super().test(parent, block)


class _Tables(TableExtension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        super().extendMarkdown(md)
        rows = _TableRows(md.parser, self.getConfigs())
        _in_place(md.parser.blockprocessors, "table", TableProcessor, rows, 75)


class _AttrLists(AttrListTreeprocessor):
    def run(self, doc: ET.Element) -> None:
        # (Every attribute list is written in braces; most texts have none to look for.)
        if any("{" in text for el in doc.iter() for text in (el.text, el.tail) if text):
            super().run(doc)


class _AttrListsInBraces(AttrListExtension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        super().extendMarkdown(md)
        _in_place(md.treeprocessors, "attr_list", AttrListTreeprocessor, _AttrLists(md), 8)


class _HtmlBlocks(HtmlBlockPreprocessor):
    """Raw HTML set aside: Python's HTML parser, which it feeds the text, reads a text with
    no '<' and no '&' as data alone, kept as it is."""

    def run(self, lines: list[str]) -> list[str]:
        if any("<" in line or "&" in line for line in lines):
            return super().run(lines)
        return lines


class _Fences(FencedBlockPreprocessor):
    def run(self, lines: list[str]) -> list[str]:
        if any("```" in line or "~~~" in line for line in lines):
            return super().run(lines)
        return lines


class _FencedCode(FencedCodeExtension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        super().extendMarkdown(md)
        fences = _Fences(md, self.getConfigs())
        _in_place(md.preprocessors, "fenced_code_block", FencedBlockPreprocessor, fences, 25)


# What a text must hold for each of Python-Markdown's inline patterns (and ours, in their
# places) to match in it: a character any match starts with or contains.
_INLINE_NEEDS = {
    "backtick": "`",
    "escape": "\\",
    "footnote": "[",
    "reference": "[",
    "link": "[",
    "image_link": "[",
    "image_reference": "[",
    "short_reference": "[",
    "short_image_ref": "[",
    "autolink": "<",
    "automail": "<",
    "html": "<",
    "entity": "&",
    "em_strong": "*_",
}
_LINE_BREAK = "  \n"  # the "linebreak" pattern: two spaces at a line's end


@functools.lru_cache(maxsize=8)
def _marks(patterns: tuple[str, ...], breaks: bool) -> re.Pattern[str]:
    """What a text must hold for one of ``patterns`` (or, ``breaks``, a line break) to match
    in it, or for it to hold Python-Markdown's placeholders (STX, ETX)."""
    chars = sorted({c for name in patterns for c in _INLINE_NEEDS[name]})
    needed = f"[{re.escape(''.join(chars))}\x02\x03]"
    return re.compile(f"{needed}|{_LINE_BREAK}" if breaks else needed)


class _PlainTexts(Treeprocessor):
    """Texts in which no inline pattern can match, marked ``AtomicString`` before the inline
    step (Python-Markdown's documented way to keep a text from its inline patterns), which
    would otherwise try each of its fifteen patterns on every text and find nothing: most of
    a post's paragraphs, list items and headings hold no link, emphasis or code. The HTML is
    the same either way; a post converts in a fifth less time.

    Which characters each pattern needs is ``_INLINE_NEEDS``. Should an inline pattern not
    named there be registered (another version of Python-Markdown, another extension), no
    text is marked: it might need anything. A text holding Python-Markdown's placeholders
    (STX, ETX) is never marked either."""

    def run(self, root: ET.Element) -> None:
        # (Asked at each conversion, as the patterns stand then: about 4 µs.)
        patterns = self.md.inlinePatterns
        present = tuple(name for name in _INLINE_NEEDS if name in patterns)
        breaks = "linebreak" in patterns
        if len(present) + breaks != len(patterns):
            return
        search = _marks(present, breaks).search
        for el in root.iter():
            text, tail = el.text, el.tail
            if text and type(text) is str and search(text) is None:
                el.text = AtomicString(text)
            if tail and type(tail) is str and search(tail) is None:
                el.tail = AtomicString(tail)


class _BlogtoolExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        inline, code = md.inlinePatterns, BacktickInlineProcessor(BACKTICK_AT_MARK)
        _in_place(inline, "backtick", BacktickInlineProcessor, code, 190)
        _in_place(inline, "link", LinkInlineProcessor, _PlainLinks(LINK_AT_BRACKET, md), 160)
        for name, stock, bounded, expression, priority in _BRACKETS:
            _in_place(inline, name, stock, bounded(expression, md), priority)
        _in_place(md.preprocessors, "html_block", HtmlBlockPreprocessor, _HtmlBlocks(md), 20)
        for block, stock_block, looking_first, at in _BLOCKS:
            _in_place(md.parser.blockprocessors, block, stock_block, looking_first(md.parser), at)
        # Just before the inline step (20), after the footnotes' (50) has added its texts.
        md.treeprocessors.register(_PlainTexts(md), "plain_texts", 20.5)
        md.treeprocessors.register(_ShiftHeadings(md), "shift_headings", 6)
        # After the inline processor (20) and attr_list (8), so explicit {#ids} are kept.
        md.treeprocessors.register(_HeadingIds(md), "heading_ids", 5)
        md.treeprocessors.register(_Collect(md), "blogtool_collect", -100)


_converters = threading.local()  # a Markdown instance keeps state while it converts
# A footnote's way back is titled with the site's word when the HTML is shown (``titled``):
# the conversion, and so the cache, is the same for every site.
_BACKLINK = "blogtool-backlink-{}-title"
_BACKLINK_MADE = re.compile(r"blogtool-backlink-(\d+)-title")


def _converter() -> markdown.Markdown:
    md: markdown.Markdown | None = getattr(_converters, "md", None)
    if md is None:
        md = _converters.md = markdown.Markdown(
            extensions=[
                _Tables(),
                _FencedCode(),
                _Footnotes(BACKLINK_TITLE=_BACKLINK),
                SaneListExtension(),
                _AttrListsInBraces(),
                _BlogtoolExtension(),
            ],
            output_format="html",
        )
    return md


# The longest text a post or tip may have, in characters: ten times a long report. Above it
# nothing is read (the checks and Markdown take time that grows with the text).
MAX_BODY = 256 * 1024
# How much scanning unclosed '<tag' starts may cost, per character of text (see
# ``unreadable``), before a text is refused instead of read.
_TAG_SCAN_PER_CHAR = 200  # (about 2 ns a character: well under a second at MAX_BODY)
_TAG_START = re.compile(r"<[A-Za-z]")
# The longest run of text Python-Markdown reads inline as one piece (a paragraph). It rebuilds
# the piece at each emphasis or link it finds in it, so one piece of n characters with n/2 of
# them costs the square of n; pieces this long keep a whole text to about a second.
MAX_PARAGRAPH = 32 * 1024
# The most '[' one such piece may have: each may be read up to TEXT_WINDOW characters on (a
# real paragraph has a few dozen links).
MAX_BRACKETS = 1000
_FENCE = re.compile(r"\s{0,3}(`{3,}|~{3,})")
_OWN_PIECE = re.compile(r"\s*(?:[-*+]\s|\d{1,9}[.)]\s|\||#)")  # a list item, table row, heading


class Unreadable(ValueError):
    """A text that would take too long to read: why, and where (an offset into it)."""

    def __init__(self, reason: str, offset: int):
        super().__init__(reason)
        self.offset = offset


def unreadable(body: str) -> Unreadable | None:
    """Why ``body`` must not be read, in time linear in it, or None. Python's HTML parser, which
    Python-Markdown feeds the whole text, reads from each '<tag' start to the next '>': many
    starts with no '>' after them cost the square of the text ('<div' 50,000 times: minutes)."""
    if len(body) > MAX_BODY:
        return Unreadable("too-long", 0)
    # A paragraph is part of the text: in a text no longer than the longest paragraph, with no
    # more '[' than one may have, none is too long or has too many (most posts, at once).
    short = len(body) <= MAX_PARAGRAPH and body.count("[") <= MAX_BRACKETS
    fence, piece, brackets, piece_start, offset = "", 0, 0, 0, 0
    for line in () if short else body.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence:  # code: shown as it is, not read inline
            if opening and opening.group(1).startswith(fence):
                fence = ""
        elif opening:
            fence, piece = opening.group(1), 0
        elif not line.strip():
            piece = 0
        else:
            if piece == 0 or _OWN_PIECE.match(line):
                piece, brackets, piece_start = 0, 0, offset
            piece += len(line)
            brackets += line.count("[")
            if piece > MAX_PARAGRAPH:
                return Unreadable("paragraph", piece_start)
            if brackets > MAX_BRACKETS:
                return Unreadable("brackets", piece_start)
        offset += len(line)
    cost, close, first = 0, -1, -1
    for m in _TAG_START.finditer(body):
        start = m.start()
        if close < start:  # the next '>' (they are found in order: linear in all)
            close = body.find(">", start)
            if close < 0:
                close = len(body)
        if close - start > 200 and first < 0:
            first = start
        cost += close - start
        if cost > _TAG_SCAN_PER_CHAR * len(body) + 1_000_000:
            return Unreadable("tags", max(first, 0))
    return None


_Found = tuple[tuple[str, bool, str | None, bool], ...]
_Hazards = tuple[tuple[str, str], ...]
_Prose = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=64)  # (parsing a file reads its body, then stores its HTML)
def _read(body: str, with_prose: bool) -> tuple[str, _Found, _Hazards, _Prose]:
    """The HTML, links, hazards and (``with_prose``) running text of ``body``: one conversion,
    kept for the next questions about it (a caller asks them all with the same ``with_prose``;
    always given, and positionally, so that each reading has one key in the cache)."""
    return _convert(body, with_prose)


def _convert(body: str, with_prose: bool) -> tuple[str, _Found, _Hazards, _Prose]:
    refused = unreadable(body)
    if refused is not None:
        raise refused
    md = _converter()
    # (Python-Markdown runs no processor on a blank text: nothing found, not the last text's.)
    md.blogtool_references, md.blogtool_hazards = [], []  # type: ignore[attr-defined]
    md.blogtool_prose = ()  # type: ignore[attr-defined]
    md.blogtool_want_prose = with_prose  # type: ignore[attr-defined]
    try:
        html = md.convert(body)
        found = tuple(md.blogtool_references)  # type: ignore[attr-defined]
        hazards = tuple(dict.fromkeys(md.blogtool_hazards))  # type: ignore[attr-defined]
        return html, found, hazards, md.blogtool_prose  # type: ignore[attr-defined]
    finally:
        md.reset()


def prose(body: str, keep_code: bool = False) -> str:
    """The running text of ``body`` as Python-Markdown reads it, one block (paragraph,
    heading, list item, table row) per paragraph, without markup, code blocks or pictures.
    Inline code is left out (LIX counts prose) or kept as words with ``keep_code`` (an
    excerpt must not lose a command's name from the middle of a sentence). A text that
    cannot be read has none."""
    try:
        blocks = _read(body, True)[3]
    except Exception:  # (unreadable, or a library's bug: reported by the checks of the file)
        return ""
    return "\n\n".join(
        full if keep_code else lean for lean, full in blocks if (full if keep_code else lean)
    )


def titled(html: str, backlink_title: str) -> str:
    """``html`` with each footnote's way back titled ``backlink_title`` (a ``%d`` or ``{}`` in
    it is the footnote's number)."""
    if "blogtool-backlink-" not in html:
        return html

    def title(m: re.Match[str]) -> str:
        number = m.group(1)
        made = backlink_title.replace("%d", number).replace("{}", number)
        return htmllib.escape(made, quote=True)

    return _BACKLINK_MADE.sub(title, html)


def to_html(body: str, backlink_title: str = "") -> str:
    """The page HTML of a Markdown body. Raw HTML passes through. ``backlink_title`` is the
    tooltip of a footnote's way back to the text (a reader-facing word, from words.txt)."""
    return titled(_read(body, False)[0], backlink_title)


def references(body: str, with_prose: bool = False) -> tuple[Reference, ...]:
    """Every link and picture of ``body`` as Python-Markdown reads it, each with where it is
    written (the first place its address stands, from where the one before was found)."""
    made, start = [], 0
    for target, image, alt, html in _read(body, with_prose)[1]:
        at = body.find(target, start) if target else -1
        if at < 0:
            at = body.find(target) if target else -1
        else:
            start = at + len(target)
        made.append(Reference(target, image, alt, max(at, 0), html))
    return tuple(made)


def html(body: str, with_prose: bool = False) -> str:
    """``body`` as HTML (footnotes' ways back untitled: ``titled``)."""
    return _read(body, with_prose)[0]


def hazards(body: str, with_prose: bool = False) -> tuple[tuple[str, str], ...]:
    """What in ``body`` makes its page run script, once each, as (what, where): (SCRIPT,
    "script"), (HANDLER, "onclick"), (JAVASCRIPT, "href"). Allowed (it is the site's own HTML),
    and worth a warning."""
    return _read(body, with_prose)[2]


def body_html(item: Item, backlink_title: str, kept: str | None = None) -> str:
    """The item's body as HTML (the one made as its file was parsed, if it was: with the item,
    or ``kept`` from the parse cache), each footnote's way back titled ``backlink_title``."""
    html = item.html if item.html is not None else kept
    return titled(_read(item.body, False)[0] if html is None else html, backlink_title)
