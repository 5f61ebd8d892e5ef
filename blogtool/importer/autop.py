"""Paragraphs as WordPress shows them. The classic editor stores a post's paragraphs as blank
lines between text, block HTML (``<ol>``, ``<table>``, ``<blockquote>``) and shortcodes, and
adds ``<p>`` only when it displays the post (its ``wpautop`` filter). An import that read the
stored text as HTML would run every paragraph into one.

This does what that filter does, on a tree of the text rather than on its characters:

- a blank line between pieces of text ends a paragraph, at the top level and inside a
  ``<blockquote>``, ``<div>``, ``<li>``, ``<td>`` or the like (text alone in one of those, on
  one line, stays as it is: ``<li>ett</li>`` is not made ``<li><p>ett</p></li>``; a
  ``<blockquote>``'s text is always a paragraph, as WordPress makes it);
- a single newline inside a paragraph is a line break (``<br>``), never one next to a block
  element;
- block elements (lists, tables, headings, ``<p>`` already written, figures) are never put
  inside a paragraph;
- ``<pre>``, ``<script>``, ``<style>``, ``<textarea>``, ``<svg>`` and ``<math>`` are left
  exactly as they were.

Content made with the block editor (it carries ``<!-- wp:`` comments) is already in
paragraphs; WordPress does not apply the filter to it, and neither does ``autop``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from blogtool.htmlparse import feedable


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Elements that end a paragraph (WordPress's list of block elements, with main and the like).
BLOCKS = _names(
    "address article aside blockquote caption col colgroup dd details div dl dt fieldset "
    "figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main map menu "
    "nav ol p pre section summary table tbody td tfoot th thead tr ul math style script svg "
    "textarea noscript template"
)
#: Left exactly as written.
VERBATIM = _names("pre script style textarea svg math template")
#: Text inside these is a run of inline content: line breaks, never paragraphs.
INLINE_HOLDERS = _names("p h1 h2 h3 h4 h5 h6 dt figcaption caption address summary legend")
#: Only other elements inside (whitespace between them is layout).
STRUCTURE = _names("ul ol dl table thead tbody tfoot tr colgroup menu map hr col")
#: Text in these is a paragraph even when it is alone.
ALWAYS_PARAGRAPHS = _names("blockquote")
VOID = _names("area base br col embed hr img input link meta param source track wbr")
BLOCK_EDITOR = re.compile(r"<!--\s*wp:")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n\s*")
_NEWLINE_OUTSIDE_TAGS = re.compile(r"(<[^>]*>)|\n")
_ENDS_IN_BR = re.compile(r"<br\s*/?>\s*$", re.I)


@dataclass
class Node:
    tag: str = ""  # "" for the root
    start: str = ""  # the start tag as written
    end: str = ""  # the end tag as written ("" when it was left open or is void)
    children: list[Node | str | Raw] = field(default_factory=list)


@dataclass
class Raw:
    """A comment, declaration or stray end tag: kept as written, never text of a paragraph
    on its own."""

    text: str


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.root = Node()
        self.stack = [self.root]

    @property
    def top(self) -> Node:
        return self.stack[-1]

    def _add_text(self, text: str) -> None:
        children = self.top.children
        if children and isinstance(children[-1], str):
            children[-1] += text
        else:
            children.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or f"<{tag}>"
        if tag in BLOCKS and self.top.tag == "p":
            self.stack.pop()  # a block element ends an open paragraph, as in HTML
        node = Node(tag, raw)
        self.top.children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.top.children.append(Node(tag, self.get_starttag_text() or f"<{tag} />"))

    def handle_endtag(self, tag: str) -> None:
        raw = f"</{tag}>"
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                self.stack[depth].end = raw
                del self.stack[depth:]
                return
        self.top.children.append(Raw(raw))  # an end tag nothing opened

    def handle_data(self, data: str) -> None:
        self._add_text(data)

    def handle_entityref(self, name: str) -> None:
        self._add_text(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._add_text(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.top.children.append(Raw(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.top.children.append(Raw(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.top.children.append(Raw(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.top.children.append(Raw(f"<![{data}]>"))


def _verbatim(node: Node | str | Raw) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, Raw):
        return node.text
    return node.start + "".join(_verbatim(c) for c in node.children) + node.end


def _breaks(text: str) -> str:
    """Newlines outside tags as ``<br>``; one that follows a ``<br>`` already is dropped. (The
    newline itself goes: after a ``<br>`` it is only white space, which some HTML-to-Markdown
    converters read as a second line break, a paragraph's end.)"""
    result = ""
    pos = 0
    for m in _NEWLINE_OUTSIDE_TAGS.finditer(text):
        result += text[pos : m.start()]
        if m.group(1) is not None:
            result += m.group(1)
        elif not _ENDS_IN_BR.search(result):
            result += "<br>"
        pos = m.end()
    return result + text[pos:]


def _inline(node: Node | str | Raw) -> str:
    """An inline element or text, as written but for its line breaks."""
    if isinstance(node, (str, Raw)):
        return _verbatim(node)
    if node.tag in VERBATIM:
        return _verbatim(node)
    return node.start + "".join(_inline(c) for c in node.children) + node.end


def _is_block(node: Node | str | Raw) -> bool:
    return isinstance(node, Node) and node.tag in BLOCKS


def _block(node: Node) -> str:
    if node.tag in VERBATIM:
        return _verbatim(node)
    if node.tag in INLINE_HOLDERS:
        inner = "".join(_inline(c) for c in node.children)
        return node.start + _breaks(inner.strip()) + node.end
    if node.tag in STRUCTURE:
        inner = "".join(
            _block(c)
            if isinstance(c, Node) and c.tag in BLOCKS
            else ("\n" if isinstance(c, str) and not c.strip() else _inline(c))
            for c in node.children
        )
        return node.start + inner + node.end
    return node.start + _flow(node.children, node.tag in ALWAYS_PARAGRAPHS) + node.end


def _pieces(run: list[Node | str | Raw]) -> list[str]:
    """An inline run cut at its blank lines (in its own text, not inside its elements)."""
    pieces = [""]
    for item in run:
        if isinstance(item, str):
            parts = _BLANK_LINE.split(item)
            pieces[-1] += parts[0]
            pieces += parts[1:]
        else:
            pieces[-1] += _inline(item)
    return pieces


def _only_markup(piece: str) -> bool:
    """Whether a piece is nothing but comments and whitespace (never a paragraph)."""
    return not re.sub(r"<!--.*?-->|\s", "", piece, flags=re.S)


def _flow(children: list[Node | str | Raw], always: bool) -> str:
    runs: list[list[Node | str | Raw] | Node] = []
    for child in children:
        if _is_block(child):
            assert isinstance(child, Node)
            runs.append(child)
        elif runs and isinstance(runs[-1], list):
            runs[-1].append(child)
        else:
            runs.append([child])
    pieces = [p.strip() for r in runs if isinstance(r, list) for p in _pieces(r)]
    texts = [p for p in pieces if p and not _only_markup(p)]
    wrap = always or len(texts) > 1 or any(isinstance(r, Node) for r in runs)
    out: list[str] = []
    for run in runs:
        if isinstance(run, Node):
            out.append(_block(run))
            continue
        for piece in _pieces(run):
            piece = piece.strip()
            if not piece:
                continue
            if _only_markup(piece) or not wrap:
                out.append(_breaks(piece) if not _only_markup(piece) else piece)
            else:
                out.append(f"<p>{_breaks(piece)}</p>")
    return "\n".join(out) if wrap or len(out) > 1 else "".join(out)


def autop(html: str) -> str:
    """``html`` with its paragraphs made explicit, as WordPress displays a classic post."""
    if not html.strip() or BLOCK_EDITOR.search(html):
        return html
    tree = _Tree()
    tree.feed(feedable(html.replace("\r\n", "\n")))
    tree.close()
    return _flow(tree.root.children, True) + "\n"
