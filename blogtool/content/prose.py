"""The running text of a Markdown body, without markup: what LIX counts and excerpts show."""

from __future__ import annotations

import re

_BLOCK_START = re.compile(r"^\s{0,3}(?:#{1,6}\s|[-*+]\s|\d+[.)]\s|>\s?)")


def markdown_to_prose(body: str, keep_code: bool = False) -> str:
    """The running text of a Markdown body, one block per paragraph, without markup.

    Inline code is left out (LIX counts prose), or kept as plain words with ``keep_code``
    (an excerpt must not lose a command's name from the middle of a sentence)."""
    text = re.sub(r"^(```|~~~).*?^\1\s*$", "", body, flags=re.DOTALL | re.MULTILINE)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    # Kept code hides its * and _ from the emphasis stripping below (restored at the end).
    text = re.sub(
        r"`([^`]*)`",
        (lambda m: m.group(1).replace("*", "\ue000").replace("_", "\ue001")) if keep_code else "",
        text,
    )
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
    prose = "\n\n".join(re.sub(r"[*_]{1,3}", "", b) for b in blocks)
    return prose.replace("\ue000", "*").replace("\ue001", "_")
