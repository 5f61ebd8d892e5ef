"""The images an import brings: copied from a backup's ``wp-content/uploads`` folder or
downloaded (with a timeout and a size cap), into the site's ``static/bilder/`` folder, which
every build publishes under ``/static/``."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from blogtool.i18n import _
from blogtool.slugs import slugify

MAX_IMAGE = 20 * 1024 * 1024
TIMEOUT = 10.0
_UPLOADS = re.compile(r"/wp-content/uploads/(\d{4})/(\d{2})/([^/?#]+)$")


def fetch_url(url: str, limit: int = MAX_IMAGE, timeout: float = TIMEOUT) -> tuple[bytes, str]:
    """(bytes, content type) of a URL; OSError with the reason on any failure."""
    request = urllib.request.Request(url, headers={"User-Agent": "blogtool-import"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(limit + 1)
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise OSError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise OSError(str(getattr(exc, "reason", exc))) from None
    if len(data) > limit:
        raise OSError(_("larger than {mb} MB").format(mb=limit // (1024 * 1024)))
    return data, kind


def site_path(url: str) -> str:
    """Where an image URL goes in the site: static/bilder/YYYY/MM/name for WordPress uploads."""
    path = unquote(urlsplit(url).path)
    m = _UPLOADS.search(path)
    folder, name = (
        (f"{m.group(1)}/{m.group(2)}", m.group(3))
        if m
        else ("importerat", PurePosixPath(path).name)
    )
    stem, dot, ext = name.rpartition(".")
    clean = (slugify(stem) or "bild") + (f".{ext.lower()}" if dot and ext.isalnum() else "")
    return f"static/bilder/{folder}/{clean}"


@dataclass
class Images:
    """The images of one import: planned, then fetched once each."""

    root: Path
    uploads: Path | None
    fetch: Callable[[str], tuple[bytes, str]] = fetch_url
    done: dict[str, str] = field(default_factory=dict)  # URL -> site path
    failed: dict[str, str] = field(default_factory=dict)  # URL -> reason
    pending: dict[str, bytes] = field(default_factory=dict)  # site path -> bytes to write

    def get(self, url: str) -> str | None:
        """The site path of the image at ``url``, fetched if need be; None if it failed."""
        if url in self.done:
            return self.done[url]
        if url in self.failed:
            return None
        target = site_path(url)
        taken = set(self.done.values())
        n = 2
        while target in taken:
            stem, dot, ext = target.rpartition(".")
            target = f"{stem}-{n}.{ext}" if dot else f"{target}-{n}"
            n += 1
        try:
            data = self._read(url)
        except OSError as exc:
            self.failed[url] = str(exc) or type(exc).__name__
            return None
        if not (self.root / target).exists() or (self.root / target).read_bytes() != data:
            self.pending[target] = data
        self.done[url] = target
        return target

    def _read(self, url: str) -> bytes:
        if self.uploads is not None:
            m = _UPLOADS.search(unquote(urlsplit(url).path))
            if m is not None:
                copy = self.uploads / m.group(1) / m.group(2) / m.group(3)
                if copy.is_file():
                    return copy.read_bytes()
        data, kind = self.fetch(url)
        if not kind.startswith("image/"):
            raise OSError(_("not an image ({kind})").format(kind=kind))
        return data
