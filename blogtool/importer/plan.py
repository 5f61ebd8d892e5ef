"""From imported entries to files: what to write where, what is unchanged, and what was edited
here since the last import (never overwritten). Everything is planned before anything is
written, and each file is written atomically, so a broken item or a refused source leaves no
half-written site.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import frontmatter

from blogtool.config import Config
from blogtool.i18n import _
from blogtool.importer.convert import Converted, absolute, convert, image_urls, links
from blogtool.importer.media import Images, same_image
from blogtool.importer.sources import Entry
from blogtool.site.urls import Urls, reserved_slugs
from blogtool.slugs import MAX_SLUG, slugify

DRAFT_STATES = {"draft", "pending", "private", "auto-draft"}
#: WordPress's own bookkeeping, never content: skipped without a word (but counted).
INTERNAL_TYPES = {
    "revision", "nav_menu_item", "custom_css", "customize_changeset", "oembed_cache",
    "user_request", "wp_block", "wp_template", "wp_template_part", "wp_global_styles",
    "wp_navigation", "wp_font_family", "wp_font_face", "feedback", "jp_pay_order",
    "jp_pay_product", "amp_validated_url", "scheduled-action",
}  # fmt: skip


@dataclass
class Options:
    pages: Path | None = None  # where pages go; None skips them
    post_types: tuple[str, ...] = ()  # custom post types to import as posts
    split: re.Pattern[str] | None = None


@dataclass
class Planned:
    path: Path  # relative to the site
    data: bytes
    action: str  # new, updated, unchanged, skipped (edited locally)
    label: str


@dataclass
class Report:
    files: list[Planned] = field(default_factory=list)
    posts: int = 0
    drafts: int = 0
    pages: int = 0
    tips: int = 0
    redirects: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for f in self.files if f.action == action)


def _render(meta: dict[str, Any], body: str) -> str:
    post = frontmatter.Post(body)
    post.metadata.update(meta)
    return frontmatter.dumps(post, sort_keys=False) + "\n"


def with_digest(meta: dict[str, Any], body: str) -> str:
    """The file's text with ``imported_from.digest`` set to a hash of the rest of it."""
    origin = dict(meta["imported_from"], digest="")
    blank = _render({**meta, "imported_from": origin}, body)
    origin["digest"] = hashlib.sha256(blank.encode("utf-8")).hexdigest()[:16]
    return _render({**meta, "imported_from": origin}, body)


def edited_here(text: str) -> bool:
    """Whether a file the importer wrote has been changed since."""
    try:
        post = frontmatter.loads(text)
    except Exception:
        return True
    origin = post.metadata.get("imported_from")
    if not isinstance(origin, dict) or not origin.get("digest"):
        return True
    digest = str(origin["digest"])
    blank = text.replace(f"digest: {digest}", "digest: ''", 1)
    return hashlib.sha256(blank.encode("utf-8")).hexdigest()[:16] != digest


def existing(folders: Iterable[Path]) -> tuple[dict[str, Path], dict[str, str], set[str]]:
    """(guid -> file, guid -> its slug, slugs in use) of what is in the site already."""
    by_guid: dict[str, Path] = {}
    guid_slugs: dict[str, str] = {}
    slugs: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            try:
                meta = frontmatter.loads(path.read_text("utf-8")).metadata
            except Exception:
                continue
            slug = str(meta.get("slug") or slugify(str(meta.get("title", ""))))
            if slug:
                slugs.add(slug)
            origin = meta.get("imported_from")
            if isinstance(origin, dict) and origin.get("guid"):
                by_guid[str(origin["guid"])] = path
                if slug:
                    guid_slugs[str(origin["guid"])] = slug
    return by_guid, guid_slugs, slugs


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="minutes")


class Planner:
    def __init__(
        self,
        config: Config,
        images: Images,
        attachments: dict[str, tuple[str, str]],
        options: Options,
    ):
        self.config, self.images, self.attachments, self.options = (
            config,
            images,
            attachments,
            options,
        )
        folders = [config.posts_dir, config.tips_dir] + ([options.pages] if options.pages else [])
        self.by_guid, self.guid_slugs, self.slugs = existing(folders)
        self.slugs |= reserved_slugs(config)
        self.report = Report()
        self.own_slugs: dict[str, str] = {}  # guid -> slug taken in this import
        self.seen: set[str] = set()  # the identities of this import's items
        self.planned: set[Path] = set()  # the files this import writes

    def slug_for(self, guid: str, wanted: str) -> str:
        """The item's slug: the one its file has (a re-import keeps its address), or a new one
        no other file or item uses (WordPress lets drafts, and items from merged sites, share
        one)."""
        if guid in self.own_slugs:
            return self.own_slugs[guid]
        slug = self.guid_slugs.get(guid, "")
        if not slug:
            base = (slugify(wanted) or "inlagg")[: MAX_SLUG - 4].strip("-")
            slug, n = base, 2
            while slug in self.slugs:
                slug, n = f"{base}-{n}", n + 1
        self.slugs.add(slug)
        self.own_slugs[guid] = slug
        return slug

    def identity(self, entry: Entry) -> str:
        """The key that matches the item on a re-import: its guid; an item whose guid another
        item of this export has too gets its own (with its post id, or its place)."""
        guid = entry.guid or entry.link or entry.post_id
        if guid in self.seen:
            n = 2
            key = f"{guid}#{entry.post_id}" if entry.post_id else f"{guid}#{n}"
            while key in self.seen:
                n += 1
                key = f"{guid}#{n}"
            guid = key
        self.seen.add(guid)
        return guid

    def add(self, entry: Entry, on_progress: Callable[[], None] = lambda: None) -> None:
        try:
            self._add(entry)
        except Exception as exc:  # one broken item never stops the import
            self.report.problems.append(f"{entry.label}: not imported: {exc}")
        on_progress()

    def _add(self, entry: Entry) -> None:
        kind = entry.kind
        if kind == "attachment":
            return
        if kind == "page" and self.options.pages is None:
            self.report.skipped["page"] = self.report.skipped.get("page", 0) + 1
            return
        if kind not in ("post", "page") and kind not in self.options.post_types:
            self.report.skipped[kind] = self.report.skipped.get(kind, 0) + 1
            if kind not in INTERNAL_TYPES:
                self.report.problems.append(
                    f"{entry.label}: a '{kind}' item; skipped (--post-type {kind} imports it)"
                )
            return
        if entry.status == "trash":
            self.report.skipped["trash"] = self.report.skipped.get("trash", 0) + 1
            return
        if not entry.title.strip():
            self.report.problems.append(f"{entry.label}: no title; skipped")
            return
        draft = entry.status in DRAFT_STATES
        if entry.protected and not draft:
            # Its readers needed a password: it is not made public here without a person's say.
            draft = True
            self.report.problems.append(
                _(
                    "{entry}: protected by a password on the old blog; imported as a draft "
                    "(publish it only if it may be public)"
                ).format(entry=entry.label)
            )
        if entry.date is None and not draft:
            self.report.problems.append(f"{entry.label}: no date; skipped")
            return
        local = {}
        for url in image_urls(entry, self.attachments):
            found = self.images.get(url)
            if found is None:
                self.report.problems.append(
                    _(
                        "{entry}: image {url} could not be fetched ({reason}); its link is kept"
                    ).format(entry=entry.label, url=url, reason=self.images.reason(url))
                )
            else:
                local[url] = f"../{found}"
        # A link to the full-size picture goes to the copy too, not to the old site.
        shown = {same_image(url): path for url, path in local.items()}
        for href in (absolute(h, entry) for h in links(entry.html)):
            if href not in local and same_image(href) in shown:
                local[href] = shown[same_image(href)]
        split = self.options.split if kind != "page" else None
        converted = convert(entry, self.config, local, self.attachments, split)
        self.report.problems += [f"{entry.label}: {p}" for p in converted.problems]
        folder = (
            self.options.pages if kind == "page" and self.options.pages else self.config.posts_dir
        )
        guid = self.identity(entry)
        self._post(entry, guid, converted, draft, folder, local)
        if converted.tip is not None:
            self._tip(entry, guid + "#torsdagstips", converted.tip, draft)
        if kind == "page":
            self.report.pages += 1
        elif draft:
            self.report.drafts += 1
        else:
            self.report.posts += 1

    def _post(
        self,
        entry: Entry,
        guid: str,
        converted: Converted,
        draft: bool,
        folder: Path,
        local: dict[str, str],
    ) -> None:
        slug = self.slug_for(guid, entry.slug or entry.title)
        meta: dict[str, Any] = {"title": entry.title.strip()}
        if entry.date is not None:
            meta["date"] = _iso(entry.date)
        if entry.author:
            meta["author"] = entry.author
        meta["summary"] = converted.summary
        meta["tags"] = entry.tags
        if draft:
            meta["draft"] = True
        if slug != slugify(entry.title):
            meta["slug"] = slug
        if entry.featured in local:
            alt = entry.images.get(entry.featured, "")
            if alt:
                meta["image"] = "/" + local[entry.featured].removeprefix("../")
                meta["image_alt"] = alt
            else:
                self.report.problems.append(
                    _(
                        "{entry}: the featured image has no alt text; not used (set image and "
                        "image_alt)"
                    ).format(entry=entry.label)
                )
        old = urlsplit(entry.link).path if entry.link else ""
        new = Urls(self.config).href(f"{slug}/")  # where the post is now
        if old and old != "/" and old.rstrip("/") != new.rstrip("/") and entry.kind == "post":
            meta["aliases"] = [old]
            self.report.redirects += 1
        meta["imported_from"] = {"guid": guid, "url": entry.link}
        name = f"{entry.date.date().isoformat()}-{slug}.md" if entry.date else f"{slug}.md"
        self._file(folder / name, with_digest(meta, converted.body), guid, entry.label)

    def _tip(
        self, entry: Entry, guid: str, tip: tuple[str, str, dt.datetime, str | None], draft: bool
    ) -> None:
        from blogtool.site.render import excerpt

        title, body, when, service = tip
        slug = self.slug_for(guid, title)
        meta: dict[str, Any] = {"title": title, "date": _iso(when)}
        if service:
            meta["service"] = service
        meta["summary"] = excerpt(body, 240)
        meta["tags"] = entry.tags
        if draft:
            meta["draft"] = True
        if slug != slugify(title):
            meta["slug"] = slug
        meta["imported_from"] = {"guid": guid, "url": entry.link}
        self._file(
            self.config.tips_dir / f"{when.date().isoformat()}-{slug}.md",
            with_digest(meta, body + "\n"),
            guid,
            f"{entry.label} (its Thursday tip)",
        )
        self.report.tips += 1

    def _file(self, target: Path, text: str, guid: str, label: str) -> None:
        path = self.by_guid.get(guid, target)
        rel = path.relative_to(self.config.root) if path.is_relative_to(self.config.root) else path
        if rel in self.planned:
            # Never two items in one file: this one is reported (by add) and not written.
            raise ValueError(_("{path} is another item's file already").format(path=rel))
        data = text.encode("utf-8")
        if path.exists():
            current = path.read_bytes()
            if current == data:
                action = "unchanged"
            elif edited_here(current.decode("utf-8", "replace")):
                action = "skipped (edited locally)"
            else:
                action = "updated"
        else:
            action = "new"
        self.planned.add(rel)
        self.report.files.append(Planned(rel, data, action, label))
