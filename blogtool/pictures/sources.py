"""Pictures the content names: where each is, and whether it can be published.

An item names a picture in its front matter (``image: vaxeln.jpg``) or its body
(``![Växeln](vaxeln.jpg)``). The name is looked up beside the item's source first
(``posts/vaxeln.jpg``, ``posts/bilder/vaxeln.jpg`` for ``bilder/vaxeln.jpg``), then in the
site-wide ``media/`` folder. A name that starts with / is a path in the site (``/static/x.png``).
The config names pictures the same way, from the site's root: ``[site] image`` and ``logo``,
``[services.KEY] image``.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from blogtool.config import Config
from blogtool.errors import Problem
from blogtool.files import check_source, write_atomic
from blogtool.i18n import _

# What Pillow makes web pictures of; an SVG (a logo, an icon) is published as it is.
RASTER = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
VECTOR = {".svg"}


def _inside(relative: str) -> str:
    joined = posixpath.normpath(relative)
    return "" if joined.startswith("../") or joined in ("..", ".", "") else joined


def candidates(ref: str, source: Path | None = None) -> list[str]:
    """Where the picture ``ref``, named by an item at ``source`` (site-relative; None: the
    config), may be: site-relative paths, in the order they are tried."""
    name = unquote(ref.split("#", 1)[0].split("?", 1)[0])
    if not name or "://" in name:
        return []
    if name.startswith("/"):
        found = [_inside(name.lstrip("/"))]
    else:
        beside = source.parent.as_posix() if source is not None else ""
        found = [_inside(posixpath.join(beside, name)), _inside(posixpath.join("media", name))]
    return list(dict.fromkeys(c for c in found if c))


def find(config: Config, ref: str, source: Path | None = None) -> str | None:
    """The site-relative path of the picture ``ref`` names, or None when there is none."""
    for candidate in candidates(ref, source):
        if (config.root / candidate).is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Header:
    width: int  # as shown: after the EXIF orientation is applied
    height: int
    format: str  # Pillow's name: JPEG, PNG, WEBP, GIF, or SVG
    size: int  # bytes


def header(path: Path, config: Config | None = None) -> Header:
    """The picture's size and format, from its header; ValueError when Pillow cannot read
    it. Remembered per (path, size, mtime) in this process and, with ``config``, in the site's
    cache (``save_headers``): an unchanged picture is opened once, not on every load."""
    st = path.stat()
    memo = _memo(config) if config is not None else {}
    key = [st.st_size, st.st_mtime_ns]
    known = memo.get(str(path))
    if known is not None and known[:2] == key:
        return Header(known[2], known[3], known[4], st.st_size)
    found = _header(str(path), st.st_size, st.st_mtime_ns)
    if config is not None:
        memo[str(path)] = [*key, found.width, found.height, found.format]
        _dirty.add(_memo_path(config))
    return found


_memos: dict[Path, dict[str, list[Any]]] = {}
_dirty: set[Path] = set()


def _memo_path(config: Config) -> Path:
    return config.state_dir / "cache" / "pictures.json"


def _memo(config: Config) -> dict[str, list[Any]]:
    where = _memo_path(config)
    if where not in _memos:
        try:
            loaded = json.loads(where.read_text("utf-8"))
            _memos[where] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            _memos[where] = {}
    return _memos[where]


def save_headers(config: Config) -> None:
    """Keep what was learnt about pictures for the next load (only readable ones are kept)."""
    where = _memo_path(config)
    if where in _dirty:
        _dirty.discard(where)
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            write_atomic(where, json.dumps(_memos[where]).encode(), durable=False, private=True)


@lru_cache(maxsize=4096)
def _header(path: str, size: int, mtime: int) -> Header:
    if Path(path).suffix.lower() in VECTOR:
        return Header(0, 0, "SVG", size)
    from PIL import Image, UnidentifiedImageError

    try:  # (a header that claims far more pixels than a photo has is a decompression bomb)
        with Image.open(path) as im:
            im.verify()  # a truncated or corrupt file fails here, not half-way through a build
        with Image.open(path) as im:
            width, height = im.size
            orientation = im.getexif().get(0x0112, 1)
            found = im.format or "?"
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    if orientation in (5, 6, 7, 8):  # turned a quarter: what is shown is the other way round
        width, height = height, width
    return Header(width, height, found, size)


def check(
    config: Config, ref: str, where: Path, *, source: Path | None, key: str | None, line: int | None
) -> list[Problem]:
    """What is wrong with the picture ``ref`` named at ``where`` (an item's file or the
    config): missing, unreadable, too big or smaller than the narrowest width."""
    found = find(config, ref, source)

    def problem(message: str, severity: str = "error") -> Problem:
        return Problem(where, message, key=key, line=line, severity=severity)

    if found is None:
        tried = _(" or ").join(candidates(ref, source)) or _("in the site")
        return [problem(_("image {ref!r}: there is no file {tried}").format(ref=ref, tried=tried))]
    path = config.root / found
    refused = check_source(path, config.root)  # a link out of the site would publish its target
    if refused is not None:
        return [
            problem(
                _("image {ref!r}: {file} {refused}").format(ref=ref, file=found, refused=refused)
            )
        ]
    if path.suffix.lower() not in RASTER | VECTOR:
        kinds = ", ".join(sorted(s.lstrip(".") for s in RASTER | VECTOR))
        return [
            problem(_("image {ref!r}: expected a picture ({kinds})").format(ref=ref, kinds=kinds))
        ]
    try:
        head = header(path, config)
    except (ValueError, OSError) as exc:
        return [
            problem(
                _("image {ref!r}: Pillow cannot read {file} ({exc})").format(
                    ref=ref, file=found, exc=exc
                )
            )
        ]
    notes = []
    limit = config.images.max_size * 1024 * 1024
    if limit and head.size > limit:
        notes.append(
            problem(
                _(
                    "image {ref!r} is {size}, over the {limit:g} MB of [images] max_size; a "
                    "smaller original builds faster"
                ).format(ref=ref, size=_size(head.size), limit=config.images.max_size),
                "warning",
            )
        )
    narrowest = min(config.images.widths)
    if head.format != "SVG" and head.width < narrowest:
        notes.append(
            problem(
                _(
                    "image {ref!r} is {width} px wide, under the narrowest width ({narrowest} "
                    "px); it will look blurred on wide screens"
                ).format(ref=ref, width=head.width, narrowest=narrowest),
                "warning",
            )
        )
    return notes


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} kB"


def config_problems(config: Config) -> list[Problem]:
    """The pictures blogtool.toml names: the site's picture and logo, each service's."""
    named = [("site", "image", config.site.image), ("site", "logo", config.site.logo)]
    named += [(f"services.{k}", "image", s.image) for k, s in config.services.items()]
    found = []
    if config.site.image and not config.site.image_alt:
        where = Path(os.path.relpath(config.path, config.root))
        found.append(
            Problem(where, _("missing; the site's picture needs alt text"), "[site] image_alt")
        )
    for section, key, ref in named:
        if ref:
            found += check(
                config,
                ref,
                Path(os.path.relpath(config.path, config.root)),
                source=None,
                key=f"[{section}] {key}",
                line=None,
            )
    return found
