"""The manifest: each page the last build into an output wrote, with the digest of its inputs
(``engine.Page.digest``), the library versions it was made with, and the page files of the
release it made, by inode (``lookahead.Recorded``). A page is rendered again when its digest
differs, when it is new, or when it is no longer a file in the live release (``to_render``);
a manifest made with other library versions counts as none, so that an upgrade renders every
page again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from blogtool.config import Config
from blogtool.files import write_atomic
from blogtool.site.engine import Page, output_file
from blogtool.site.incremental.lookahead import Looked, Recorded
from blogtool.version import library_versions

MANIFEST_VERSION = 2


def manifest_path(config: Config, output: Path) -> Path:
    """Where the manifest of the builds into ``output`` is kept (in the state folder)."""
    key = hashlib.sha256(str(output).encode()).hexdigest()[:16]
    return config.state_dir / "builds" / f"{key}.json"


@dataclass(frozen=True)
class Manifest:
    """What the last build into an output left: its pages' digests by site path, and the
    page files of the release it made (None: not recorded)."""

    pages: dict[str, str]
    recorded: Recorded | None = None


def load_manifest(path: Path) -> Manifest:
    """The last build's manifest; an empty one when that build was made with other versions
    of the libraries that shape output, so that every page is made again (not only those
    whose digest holds the code digest: a picture's digest is its path)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return Manifest({})
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return Manifest({})
    if data.get("libraries") != library_versions():
        return Manifest({})
    pages = data.get("pages", {})
    if not isinstance(pages, dict):
        return Manifest({})
    made = data.get("release")
    recorded = None
    if isinstance(made, dict) and isinstance(made.get("files"), dict):
        try:
            recorded = Recorded(str(made["name"]), int(made["device"]), made["files"])
        except (KeyError, TypeError, ValueError):
            recorded = None
    return Manifest(dict(pages), recorded)


def save_manifest(path: Path, pages: list[Page], recorded: Recorded | None = None) -> None:
    """What this build wrote, the library versions it was made with, and the release's page
    files (``recorded``: None when not known)."""
    manifest = {
        "version": MANIFEST_VERSION,
        "libraries": library_versions(),
        "pages": {p.path: p.digest for p in pages},
        "release": None
        if recorded is None
        else {"name": recorded.release, "device": recorded.device, "files": recorded.files},
    }
    # (In the plan's order, which is the same for the same site: not sorted, which cost more
    # than the rest of writing it.)
    encoded = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
    if not path.is_file() or path.read_bytes() != encoded:
        # Not synced to disk: it is written after the release is swapped in, and file systems
        # that journal their metadata (ext4, XFS) never keep the later rename and lose the
        # earlier one. A crash may lose both (the next build redoes this one) or only this
        # (the next build finds the pages of this build changed, and renders them again).
        write_atomic(path, encoded, durable=False, private=True)


def to_render(pages: list[Page], manifest: dict[str, str], looked: Looked | None) -> list[Page]:
    """The pages to render: new, changed since the last build (``manifest``), or no longer a
    file in the live release (as ``looked`` found it; None: there is no live release)."""
    if looked is None:
        return list(pages)
    missing = looked.missing
    return [p for p in pages if manifest.get(p.path) != p.digest or output_file(p.path) in missing]
