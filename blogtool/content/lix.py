"""LIX, the Swedish readability index (Björnsson 1968).

LIX = words / sentences + 100 * long words / words, where a long word has more than six letters.
Below 30 reads very easily, 40 is plain prose, above 50 is hard and above 60 is bureaucratic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from blogtool.content.markdown import prose
from blogtool.content.model import Item
from blogtool.errors import Problem
from blogtool.i18n import _, ngettext

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_JOINERS = str.maketrans("", "", "-'’")  # a hyphen or apostrophe inside a word is no letter
_SENTENCE_END = re.compile(r"[.!?:]+(?=[\s\"”»)]|$)")


@dataclass(frozen=True)
class Lix:
    words: int
    sentences: int
    long_words: int

    @property
    def score(self) -> float:
        if not self.words or not self.sentences:
            return 0.0
        return self.words / self.sentences + 100 * self.long_words / self.words


def compute(text: str) -> Lix:
    """LIX of plain text. Paragraphs, headings and list items each end a sentence."""
    words = sentences = long_words = 0
    for block in re.split(r"\n\s*\n", text):
        block_words = _WORD.findall(block)
        if not block_words:
            continue
        words += len(block_words)
        long_words += sum(1 for w in block_words if len(w) > 6 and len(w.translate(_JOINERS)) > 6)
        ends = list(_SENTENCE_END.finditer(block))
        sentences += len(ends)
        tail = block[ends[-1].end() :] if ends else block
        if _WORD.search(tail):
            sentences += 1  # a heading or a last sentence without a full stop
    return Lix(words, sentences, long_words)


def of_markdown(body: str) -> Lix:
    return compute(prose(body))


def of_item(item: Item) -> Lix:
    """An item's LIX: counted when its file was parsed (and kept with it in the parse cache)."""
    if item.readability is not None:
        return Lix(*item.readability)
    return of_markdown(item.body)


def warning(item: Item, limit: float) -> Problem | None:
    """The warning ``check`` gives a text whose LIX is above ``limit``, or None."""
    found = of_item(item)
    if found.score <= limit:
        return None
    return Problem(
        item.path,
        _(
            "LIX {score:.0f} is above the limit {limit:g} ({words}, {sentences}, "
            "{long_words}); shorter sentences and words read easier"
        ).format(
            score=found.score,
            limit=limit,
            words=ngettext("{n} word", "{n} words", found.words).format(n=found.words),
            sentences=ngettext("{n} sentence", "{n} sentences", found.sentences).format(
                n=found.sentences
            ),
            long_words=ngettext("{n} long word", "{n} long words", found.long_words).format(
                n=found.long_words
            ),
        ),
        severity="warning",
    )
