"""Byte-preserving edits of one front-matter key.

Re-serialising YAML would reorder keys, requote strings and drop comments. Authors' files are
theirs, so ``schedule`` and ``unschedule`` change exactly the lines of the keys they set and keep
everything else (other keys, their order, comments, the body, BOM and line endings) byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path

from blogtool.errors import UsageError
from blogtool.i18n import _

_BOM = "\ufeff"


def set_front_matter_keys(
    raw: bytes, updates: dict[str, str], *, path: Path, add_missing: set[str]
) -> bytes:
    """Return ``raw`` with each key in ``updates`` set to the given YAML scalar text.

    A key that is absent is appended before the closing '---' when it is in ``add_missing``, and
    left absent otherwise.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            _("{path}: not UTF-8; save the file as UTF-8 first").format(path=path)
        ) from None
    bom = text.startswith(_BOM)
    if bom:
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        raise UsageError(
            _("{path}:1: no front matter; expected the file to start with '---'").format(path=path)
        )
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    close = next(
        (i for i in range(1, len(lines)) if lines[i].rstrip("\r\n").rstrip() in ("---", "...")),
        None,
    )
    if close is None:
        raise UsageError(_("{path}: front matter has no closing '---' line").format(path=path))

    for key, value in updates.items():
        pattern = re.compile(rf"^{re.escape(key)}\s*:(.*)$")
        found = None
        for i in range(1, close):
            if pattern.match(lines[i].rstrip("\r\n")):
                found = i
                break
        new_line = f"{key}: {value}{newline}"
        if found is None:
            if key in add_missing:
                lines.insert(close, new_line)
                close += 1
            continue
        after = lines[found + 1] if found + 1 < close else ""
        rest = pattern.match(lines[found].rstrip("\r\n"))
        inline_value = rest.group(1).strip() if rest else ""
        if not inline_value or inline_value in ("|", ">") or after[:1] in (" ", "\t"):
            raise UsageError(
                _(
                    "{path}:{value}: {key}: spans several lines; write it on one line as "
                    "'{key}: value' and try again"
                ).format(path=path, value=found + 1, key=key)
            )
        eol = newline if lines[found].endswith(("\n", "\r\n")) else ""
        lines[found] = f"{key}: {value}{eol}"
    out = ("" if not bom else _BOM) + "".join(lines)
    return out.encode("utf-8")
