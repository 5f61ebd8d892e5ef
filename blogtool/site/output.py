"""What a build is asked and answers, where it may write (never over the site's own sources,
only into a folder that blogtool made or an empty one), and whether the last build there was a
preview. Apart from the build itself, so that a build or a scheduled run with nothing to do
never loads the renderer (``incremental/`` decides that there is nothing to do)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from blogtool.config import Config
from blogtool.errors import UsageError
from blogtool.files import link_path
from blogtool.i18n import _, ngettext
from blogtool.site import releases
from blogtool.site.incremental.manifest import manifest_path

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
    # A site of [build] search_background pages or more may leave its search index to a
    # process of its own (``build.index_search``), which the caller starts; else it waits.
    search_later: bool = False


@dataclass(frozen=True)
class BuildResult:
    output: Path
    written: int
    skipped: int
    removed: int
    seconds: float
    pictures: int = 0  # pictures made now (not taken from the cache)
    search_later: bool = False  # the search index is owed, left to ``build.index_search``

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


def search_pending_path(config: Config) -> Path:
    """Present while the live release's search index is older than its pages (``search``); it
    holds the name of the release the build that owed it swapped in. Here, so that a build or
    a run with nothing else to do sees an owed index without loading the indexer."""
    return config.state_dir / "search-pending"


def index_left_owed(config: Config) -> bool:
    """Whether a search index is owed that no process is making: a stopped build or index
    process left it, and the next build or run makes it. Without loading the indexer unless
    one is owed at all."""
    if not (config.build.search and search_pending_path(config).exists()):
        return False
    from blogtool.site import search

    return search.owed(config) == "owed"


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
