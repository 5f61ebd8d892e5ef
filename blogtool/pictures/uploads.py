"""Pictures uploaded in the studio: kept only if Pillow opens them as a picture the build can
publish, and stored beside the item as the command line names them (``posts/bild.jpg`` for
``image: bild.jpg``). The original is kept as it came; the build makes the web's sizes of it
and strips its metadata (EXIF, GPS), as it does for any picture (``variants.py``).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from blogtool.config import Config
from blogtool.errors import UsageError
from blogtool.files import write_new
from blogtool.slugs import slugify

# What Pillow reports -> the extension the picture is stored with.
FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}


class NotAPicture(Exception):
    """Refused: ``kind`` says why ("not-a-picture", "too-large")."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def check(data: bytes, max_bytes: int) -> str:
    """The extension ``data`` is stored with, if it is a picture the build can publish."""
    from PIL import Image

    if len(data) > max_bytes:
        raise NotAPicture("too-large")
    try:
        with Image.open(io.BytesIO(data)) as opened:  # (over twice the limit: an error here)
            kind = opened.format or ""
            pixels = opened.width * opened.height
            opened.verify()
    except Exception:  # whatever Pillow cannot read is not a picture
        raise NotAPicture("not-a-picture") from None
    # Pillow only warns about a picture past MAX_IMAGE_PIXELS; the build would decode it.
    limit = Image.MAX_IMAGE_PIXELS
    if kind not in FORMATS or (limit is not None and pixels > limit):
        raise NotAPicture("not-a-picture")
    return FORMATS[kind]


def store(config: Config, folder: Path, filename: str, data: bytes) -> str:
    """Store ``data`` in ``folder`` (site-relative, the item's) under a name made from
    ``filename``; the same picture uploaded again is the same file. Returns the name."""
    ext = check(data, config.studio.max_upload * 1024 * 1024)
    stem = slugify(Path(filename).stem)[:60].strip("-") or "bild"
    target = config.root / folder
    for n in range(1, 1000):
        name = f"{stem}{ext}" if n == 1 else f"{stem}-{n}{ext}"
        path = target / name
        if path.exists():
            if path.is_file() and _same(path, data):
                return name
            continue
        try:
            write_new(path, data)
        except UsageError:  # made meanwhile by another upload
            continue
        return name
    raise NotAPicture("not-a-picture")


def _same(path: Path, data: bytes) -> bool:
    return hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
