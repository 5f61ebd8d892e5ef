"""ASCII slugs from Swedish titles."""

from __future__ import annotations

import re
import unicodedata

# Letters that Unicode decomposition does not reduce to ASCII.
_SPECIAL = str.maketrans({"æ": "ae", "ø": "o", "ß": "ss", "đ": "d", "ł": "l", "þ": "th"})


def slugify(text: str) -> str:
    """``"Från stuprör till flöden!"`` -> ``"fran-stupror-till-floden"``.

    å, ä and ö become a, a and o, as Swedish URLs conventionally write them; any other accent is
    dropped and everything that is not a letter or digit becomes a single hyphen.
    """
    text = text.lower().translate(_SPECIAL)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def is_valid_slug(slug: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug))
