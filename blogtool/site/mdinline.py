"""The inline step of Markdown (Python-Markdown's ``InlineProcessor``), made quicker where
that changes nothing: a pattern is not tried on a text that lacks what it needs, and plain links
are read in one step. The output stays byte-identical to Python-Markdown's (tests/test_render.py
compares the two).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from markdown.inlinepatterns import (
    ImageReferenceInlineProcessor,
    LinkInlineProcessor,
    ReferenceInlineProcessor,
    ShortImageReferenceInlineProcessor,
    ShortReferenceInlineProcessor,
)
from markdown.treeprocessors import InlineProcessor
from markdown.util import INLINE_PLACEHOLDER_PREFIX, AtomicString

# What each of Python-Markdown's own inline patterns cannot match without (by registered
# name). A pattern another extension adds is not listed and is always tried (and then every
# text is).
_PATTERN_NEEDS: dict[str, tuple[str, ...]] = {
    "backtick": ("`",),
    "escape": ("\\",),
    "footnote": ("[^",),
    "reference": ("[",),
    "link": ("[",),
    "image_link": ("![",),
    "image_reference": ("![",),
    "short_reference": ("[",),
    "short_image_ref": ("![",),
    "autolink": ("<",),
    "automail": ("<",),
    "linebreak": ("  \n",),
    "html": ("<",),
    "entity": ("&",),
    "em_strong": ("*", "_"),
    "em_strong2": ("_",),
    "not_strong": ("*", "_"),
    "strong_em": ("*", "_"),
}


def search_for(needs: tuple[str, ...]) -> Callable[[str, int], bool | None]:
    """``search(text, start)``: True if one of ``needs`` is in ``text`` from ``start`` on,
    else None. The one-character needs are looked for as one character class; a longer need
    that holds one of them is found with it, any other by its last character (at machine
    speed) and only then whole. An alternation of them all, one regex, takes several times
    as long, and so does a search for two or three characters in a row."""
    singles = sorted({n for n in needs if len(n) == 1})
    longer = sorted({n for n in needs if len(n) > 1 and not set(n) & set(singles)})
    one = re.compile(f"[{''.join(map(re.escape, singles))}]").search if singles else None

    def search(text: str, start: int = 0) -> bool | None:
        if one is not None and one(text, start) is not None:
            return True
        for need in longer:
            if text.find(need[-1], start) != -1 and text.find(need, start) != -1:
                return True
        return None

    return search


_NEEDS = tuple(sorted(set().union(*_PATTERN_NEEDS.values())))
# Any of them: a text with none comes out of every listed pattern unchanged.
_ANY_NEED = search_for(_NEEDS)
# Any but the '[' that starts a link: a text without these can only match the link patterns.
_ANY_BUT_LINKS = search_for(tuple(n for n in _NEEDS if n != "["))


def _never(data: str, start: int) -> None:
    return None


# Patterns that only ever make a link from a definition ('[id]: url') in the same text: with
# none defined, every match of theirs is dropped and the text is left as it was.
_REFERENCES = (
    ReferenceInlineProcessor,
    ShortReferenceInlineProcessor,
    ImageReferenceInlineProcessor,
    ShortImageReferenceInlineProcessor,
)

Plan = list[tuple[Any, Callable[[str, int], Any] | None]]


class FastInlineProcessor(InlineProcessor):
    """Python-Markdown tries every inline pattern on every text node, which is most of its
    time. A text with none of the characters any pattern starts with comes out unchanged, so it
    is returned at once (when every pattern is a listed one); a pattern whose characters are
    not in what is left of a text is not tried (it could not match), nor are the reference
    patterns in a text that defines no reference. Otherwise this is Python-Markdown's own loop
    (``InlineProcessor.__handleInline``), over a plain list of the patterns; the output is
    byte-identical."""

    _plans: tuple[Plan, Plan] | None = None
    _all_listed = False
    _link: FastLinkProcessor | None = None  # the link pattern, when plain links are quick

    def _patterns(self) -> tuple[Plan, Plan]:
        """(pattern, a search for what it needs, or None) in the registry's order, made on
        first use (the extensions have registered theirs by then); and the same plan with the
        reference patterns never tried, for a text that defines no reference."""
        if self._plans is None:
            registry = self.inlinePatterns
            names = {id(registry[name]): name for name in _PATTERN_NEEDS if name in registry}
            plan: Plan = [
                (pattern, search_for(_PATTERN_NEEDS[names[id(pattern)]])
                 if id(pattern) in names else None)
                for pattern in registry
            ]  # fmt: skip
            self._all_listed = all(needs is not None for _, needs in plan)
            if self._all_listed and "link" in registry:
                link: Any = registry["link"]
                self._link = link if type(link) is FastLinkProcessor else None
            without: Plan = [
                (pattern, _never if type(pattern) in _REFERENCES else needs)
                for pattern, needs in plan
            ]
            self._plans = plan, without
        return self._plans

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
        if isinstance(data, AtomicString):
            return data
        plan, without_references = self._patterns()
        patterns = plan if self.md.references else without_references
        # (A text with none of what any pattern needs stays as it is, also after a match has
        # put a placeholder in it: a placeholder is made of none of them.)
        all_listed = self._all_listed
        if all_listed and not _ANY_NEED(data, 0):
            return data
        if patternIndex == 0 and patterns is without_references and self._link is not None:
            linked = self._plain_links(data, self._link)
            if linked is not None:
                return linked
        apply = self._InlineProcessor__applyPattern  # type: ignore[attr-defined]
        start = 0
        while patternIndex < len(patterns):
            pattern, needs = patterns[patternIndex]
            if needs is not None and needs(data, start) is None:
                patternIndex, start = patternIndex + 1, 0  # as when a pattern does not match
                continue
            data, matched, start = apply(pattern, data, patternIndex, start)
            if not matched:
                patternIndex += 1
            elif all_listed and not _ANY_NEED(data, 0):
                return data
        return data

    def _plain_links(self, data: str, link: FastLinkProcessor) -> str | None:
        """A text whose only markup is plain links, each link stashed as the patterns' loop
        would have left it (the placeholders' numbers in the same order); None for any other
        text. In such a text no pattern before the link pattern can match (the reference
        patterns are not tried, none being defined), and after it nothing is left to match."""
        if _ANY_BUT_LINKS(data, 0) or any(
            tag.lower() in self.ancestors for tag in link.ANCESTOR_EXCLUDES
        ):
            return None
        found = list(_WHOLE_PLAIN_LINK.finditer(data))
        if len(found) != data.count("["):  # a '[' that is not a plain link's
            return None
        stash, kind = self._InlineProcessor__stashNode, link.type()  # type: ignore[attr-defined]
        parts: list[str] = []
        done = 0
        for m in found:
            parts += (data[done : m.start()], stash(_anchor(m), kind))
            done = m.end()
        parts.append(data[done:])
        return "".join(parts)

    def _InlineProcessor__processPlaceholders(
        self, data: str | None, parent: ET.Element, isText: bool = True
    ) -> list[tuple[ET.Element, list[str]]]:
        """Python-Markdown's, for a text without a placeholder (most are): it is added to
        the parent's text (or tail) as that method adds it; otherwise the method itself."""
        if not data or INLINE_PLACEHOLDER_PREFIX in data:
            return _STOCK_PLACEHOLDERS(self, data, parent, isText)  # type: ignore[no-any-return]
        text = AtomicString(data) if isinstance(data, AtomicString) else data
        if isText:
            parent.text = parent.text + text if parent.text else text
        else:
            parent.tail = parent.tail + text if parent.tail else text
        return []


_STOCK_PLACEHOLDERS = InlineProcessor._InlineProcessor__processPlaceholders  # type: ignore[attr-defined]

# The link text and the address of a plain '[text](address)': no brackets in the text; no
# parenthesis, quote, space, '<' (the address would be '<...>') or placeholder in the address.
_PLAIN_LINK = re.compile(r'([^\[\]]*)\]\(([^()\'"\s<\x02\x03]*)\)')
_WHOLE_PLAIN_LINK = re.compile(r"\[" + _PLAIN_LINK.pattern)


class FastLinkProcessor(LinkInlineProcessor):
    """Python-Markdown's link pattern, which reads the text and the address of a link one
    character at a time (brackets in brackets, titles in quotes). A plain link, most are, is
    read in one step into the same element; anything else is left to the pattern itself."""

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[ET.Element | str | None, int | None, int | None]:
        plain = _PLAIN_LINK.match(data, m.end(0))
        if plain is None:
            return super().handleMatch(m, data)
        return _anchor(plain), m.start(0), plain.end(0)


def _anchor(plain: re.Match[str]) -> ET.Element:
    """The element Python-Markdown makes of a plain link (a match of ``_PLAIN_LINK``)."""
    el = ET.Element("a")
    el.text = plain.group(1)
    el.set("href", plain.group(2))
    return el
