"""Front matter in the plain shape nearly every file has (a ``key: value`` a line: a text in
double quotes, a list of words in brackets, or a plain value), read a line at a time instead of
through PyYAML's node graph. The values are still PyYAML's: each plain scalar is typed by its
resolver and made by its constructor. Anything else, and anything PyYAML would refuse, is left
to PyYAML (``read`` returns None), so a file means the same either way
(tests/test_quickyaml.py compares the two on random front matter).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml
from yaml.reader import Reader

_STR = "tag:yaml.org,2002:str"
# The types a plain value may have here; a float or anything rarer goes to PyYAML.
_TYPES = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "bool", "int", "null", "timestamp"))

# A plain value starts with none of YAML's indicators (nor a space); the line's checks in
# ``read`` make sure it holds no ': ' or ' #' and ends in neither ':' nor a space. A word of a
# list also holds no ',', bracket, brace, ':', '#' or quote.
_START = r"[^-?:,\[\]{}#&*!|>'\"%@`\s]"
_WORD = _START + r"(?:[^,\[\]{}#:'\"\t]*[^,\[\]{}#:'\"\s])?"
_LINE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*): "
    r'(?:"([^"\\\t]*)"'  # "a text in double quotes, without escapes"
    rf"|\[((?:{_WORD})(?:, {_WORD})*)?\]"  # [a, list, of words]
    rf"|({_START}[^\t]*))$"  # a plain value
)

# What YAML also takes for a line break (or reads specially): left to PyYAML.
_UNUSUAL = re.compile("[\t\r\x85\u2028\u2029\ufeff]")


class _Unsure(Exception):
    """A value PyYAML should read itself."""


def read(fm: str, loader: Any) -> tuple[dict[str, Any], dict[str, int]] | None:
    """The mapping and each key's line in the file (the front matter starts on line 2), as
    PyYAML reads ``fm`` with ``loader`` (whose constructors make the values); None when ``fm``
    is not in the plain shape."""
    if not fm.endswith("\n") or Reader.NON_PRINTABLE.search(fm) or _UNUSUAL.search(fm):
        return None
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    try:
        for n, line in enumerate(fm[:-1].split("\n")):
            m = _LINE.match(line)
            if m is None:
                return None
            key, quoted, words, plain = m.groups()
            _plain(key, loader, only_text=True)
            if quoted is not None:
                value: Any = quoted
            elif plain is not None:
                if ": " in plain or " #" in plain or plain.endswith((":", " ")):
                    return None
                value = _plain(plain, loader)
            else:
                items = words.split(", ") if words else []
                value = [_plain(w, loader) for w in items]
            data[key] = value
            lines[key] = n + 2
    except _Unsure:
        return None
    return data, lines


_RESOLVER = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=4096)  # keys and list words come back in every file
def _tag(text: str) -> str:
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]


def _plain(text: str, loader: Any, only_text: bool = False) -> Any:
    """A plain scalar as PyYAML makes it; a key (``only_text``) must be a text."""
    tag = _tag(text)
    if tag not in _TYPES or (only_text and tag != _STR):
        raise _Unsure
    if tag == _STR:
        return text
    try:
        return loader.yaml_constructors[tag](loader, yaml.ScalarNode(tag, text))
    except Exception:  # (PyYAML reports it, with its line)
        raise _Unsure from None
