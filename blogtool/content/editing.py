"""Byte-preserving edits of one front-matter key.

Re-serialising YAML would reorder keys, requote strings and drop comments. Authors' files are
theirs, so ``schedule`` and ``unschedule`` change exactly the lines of the keys they set and keep
everything else (other keys, their order, comments, the body, BOM and line endings) byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from blogtool.errors import UsageError
from blogtool.i18n import _

_BOM = "\ufeff"


def set_front_matter_keys(
    raw: bytes,
    updates: dict[str, str],
    *,
    path: Path,
    add_missing: set[str],
    whole_values: bool = False,
) -> bytes:
    """Return ``raw`` with each key in ``updates`` set to the given YAML scalar text.

    A key that is absent is appended before the closing '---' when it is in ``add_missing``, and
    left absent otherwise. A value written over several lines (a block list, a folded text) is
    refused, unless ``whole_values``: then its lines are replaced by the one new line (the
    editor sets a whole value, such as the list of topics).
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
        spans = not inline_value or inline_value[:1] in ("|", ">") or after[:1] in (" ", "\t")
        if spans and whole_values:
            end = _value_end(lines, found, close)
            del lines[found + 1 : end]
            close -= end - found - 1
        elif spans:
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


def _value_end(lines: list[str], found: int, close: int) -> int:
    """The line after the last one of the value that starts at line ``found``: its indented
    lines, the items of a block list written at the key's own indent ('- x'), and blank lines
    between them."""
    end = found + 1
    last = found
    while end < close:
        line = lines[end]
        if line[:1] in (" ", "\t") or line.startswith("-"):
            last = end
        elif line.strip():
            break
        end += 1
    return last + 1


def yaml_text(value: object) -> str:
    """A value as one line of YAML: a text quoted only when it must be, a list in brackets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        value = " ".join(value.split())  # one line: a line break in a field is a space
    elif isinstance(value, list | tuple):
        value = [" ".join(str(v).split()) for v in value]
    dumped = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1 << 30)
    if dumped.endswith("\n...\n"):
        dumped = dumped[: -len("\n...\n")]
    return dumped.rstrip("\n")


def split_body(raw: bytes) -> tuple[bytes, str]:
    """The file's front matter with its closing line and the blank lines after it, and the
    body as an editor shows it (line breaks as \\n, no BOM)."""
    text = raw.decode("utf-8")
    lines = text.splitlines(keepends=True)
    close = next(
        (i for i in range(1, len(lines)) if lines[i].rstrip("\r\n").rstrip() in ("---", "...")),
        None,
    )
    if close is None:
        return raw, ""
    end = close + 1
    while end < len(lines) and not lines[end].strip():
        end += 1
    head = "".join(lines[:end])
    body = "".join(lines[end:]).replace("\r\n", "\n").replace("\r", "\n")
    return head.encode("utf-8"), body


def set_body(raw: bytes, body: str) -> bytes:
    """``raw`` with its body replaced by ``body`` (in the file's own line breaks), its front
    matter byte for byte as it was. An unchanged body leaves the file as it was."""
    head, old = split_body(raw)
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if body.rstrip("\n") == old.rstrip("\n"):
        return raw
    if body and not body.endswith("\n"):
        body += "\n"
    text = head.decode("utf-8")
    if not text.endswith("\n\n") and not text.endswith("\r\n\r\n") and body:
        text += "\r\n" if text.endswith("\r\n") else "\n"  # a blank line before the text
    newline = "\r\n" if text.endswith("\r\n") else "\n"
    return (text + body.replace("\n", newline)).encode("utf-8")
