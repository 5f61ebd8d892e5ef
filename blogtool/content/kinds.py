"""What an item is, and where it stands."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    POST = "post"
    TIP = "tip"


class Status(StrEnum):
    """Derived from ``draft``, ``date`` and now; never stored."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
