"""Pictures made for the web: a few widths of each, in WebP and in the original's format.

Every picture the site shows (``sources.py`` finds them) is turned by its EXIF
orientation, then saved without any metadata: no EXIF, so no GPS position from a phone, no
camera, no comments. The results are kept in ``.blogtool/cache/images/<digest>/``, named by a
digest of the original's bytes and of how it is made, so an unchanged picture is never made
twice; a stat index spares reading the originals on every build. Pictures are made on every
core. Published files are content-addressed (``bilder/<digest>/<name>-<width>.<ext>``), so a
browser may keep them for ever.

An SVG is published as it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blogtool.config import Config
from blogtool.files import private_dir, write_atomic

MAIL_WIDTH = 600  # the newsletter's column; its picture is made at twice that for sharp screens
SHARE_WIDTH = 1200  # og:image: what Facebook, LinkedIn and Teams ask for
RECIPE = "3"  # bump when the way pictures are made changes: every cached picture is made again
FALLBACK = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "GIF": ("png", "image/png")}


@dataclass(frozen=True)
class Variant:
    width: int
    height: int
    path: str  # in the site: bilder/<digest>/<name>-<width>.<ext>
    mime: str
    file: Path  # the made file, in the cache


@dataclass(frozen=True)
class Picture:
    source: str  # the original, site-relative
    width: int
    height: int
    variants: tuple[Variant, ...]  # widest last; none for an SVG

    @property
    def vector(self) -> bool:
        return not self.variants

    def of(self, mime: str) -> list[Variant]:
        return [v for v in self.variants if v.mime == mime]

    @property
    def fallback_mime(self) -> str:
        return next(v.mime for v in self.variants if v.mime != "image/webp")

    def at_least(self, width: int, mime: str | None = None) -> Variant:
        """The narrowest variant at least ``width`` wide (the widest if none is)."""
        pool = self.of(mime or self.fallback_mime)
        return next((v for v in pool if v.width >= width), pool[-1])


def _widths(config: Config, original: int) -> list[int]:
    """The configured widths, the mail's and the share size, none wider than the original;
    the original's own width too when it is narrower than the widest wanted."""
    wanted = {*config.images.widths, MAIL_WIDTH * 2, SHARE_WIDTH}
    widths = {w for w in wanted if w <= original}
    if original < max(wanted):
        widths.add(original)
    return sorted(widths)


def _name(source: str) -> str:
    from blogtool.slugs import slugify

    return slugify(Path(source).stem) or "bild"


class Cache:
    """Made pictures by digest, and the stat index that maps an original to its digest."""

    def __init__(self, config: Config):
        self.config = config
        self.root = config.state_dir / "cache" / "images"
        self.index_path = self.root / "index.json"
        try:
            self.index: dict[str, list[object]] = json.loads(self.index_path.read_text("utf-8"))
        except (OSError, ValueError):
            self.index = {}
        self.changed = False

    def digest(self, source: str) -> str:
        path = self.config.root / source
        st = path.stat()
        key = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self.index.get(source)
        if known is not None and known[:3] == key:
            return str(known[3])
        images = self.config.images
        h = hashlib.sha256(f"{RECIPE}\0{images.widths}\0{images.quality}\0".encode())
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        value = h.hexdigest()[:20]
        self.index[source] = [*key, value]
        self.changed = True
        return value

    def save(self) -> None:
        if self.changed:
            write_atomic(self.index_path, json.dumps(self.index).encode(), durable=False)


def prepare(config: Config, sources: Iterable[str], jobs: int) -> tuple[dict[str, Picture], int]:
    """Every picture in ``sources`` (site-relative originals) made for the web; returns them by
    source, and how many had to be made now (the rest came from the cache)."""
    cache = Cache(config)
    private_dir(cache.root)
    todo: list[tuple[str, Path, str]] = []
    digests: dict[str, str] = {}
    for source in sorted(set(sources)):
        digest = cache.digest(source)
        digests[source] = digest
        folder = cache.root / digest
        if Path(source).suffix.lower() != ".svg" and not (folder / "meta.json").is_file():
            todo.append((source, folder, digest))
    if todo:
        _make_all(config, todo, jobs)
    cache.save()
    pictures = {s: _picture(config, s, d, cache.root / d) for s, d in digests.items()}
    return pictures, len(todo)


def _picture(config: Config, source: str, digest: str, folder: Path) -> Picture:
    if Path(source).suffix.lower() == ".svg":
        return Picture(source, 0, 0, ())
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    name = _name(source)
    variants = []
    for width, height, ext, mime in meta["variants"]:
        path = f"{config.urls.pictures}/{digest[:12]}/{name}-{width}.{ext}"
        variants.append(Variant(width, height, path, mime, folder / f"{width}.{ext}"))
    return Picture(source, meta["width"], meta["height"], tuple(variants))


def _make_all(config: Config, todo: list[tuple[str, Path, str]], jobs: int) -> None:
    work = [
        (str(config.root / s), str(folder), config.images.quality, _widths_of(config, s))
        for s, folder, _d in todo
    ]
    if jobs < 2 or len(work) < 2:
        for job in work:
            _make(job)
        return
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(min(jobs, len(work))) as pool:
        pool.map(_make, work, chunksize=1)


def _widths_of(config: Config, source: str) -> list[int]:
    from blogtool.pictures.sources import header

    return _widths(config, header(config.root / source, config).width)


def _make(job: tuple[str, str, int, list[int]]) -> None:
    """One original into every width, in WebP and its own format, without metadata."""
    from PIL import Image, ImageOps

    source, folder_name, quality, widths = job
    folder = Path(folder_name)
    private_dir(folder)
    with Image.open(source) as opened:
        _decode_smaller(opened, max(widths))
        im = ImageOps.exif_transpose(opened)  # turned as the camera meant; the tag is dropped
        own, mime = FALLBACK.get(opened.format or "", ("jpg", "image/jpeg"))
    keep_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA" if keep_alpha else "RGB")
    if own == "jpg" and keep_alpha:
        own, mime = "png", "image/png"  # a JPEG cannot be transparent
    variants = []
    for width in widths:
        height = max(1, round(im.height * width / im.width))
        scaled = im if width == im.width else im.resize((width, height), Image.Resampling.LANCZOS)
        scaled.save(folder / f"{width}.webp", "WEBP", quality=quality, method=4)
        variants.append((width, height, "webp", "image/webp"))
        if own == "jpg":
            scaled.save(
                folder / f"{width}.jpg", "JPEG", quality=quality, optimize=True, progressive=True
            )
        else:
            scaled.save(folder / f"{width}.png", "PNG", optimize=True)
        variants.append((width, height, own, mime))
    meta = {"width": im.width, "height": im.height, "variants": variants}
    write_atomic(folder / "meta.json", json.dumps(meta).encode(), durable=False)  # last: complete


def _decode_smaller(opened: Any, widest: int) -> None:
    """A JPEG far wider than the widest width made is decoded at a half, quarter or eighth of
    its size (the decoder's own scaling): a 12-megapixel photo costs a fraction to read."""
    if opened.format != "JPEG":
        return
    stored_w, stored_h = opened.size
    turned = opened.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    shown_w = stored_h if turned else stored_w
    if shown_w <= widest * 2:
        return
    scale = widest / shown_w
    opened.draft("RGB", (max(1, round(stored_w * scale)), max(1, round(stored_h * scale))))


def publishable(picture: Picture, config: Config) -> list[tuple[str, Path]]:
    """(site path, file) of every file a picture publishes."""
    if picture.vector:
        return [(picture.source, config.root / picture.source)]
    return [(v.path, v.file) for v in picture.variants]
