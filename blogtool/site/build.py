"""Building the static site: the pages of ``pages.py`` through the engine of ``engine.py``.

Only published items go in (with ``drafts``/``future``, a preview shows the others, marked).
Only pages whose inputs changed are rendered; a failed build leaves the output as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from blogtool.config import Config
from blogtool.content.kinds import Status
from blogtool.content.model import Site
from blogtool.errors import UsageError
from blogtool.files import link_path, write_atomic
from blogtool.i18n import _, ngettext
from blogtool.site import engine, images, moved, pages, pictures, releases, search
from blogtool.site.engine import BuildError, Progress, output_file
from blogtool.site.plan import plan
from blogtool.site.templates import fingerprint
from blogtool.site.urls import SEARCH_INDEX_DIR

__all__ = [
    "BuildError", "BuildOptions", "BuildResult", "build", "check_output_dir", "rollback",
    "unchanged",
]  # fmt: skip


@dataclass(frozen=True)
class BuildOptions:
    output: Path
    drafts: bool = False
    future: bool = False
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(frozen=True)
class BuildResult:
    output: Path
    written: int
    skipped: int
    removed: int
    seconds: float
    pictures: int = 0  # pictures made now (not taken from the cache)

    @property
    def total(self) -> int:
        return self.written + self.skipped

    def summary(self) -> str:
        made = ""
        if self.pictures:
            made = ngettext(", {n} picture made", ", {n} pictures made", self.pictures).format(
                n=self.pictures
            )
        return _(
            "Built {output}: {written} written, {skipped} unchanged, {removed} removed{made} "
            "in {seconds:.2f} s"
        ).format(
            output=self.output,
            written=self.written,
            skipped=self.skipped,
            removed=self.removed,
            made=made,
            seconds=self.seconds,
        )


def check_output_dir(config: Config, output: Path) -> Path:
    """Refuse an output directory that would overwrite or swallow the site's sources."""
    out = link_path(output)  # the output itself is a symlink to the live release
    root = config.root.resolve()
    if out == root:
        raise UsageError(
            _("output directory {output} is the site itself; choose e.g. public/").format(
                output=output
            )
        )
    for directory in (config.posts_dir, config.tips_dir, config.templates_dir, config.state_dir):
        d = directory.resolve()
        # The preview lives inside the state directory; anywhere else inside a source is refused.
        inside = out.is_relative_to(d) and directory != config.state_dir
        if out == d or d.is_relative_to(out) or inside:
            raise UsageError(
                _(
                    "output directory {output} is or contains {relative_to}/; it would "
                    "overwrite the site's sources; choose e.g. public/"
                ).format(output=output, relative_to=d.relative_to(root))
            )
    if out.exists() and not out.is_dir():
        raise UsageError(_("output {output} exists and is not a directory").format(output=output))
    if out.is_symlink() and not releases.is_release_link(out):
        raise UsageError(
            _(
                "output {output} is a symbolic link blogtool did not make; point "
                "[build] output at a directory"
            ).format(output=output)
        )
    return out


def _manifest_path(config: Config, output: Path) -> Path:
    key = hashlib.sha256(str(output).encode()).hexdigest()[:16]
    return config.state_dir / "builds" / f"{key}.json"


def _preview_mark(config: Config, output: Path) -> Path:
    return _manifest_path(config, output).with_suffix(".preview")


def holds_preview(config: Config, output: Path) -> bool:
    """Whether the last build into ``output`` showed drafts or scheduled items."""
    return _preview_mark(config, link_path(output)).exists()


def refuse_public_preview(config: Config, output: Path) -> None:
    """A preview (drafts, scheduled items) never goes where the public site is built."""
    if link_path(output) == config.output_dir:
        raise UsageError(
            _(
                "a preview with drafts or scheduled items never goes into {output}/, "
                "which is what gets published; look at it with 'blogtool serve' (it "
                "shows both), or build it elsewhere with --output, e.g. 'blogtool "
                "build --drafts --future --output /tmp/forhandsvisning'"
            ).format(output=config.build.output)
        )


def _quiet_path(config: Config, output: Path) -> Path:
    return _manifest_path(config, output).with_suffix(".quiet")


def unchanged(config: Config, output: Path, seen: str, now: dt.datetime) -> BuildResult | None:
    """The fast way out of a public build: when the last one saw these very sources
    (``uptodate.snapshot``), its release is still the live one, and no item has come due since,
    the build would write nothing. Its result then, without reading a post; else None."""
    started = time.perf_counter()
    output = link_path(output)
    try:
        last = json.loads(_quiet_path(config, output).read_text("utf-8"))
        at = dt.datetime.fromisoformat(last["at"])
        until = dt.datetime.fromisoformat(last["until"]) if last["until"] else None
        pages = int(last["pages"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (
        last.get("snapshot") != seen
        or last.get("release") != _release(output)
        or now < at  # the clock went back (a rehearsal): look properly
        or (until is not None and now >= until)
    ):
        return None
    return BuildResult(output, 0, pages, 0, time.perf_counter() - started)


def _release(output: Path) -> str | None:
    return os.readlink(output) if releases.is_release_link(output) else None


def _remember(
    site: Site, output: Path, seen: str | None, now: dt.datetime, pages: int, preview: bool
) -> None:
    """After a build: what ``unchanged`` compares with. A preview is never taken as public."""
    path = _quiet_path(site.config, output)
    if seen is None or preview:
        path.unlink(missing_ok=True)
        return
    due = [i.date for i in site.items if i.date is not None and i.status(now) is Status.SCHEDULED]
    value = {
        "snapshot": seen,
        "release": _release(output),
        "at": now.isoformat(),
        "until": min(due).isoformat() if due else None,
        "pages": pages,
    }
    write_atomic(path, json.dumps(value).encode(), durable=False)


def rollback(config: Config, output: Path) -> Path:
    """Serve the previous release again. The manifest describes the build rolled back from,
    so it is forgotten: the next build renders every page, and never mixes the two."""
    output = check_output_dir(config, output)
    back = releases.rollback(output)
    _manifest_path(config, output).unlink(missing_ok=True)
    return back


def build(
    site: Site,
    now: dt.datetime,
    options: BuildOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    progress: Progress | None = None,
    fail_after: int | None = None,
    seen: str | None = None,
) -> BuildResult:
    """Build the site into ``options.output``. Raises with the previous output untouched.

    ``seen``: the sources' snapshot taken before the site was loaded; with it, a later build
    can tell that nothing changed (``unchanged``). ``fail_after`` injects a failure after that
    many pages have rendered (tests only).
    """
    started = time.perf_counter()
    config = site.config
    output = check_output_dir(config, options.output)
    fp = fingerprint(config, f"drafts={options.drafts}", f"future={options.future}")
    made, processed = images.prepare(config, pictures.wanted(site), options.jobs)
    view = pages.SiteView(site, now, options.drafts, options.future, fp, made)
    planned = plan(view, moved.former(config))
    engine.check_unique(planned)

    manifest_path = _manifest_path(config, output)
    old = engine.load_manifest(manifest_path)
    base = str(output)
    todo = [
        p
        for p in planned
        if old.get(p.path) != p.digest or not os.path.isfile(f"{base}/{output_file(p.path)}")
    ]
    known = {p.path for p in planned}
    stale = sorted(path for path in old if path not in known)
    if on_start is not None:
        on_start(len(todo))
    releases.clean_up(output)  # what a killed build left behind
    if not old and releases.foreign_directory(output):
        raise UsageError(
            _(
                "output {output} already holds files blogtool did not write; choose a "
                "new or empty directory"
            ).format(output=output)
        )
    if todo or stale or not releases.is_release_link(output):
        label = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        # The search index covers public pages; a preview has no use for one.
        # A build without the index (turned off, or a preview) leaves none behind either.
        indexed = config.build.search and not view.preview
        index = partial(search.index, series=config.tips.slug) if indexed else None
        finish = (SEARCH_INDEX_DIR, index)
        releases.publish(
            label, planned, todo, set(old), output, options.jobs, progress, fail_after, finish
        )
    engine.save_manifest(manifest_path, planned)
    mark = _preview_mark(config, output)
    if view.preview:
        mark.touch()
    else:
        mark.unlink(missing_ok=True)
        moved.remember(config)
    _remember(site, output, seen, now, len(planned), view.preview)
    return BuildResult(
        output=output,
        written=len(todo),
        skipped=len(planned) - len(todo),
        removed=len(stale),
        seconds=time.perf_counter() - started,
        pictures=processed,
    )
