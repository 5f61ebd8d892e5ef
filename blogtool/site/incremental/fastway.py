"""The build's fast way out: when the last public build into an output saw these very sources
(``snapshot.snapshot``), its release is still the live one, and no item has come due since,
a build would write nothing, and says so without reading a post (``unchanged``). What it
compares with is written after each build (``remember``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from blogtool.config import Config
from blogtool.files import link_path, write_atomic
from blogtool.site import releases
from blogtool.site.incremental.manifest import manifest_path
from blogtool.site.output import BuildResult

if TYPE_CHECKING:  # (the fast way out reads no post: the content is not even imported)
    from blogtool.content.model import Site


def quiet_path(config: Config, output: Path) -> Path:
    return manifest_path(config, output).with_suffix(".quiet")


def unchanged(config: Config, output: Path, seen: str, now: dt.datetime) -> BuildResult | None:
    """The fast way out of a public build: when the last one saw these very sources
    (``snapshot.snapshot``), its release is still the live one, and no item has come due since,
    the build would write nothing. Its result then, without reading a post; else None."""
    started = time.perf_counter()
    output = link_path(output)
    try:
        last = json.loads(quiet_path(config, output).read_text("utf-8"))
        at = dt.datetime.fromisoformat(last["at"])
        until = dt.datetime.fromisoformat(last["until"]) if last["until"] else None
        pages = int(last["pages"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (
        last.get("snapshot") != seen
        or last.get("release") != live_target(output)
        or now < at  # the clock went back (a rehearsal): look properly
        or (until is not None and now >= until)
    ):
        return None
    return BuildResult(output, 0, pages, 0, time.perf_counter() - started)


def live_target(output: Path) -> str | None:
    return os.readlink(output) if releases.is_release_link(output) else None


def remember(
    site: Site, output: Path, seen: str | None, now: dt.datetime, pages: int, preview: bool
) -> None:
    """After a build: what ``unchanged`` compares with. A preview is never taken as public."""
    path = quiet_path(site.config, output)
    if seen is None or preview:
        path.unlink(missing_ok=True)
        return
    # The scheduled items' times (Item.status, spelt out: it runs for every item of a big site)
    due = [d for i in site.items if not i.values["draft"] and (d := i.values["date"]) and d > now]
    value = {
        "snapshot": seen,
        "release": live_target(output),
        "at": now.isoformat(),
        "until": min(due).isoformat() if due else None,
        "pages": pages,
    }
    write_atomic(path, json.dumps(value).encode(), durable=False)
