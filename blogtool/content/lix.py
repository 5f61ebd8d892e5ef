"""LIX, the Swedish readability index (Björnsson 1968).

LIX = words / sentences + 100 * long words / words, where a long word has more than six letters.
Below 30 reads very easily, 40 is plain prose, above 50 is hard and above 60 is bureaucratic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?:]+(?=[\s\"”»)]|$)")
_BLOCK_START = re.compile(r"^\s{0,3}(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|>\s?)")


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


def markdown_to_prose(body: str) -> str:
    """The running text of a Markdown body, one block per paragraph, without markup."""
    text = re.sub(r"^(```|~~~).*?^\1\s*$", "", body, flags=re.DOTALL | re.MULTILINE)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images are not read as prose
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"^\s*\[[^\]]+\]:\s*\S+.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"https?://\S+", "", text)
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _BLOCK_START.match(line):
            if current:
                blocks.append(" ".join(current))
            current = []
            line = _BLOCK_START.sub("", line)
        if line.strip():
            current.append(line.strip())
    if current:
        blocks.append(" ".join(current))
    return "\n\n".join(re.sub(r"[*_]{1,3}", "", b) for b in blocks)


def compute(text: str) -> Lix:
    """LIX of plain text. Paragraphs, headings and list items each end a sentence."""
    words = sentences = long_words = 0
    for block in re.split(r"\n\s*\n", text):
        block_words = _WORD.findall(block)
        if not block_words:
            continue
        words += len(block_words)
        long_words += sum(1 for w in block_words if len(re.sub(r"[-'’]", "", w)) > 6)
        ends = list(_SENTENCE_END.finditer(block))
        sentences += len(ends)
        tail = block[ends[-1].end() :] if ends else block
        if _WORD.search(tail):
            sentences += 1  # a heading or a last sentence without a full stop
    return Lix(words, sentences, long_words)


def of_markdown(body: str) -> Lix:
    return compute(markdown_to_prose(body))
