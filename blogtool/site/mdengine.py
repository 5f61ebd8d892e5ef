"""Markdown to HTML with Python-Markdown, configured once and made quicker where that changes
nothing: every step that cannot act on a text (it lacks the characters the step looks for) is
left out, and the output stays byte-identical to Python-Markdown's (tests/test_render.py
compares the two on tricky texts and on random markup).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import markdown
from markdown.extensions import Extension
from markdown.extensions.attr_list import AttrListExtension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.inlinepatterns import LINK_RE, LinkInlineProcessor
from markdown.preprocessors import NormalizeWhitespace
from markdown.treeprocessors import Treeprocessor
from markdown.util import ETX, STX

from blogtool.site.mdinline import FastInlineProcessor, FastLinkProcessor, search_for
from blogtool.slugs import slugify

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


# What each of Python-Markdown's block processors cannot recognise a block without (by
# registered name); its test of a block that has none of them is left out (it could not pass).
# And what the preprocessors that search the whole text look for: fenced_code a fence;
# html_block parses the text as HTML, and text without a '<' or an '&' is all data to it.
_PREPROCESSOR_NEEDS: dict[str, tuple[str, ...]] = {
    "fenced_code_block": ("```", "~~~"),
    "html_block": ("<", "&"),
}
_BLOCK_NEEDS: dict[str, tuple[str, ...]] = {
    "hashheader": ("#",),
    "setextheader": ("\n=", "\n-"),
    "quote": (">",),
    "table": ("|",),
    "footnote": ("[^",),  # its test always passes; the work is in its run
    "reference": ("]:",),  # so does this one's, and a definition is '[id]: url'
}
# A rule is three or more of one of '-', '_', '*' with at most two spaces between: two of them
# that close (a '-' is in many words: 'e-tjänst').
_RULE = re.compile(r"-[ ]{0,2}-|_[ ]{0,2}_|\*[ ]{0,2}\*")


class _SearchOnce:
    """A block processor's pattern whose ``search`` keeps its last answer: the processor's
    test and then its run search the same block (for a heading, some microseconds each)."""

    def __init__(self, pattern: re.Pattern[str]):
        self.pattern = pattern
        self.text: str | None = None
        self.found: re.Match[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        if text is not self.text:
            self.text, self.found = text, self.pattern.search(text)
        return self.found


class _NormalizeWhitespace(NormalizeWhitespace):
    """Python-Markdown's first step. On a text without what it changes (a carriage return, a
    tab, a space at a line's end, its own marker characters) it only adds two empty lines;
    then its whole-text search, the costly part, is left out."""

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)  # (a space at the end is one before the added line ends)
        if text.endswith(" ") or any(c in text for c in (" \n", "\t", "\r", STX, ETX)):
            return super().run(lines)
        return [*lines, "", ""]


def _test_only_with(
    test: Callable[[ET.Element, str], bool], needs: tuple[str, ...] | re.Pattern[str]
) -> Callable[[ET.Element, str], bool]:
    if isinstance(needs, re.Pattern):
        found = needs.search

        def quick_test_pattern(parent: ET.Element, block: str) -> bool:
            return found(block) is not None and test(parent, block)

        return quick_test_pattern
    if len(needs) == 1 and len(needs[0]) == 1:  # (every block meets every test: the check
        # itself must cost little; a character alone is found at machine speed)
        need = needs[0]

        def quick_test(parent: ET.Element, block: str) -> bool:
            return need in block and test(parent, block)

        return quick_test
    search = search_for(needs)

    def quick_test_any(parent: ET.Element, block: str) -> bool:
        return search(block, 0) is not None and test(parent, block)

    return quick_test_any


def _only_if(
    md: markdown.Markdown, flag: str, run: Callable[[ET.Element], ET.Element | None]
) -> Callable[[ET.Element], ET.Element | None]:
    """A tree processor that has nothing to do in a text without some character: attr_list
    reads '{: ...}' (no '{', none there); unescape turns back what a '\\' escaped."""

    def quick_run(root: ET.Element) -> ET.Element | None:
        return run(root) if getattr(md, flag, True) else None

    return quick_run


Lines = Callable[[list[str]], list[str]]


def _run_only_with(run: Lines, needs: tuple[str, ...]) -> Lines:
    """A preprocessor that looks through the whole text for something that starts with one
    of ``needs``: a text with none of them comes through it unchanged."""

    firsts = "".join(sorted({n[0] for n in needs}))

    def quick_run(lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        # (A character alone is looked for at machine speed, three in a row are not.)
        if any(c in text for c in firsts) and any(n in text for n in needs):
            return run(lines)
        return lines

    return quick_run


# The block processors tried before 'paragraph', in order. A block that starts with a letter
# fails the tests of the first five (an empty block, an indented one, a numbered or bulleted
# list item all start otherwise), and one with none of _NOT_PLAIN fails the rest (what they
# need, as their quick tests above check it): it can only be a paragraph.
_BEFORE_PARAGRAPH = (
    "empty", "indent", "code", "table", "hashheader", "setextheader", "hr", "olist", "ulist",
    "quote", "footnote", "reference",
)  # fmt: skip
_NOT_PLAIN = re.compile(
    "|".join([*(re.escape(n) for needs in _BLOCK_NEEDS.values() for n in needs), _RULE.pattern])
)


def _quick_blocks(md: markdown.Markdown) -> None:
    """Python-Markdown's block loop (``BlockParser.parseBlocks``) over a list of the processors
    made once (the registry makes one per block), a plain paragraph handed to the paragraph
    processor at once. Left as it is if the processors are not the ones listed above."""
    parser = md.parser
    registry, names = parser.blockprocessors, (*_BEFORE_PARAGRAPH, "paragraph")
    processors = list(registry)
    if not all(n in registry for n in names) or processors != [registry[n] for n in names]:
        return
    paragraph = processors[-1]
    not_plain = _NOT_PLAIN.search

    def parse_blocks(parent: ET.Element, blocks: list[str]) -> None:
        while blocks:
            block = blocks[0]
            if block[:1].isalpha() and not_plain(block) is None:
                paragraph.run(parent, blocks)  # (its test passes any block)
                continue
            for processor in processors:  # (a run that returns False passes the block on)
                if processor.test(parent, blocks[0]) and processor.run(parent, blocks) is not False:
                    break

    parser.parseBlocks = parse_blocks  # type: ignore[method-assign]


@lru_cache(maxsize=4)
def _converter(backlink_title: str) -> markdown.Markdown:
    # Instances, not names: a name is looked up among every installed package's entry points,
    # which costs more than converting a post.
    md = markdown.Markdown(
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
    md.preprocessors.register(_NormalizeWhitespace(md), "normalize_whitespace", 30)
    md.treeprocessors.register(FastInlineProcessor(md), "inline", 20)
    if type(md.inlinePatterns["link"]) is LinkInlineProcessor:
        md.inlinePatterns.register(FastLinkProcessor(LINK_RE, md), "link", 160)
    for name, needs in _BLOCK_NEEDS.items():
        processor = md.parser.blockprocessors[name]
        processor.test = _test_only_with(processor.test, needs)  # type: ignore[method-assign,assignment]
    heading = md.parser.blockprocessors["hashheader"]
    if isinstance(getattr(heading, "RE", None), re.Pattern):
        heading.RE = _SearchOnce(heading.RE)  # type: ignore[attr-defined]
    rule = md.parser.blockprocessors["hr"]
    rule.test = _test_only_with(rule.test, _RULE)  # type: ignore[method-assign,assignment]
    for name, needs in _PREPROCESSOR_NEEDS.items():
        pre = md.preprocessors[name]
        pre.run = _run_only_with(pre.run, needs)  # type: ignore[method-assign,assignment]
    for name, flag in (("attr_list", "blogtool_braces"), ("unescape", "blogtool_backslash")):
        tree = md.treeprocessors[name]
        tree.run = _only_if(md, flag, tree.run)  # type: ignore[method-assign,assignment]
    _quick_blocks(md)
    _quick_block_level(md)
    return md


def _quick_block_level(md: markdown.Markdown) -> None:
    """Python-Markdown asks whether a tag is block-level several times an element (the line
    breaks it adds, raw HTML) and looks it up in a list; a set made of that list, once its
    extensions have added theirs, answers the same."""
    blocks = frozenset(md.block_level_elements)

    def is_block_level(tag: Any) -> bool:
        return isinstance(tag, str) and tag.lower().rstrip("/") in blocks

    md.is_block_level = is_block_level  # type: ignore[method-assign]


def to_html(body: str, backlink_title: str = "") -> str:
    """The page HTML of a Markdown body. Raw HTML passes through. ``backlink_title`` is the
    tooltip of a footnote's way back to the text (a reader-facing word, from words.txt)."""
    md = _converter(backlink_title)
    md.blogtool_braces = "{" in body  # type: ignore[attr-defined]
    md.blogtool_backslash = "\\" in body  # type: ignore[attr-defined]
    try:
        return md.convert(body)
    finally:
        md.reset()
