"""HTML to plain text written for reading: paragraphs wrapped, headings underlined, lists as
lists, links as their text followed by the address, images as their description."""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser

from blogtool.htmlparse import feedable

WIDTH = 72
_BLOCKS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "tr",
    "table",
    "ul",
    "ol",
    "hr",
    "figure",
    "figcaption",
    "section",
    "aside",
}


class _Converter(HTMLParser):
    def __init__(self, image_label: str) -> None:
        super().__init__(convert_charrefs=True)
        self.image_label = image_label
        self.blocks: list[tuple[str, str]] = []  # (kind, text); list items join tightly
        self.current: list[str] = []
        self.lists: list[list[int]] = []  # a counter per open list; -1 for bullets
        self.quote = 0
        self.heading: str | None = None
        self.pre = 0
        self.link: str | None = None
        self.link_text: list[str] = []
        self.skip = 0  # inside script/style/head

    # block handling ----------------------------------------------------------------------------
    def flush(self) -> None:
        text = "".join(self.current)
        self.current = []
        if self.pre:
            if text.strip("\n"):
                self.blocks.append(("pre", text.strip("\n")))
            return
        text = re.sub(r"[ \t\r\f\v]+", " ", text)
        lines = [line.strip() for line in text.split("\n")]
        text = "\n".join(line for line in lines if line)
        if not text:
            return
        prefix = ""
        kind = "li" if self.lists else "p"
        if self.lists and self._in_item:
            depth = len(self.lists) - 1
            counter = self.lists[-1]
            marker = "-" if counter[0] < 0 else f"{counter[0]}."
            prefix = "  " * depth + marker + " "
            self._in_item = False
        if self.heading:
            underline = "=" if self.heading in ("h1", "h2") else "-"
            block = text + "\n" + underline * min(len(text), WIDTH)
        else:
            indent = " " * len(prefix)
            block = "\n".join(
                textwrap.fill(
                    para,
                    width=WIDTH - 2 * self.quote,
                    initial_indent=prefix if i == 0 else indent,
                    subsequent_indent=indent,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                for i, para in enumerate(text.split("\n"))
            )
        if self.quote:
            block = "\n".join("> " * self.quote + line for line in block.split("\n"))
        self.blocks.append((kind, block))

    _in_item = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
            return
        if tag in _BLOCKS:
            self.flush()
        if tag in ("ul", "ol"):
            self.lists.append([-1 if tag == "ul" else 0])
        elif tag == "li" and self.lists:
            if self.lists[-1][0] >= 0:
                self.lists[-1][0] += 1
            self._in_item = True
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = tag
        elif tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "br":
            self.current.append("\n")
        elif tag == "hr":
            self.blocks.append(("p", "-" * 20))
        elif tag == "a":
            self.link = a.get("href") or None
            self.link_text = []
        elif tag == "img":
            alt = (a.get("alt") or "").strip()
            if alt:
                self.current.append(f"[{self.image_label}: {alt}]")
        elif tag in ("td", "th") and "".join(self.current).strip():
            self.current.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
            return
        if tag == "a":
            text = "".join(self.link_text).strip()
            href = self.link
            self.link = None
            if (
                href
                and not href.startswith(("#", "mailto:"))
                and href.rstrip("/") != text.rstrip("/")
            ):
                self.current.append(f" <{href}>" if text else href)
            return
        if tag in _BLOCKS:
            self.flush()
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = None
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            data = data.replace("\n", " ")  # a source line break is a space; <br> breaks
        if self.link is not None:
            self.link_text.append(data)
        self.current.append(data)

    def text(self) -> str:
        self.flush()
        out: list[str] = []
        previous = ""
        for kind, block in self.blocks:
            if not block.strip():
                continue
            if out:
                out.append("\n" if kind == previous == "li" else "\n\n")
            out.append(block)
            previous = kind
        return "".join(out)


def html_to_text(html: str, image_label: str = "Image") -> str:
    """``image_label`` precedes an image's description: "[Bild: Karta över lederna]"."""
    converter = _Converter(image_label)
    converter.feed(feedable(html))
    converter.close()
    return converter.text()
