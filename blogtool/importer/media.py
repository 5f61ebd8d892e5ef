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
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from blogtool.i18n import _
from blogtool.slugs import slugify

MAX_IMAGE = 20 * 1024 * 1024
TIMEOUT = 10.0
_UPLOADS = re.compile(r"/wp-content/uploads/(\d{4})/(\d{2})/([^/?#]+)$")
#: WordPress.com keeps a blog's media on NAME.files.wordpress.com/YYYY/MM/FILE.
_WPCOM = re.compile(r"^/(\d{4})/(\d{2})/([^/?#]+)$")
#: The sizes WordPress makes of an upload: name-300x225.jpg beside name.jpg.
_SIZED = re.compile(r"^(.+)-\d{1,5}x\d{1,5}(\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class Upload:
    """Where a WordPress media URL's file lies in an uploads backup (``YYYY/MM/name``): the
    original, and the size variant the URL named, if it named one."""

    folder: str  # YYYY/MM
    name: str  # the original's file name
    variant: str = ""  # the size variant's file name, if the URL named one

    def url(self, of: str) -> str:
        """The original's URL where ``of`` showed a size of it (its resize query dropped)."""
        parts = urlsplit(of)
        path = parts.path
        if self.variant:
            path = path[: path.rfind("/") + 1] + quote(self.name)
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def upload_of(url: str) -> Upload | None:
    """The upload a WordPress media URL shows, on a self-hosted site
    (``/wp-content/uploads/2020/04/name-300x225.jpg``) or on WordPress.com
    (``NAME.files.wordpress.com/2021/10/name.jpg?w=300``); None for any other URL."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    m = _UPLOADS.search(path)
    if m is None and (parts.hostname or "").endswith("files.wordpress.com"):
        m = _WPCOM.match(path)
    if m is None:
        return None
    folder, name = f"{m.group(1)}/{m.group(2)}", m.group(3)
    sized = _SIZED.match(name)
    if sized:
        return Upload(folder, sized.group(1) + sized.group(2), name)
    return Upload(folder, name)


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
    """Where an image URL goes in the site: static/bilder/YYYY/MM/name for WordPress uploads
    (the original's name, whichever size the URL showed)."""
    upload = upload_of(url)
    folder, name = (
        (upload.folder, upload.name)
        if upload
        else ("importerat", PurePosixPath(unquote(urlsplit(url).path)).name)
    )
    stem, dot, ext = name.rpartition(".")
    clean = (slugify(stem) or "bild") + (f".{ext.lower()}" if dot and ext.isalnum() else "")
    return f"static/bilder/{folder}/{clean}"


def same_image(url: str) -> str:
    """One key for every URL of one image: its sizes, resize queries and the original."""
    upload = upload_of(url)
    if upload is not None:
        return f"upload:{upload.folder}/{upload.name}"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass
class Images:
    """The images of one import: planned, then fetched once each."""

    root: Path
    uploads: Path | None
    fetch: Callable[[str], tuple[bytes, str]] = fetch_url
    done: dict[str, str] = field(default_factory=dict)  # URL -> site path
    failed: dict[str, str] = field(default_factory=dict)  # URL -> reason
    pending: dict[str, bytes] = field(default_factory=dict)  # site path -> bytes to write
    # The site paths given out (``done``'s values), and for a path that more than one image
    # wanted, the number its next one tries: an import of many images of one name (a feed's
    # 'image.jpg' from many folders) names them image-2, image-3, ... in time linear in them.
    taken: set[str] = field(default_factory=set)
    numbered: dict[str, int] = field(default_factory=dict)

    def get(self, url: str) -> str | None:
        """The site path of the image at ``url``, fetched if need be; None if it failed.
        Every URL of one image (its sizes, a resize query) gets the one copy."""
        key = same_image(url)
        if key in self.done:
            return self.done[key]
        if key in self.failed:
            return None
        target = wanted = site_path(url)
        n = self.numbered.get(wanted, 2)
        stem, dot, ext = wanted.rpartition(".")
        while target in self.taken:  # (the numbers below n were taken when last tried)
            target = f"{stem}-{n}.{ext}" if dot else f"{wanted}-{n}"
            n += 1
        try:
            data = self._read(url)
        except OSError as exc:
            self.failed[key] = str(exc) or type(exc).__name__
            return None
        if not (self.root / target).exists() or (self.root / target).read_bytes() != data:
            self.pending[target] = data
        self.done[key] = target
        self.taken.add(target)
        if target != wanted:
            self.numbered[wanted] = n
        return target

    def reason(self, url: str) -> str:
        return self.failed.get(same_image(url), "")

    def _read(self, url: str) -> bytes:
        upload = upload_of(url)
        if self.uploads is not None and upload is not None:
            for name in (upload.name, upload.variant):
                copy = self.uploads / upload.folder / name if name else None
                if copy is not None and copy.is_file():
                    return copy.read_bytes()
        # Downloaded: the original first (not a thumbnail), then the URL as it was given.
        tried = [upload.url(url)] if upload is not None else []
        error: OSError | None = None
        for candidate in dict.fromkeys([*tried, url]):
            try:
                data, kind = self.fetch(candidate)
            except OSError as exc:
                error = exc
                continue
            if not kind.startswith("image/"):
                error = OSError(_("not an image ({kind})").format(kind=kind))
                continue
            return data
        assert error is not None
        raise error
