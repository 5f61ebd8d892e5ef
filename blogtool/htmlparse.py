"""Feeding HTML that authors wrote to Python's ``html.parser``.

Before Python 3.13, ``html.parser`` raises AssertionError on a '<![' that opens no CDATA
section ('<![i]', '<![[a]](b)'), markup a browser reads as a bogus comment. Such a '<![' is
given to the parser as text instead, so a post that has one is read, not a crash.
"""

from __future__ import annotations

import re

_MARKED_SECTION = re.compile(r"<!\[(?!CDATA\[)")


def feedable(html: str) -> str:
    """``html`` with every '<![' that opens no CDATA section written as text."""
    return _MARKED_SECTION.sub("&lt;![", html)
