"""The content model: posts and tips as frozen, validated objects, and the site that holds them."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from blogtool.config import Config
from blogtool.content import fields
from blogtool.content.kinds import Kind, Status
from blogtool.errors import ContentError, Problem

__all__ = ["Item", "Kind", "Site", "Status"]


@dataclass(frozen=True)
class Item:
    """A post or a tip. ``rel`` is its path in the site, as text
    (``posts/2026-09-10-valkommen.md``); ``path`` is the same as a Path.

    ``values`` holds every field of the table that applies to the item's kind: the validated
    value, or the field's default. The properties below are typed views of the fields the code
    itself reads; templates may read any field as ``item["name"]``.
    """

    kind: Kind
    rel: str
    slug: str  # the slug field, or one made from the title
    body: str
    body_line: int
    values: dict[str, Any]  # never changed after parsing
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # key -> line in file
    # Worked out once when the file is parsed (and kept in the parse cache with the item):
    # (offset, target, is image) of links to local files; None: not worked out yet
    links: tuple[tuple[int, str, bool], ...] | None = None
    # (words, sentences, long words) of the running text, for LIX; None: not worked out yet
    readability: tuple[int, int, int] | None = field(default=None, compare=False)
    content_digest: str = ""  # ``content()``, so that ``digest`` costs nothing per run
    # The body as HTML, made as the file was parsed (the one reading of it, for its links)
    # and kept in the parse cache with the item: pages are made from it, never from Markdown
    # again. None: an item made in memory (the studio's preview), converted when shown.
    html: str | None = field(default=None, compare=False, repr=False)
    listed_digest: str = ""  # ``listed()``, likewise

    @cached_property
    def path(self) -> Path:
        """``rel`` as a Path. Made when asked, never pickled (``__getstate__``): a build of a
        big site asks it of the few items it renders, and a Path costs more to unpickle than
        to make."""
        return Path(self.rel)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("path", None)
        return state

    def __hash__(self) -> int:
        return hash((self.kind, self.rel))

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def title(self) -> str:
        return str(self.values["title"])

    @property
    def date(self) -> dt.datetime | None:
        value: dt.datetime | None = self.values["date"]
        return value

    @property
    def draft(self) -> bool:
        return bool(self.values["draft"])

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.values["tags"])

    @property
    def summary(self) -> str:
        return str(self.values["summary"])

    @property
    def author(self) -> str:
        return str(self.values["author"])

    @property
    def image(self) -> str | None:
        value: str | None = self.values["image"]
        return value

    @property
    def image_alt(self) -> str | None:
        value: str | None = self.values["image_alt"]
        return value

    @property
    def service(self) -> str | None:
        value: str | None = self.values.get("service")
        return value

    def status(self, now: dt.datetime) -> Status:
        """Derived, never stored: draft wins, then a future date means scheduled. (From
        ``values`` directly: a build asks it of every item.)"""
        values = self.values
        date = values["date"]
        if values["draft"] or date is None:
            return Status.DRAFT
        return Status.SCHEDULED if date > now else Status.PUBLISHED

    def is_published(self, now: dt.datetime) -> bool:
        return self.status(now) is Status.PUBLISHED

    def content(self) -> str:
        """A digest of everything the item is, with every field of the table: a new field
        changes it without anyone remembering to add it here."""
        parts: list[object] = [self.kind.value, self.rel, self.slug, self.body]
        parts += [f"{f.name}={self.values.get(f.name)!r}" for f in fields.FIELDS]
        text = "".join(f"{part}\x1f" for part in parts)  # each part, then a unit separator
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def listed(self) -> str:
        """A digest of what the default list templates show of the item: its kind, slug,
        title, date, summary, picture and service, and its text only when it has no summary
        (a list shows the text's first paragraph then)."""
        values = self.values
        summary = str(values["summary"])
        text = "" if summary.strip() else self.body
        parts = [
            self.kind.value,
            self.slug,
            values["title"],
            values["date"],
            summary,
            values["image"],
            values.get("service"),
            text,
        ]
        joined = "\x1f".join(map(str, parts))
        return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()

    def digest(self, status: str) -> str:
        """Everything a page of this item is made of: its content and its status."""
        content = self.content_digest or self.content()
        return hashlib.sha256(f"{content}\x1f{status}".encode()).hexdigest()


@dataclass(frozen=True)
class Site:
    config: Config
    items: tuple[Item, ...]
    problems: tuple[Problem, ...]
    # Scheduled or published items left out because they are not ready to go out
    # (content.readiness); their reasons are among ``problems``.
    unready: tuple[Item, ...] = ()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def blocking(self, now: dt.datetime) -> list[Problem]:
        """The errors that stop a build or a send at ``now``: all but those of items that are
        not ready but not due yet either (they stay unpublished, and say so, until fixed)."""
        later = {i.path for i in self.unready if i.date is not None and i.date > now}
        return [p for p in self.errors if p.path not in later]

    def raise_for_errors(self) -> Site:
        if self.errors:
            raise ContentError(list(self.problems))
        return self

    @property
    def posts(self) -> list[Item]:
        return [i for i in self.items if i.kind is Kind.POST]

    @property
    def tips(self) -> list[Item]:
        return [i for i in self.items if i.kind is Kind.TIP]
