"""What a build is asked and answers, where it may write (never over the site's own sources,
only into a folder that blogtool made or an empty one), and what the last build left (its
manifest, its preview mark, its record for the fast way out). Apart from the build itself, so
that a build or a scheduled run with nothing to do never loads the renderer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from blogtool.config import Config
from blogtool.errors import UsageError
from blogtool.files import link_path
from blogtool.i18n import _, ngettext
from blogtool.site import releases

if TYPE_CHECKING:
    import jinja2


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


def manifest_path(config: Config, output: Path) -> Path:
    key = hashlib.sha256(str(output).encode()).hexdigest()[:16]
    return config.state_dir / "builds" / f"{key}.json"


def preview_mark(config: Config, output: Path) -> Path:
    return manifest_path(config, output).with_suffix(".preview")


def holds_preview(config: Config, output: Path) -> bool:
    """Whether the last build into ``output`` showed drafts or scheduled items."""
    return preview_mark(config, link_path(output)).exists()


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


def quiet_path(config: Config, output: Path) -> Path:
    return manifest_path(config, output).with_suffix(".quiet")


def unchanged(config: Config, output: Path, seen: str, now: dt.datetime) -> BuildResult | None:
    """The fast way out of a public build: when the last one saw these very sources
    (``uptodate.snapshot``), its release is still the live one, and no item has come due since,
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


class Overlap:
    """What a build does in this process while its worker processes work. While they parse a
    big site (``parsing``, ``load_site``'s ``meanwhile``): load the renderer and compile the
    pages' templates (``env``, None until then; give it to ``build``). While they render
    (``finish``, ``build``'s ``meanwhile``): write the content cache, whose writing
    ``load_site`` hands over (``defer``, its ``later``). Call ``finish`` again, or use this as
    a context, for what is left: a small build renders in this process, a run may not build."""

    def __init__(self, config: Config, preview: bool):
        self.config, self.preview = config, preview
        self.env: jinja2.Environment | None = None
        self._todo: list[Callable[[], None]] = []

    def parsing(self) -> None:
        from blogtool.site.pages import page_environment

        self.env = page_environment(self.config, self.preview)

    def defer(self, work: Callable[[], None]) -> None:
        self._todo.append(work)

    def finish(self) -> None:
        todo, self._todo = self._todo, []
        for work in todo:
            work()

    def __enter__(self) -> Overlap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
