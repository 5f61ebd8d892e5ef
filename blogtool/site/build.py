"""Building the static site: the pages of ``pages.py`` through the engine of ``engine.py``.

Only published items go in (with ``drafts``/``future``, a preview shows the others, marked).
Only pages whose inputs changed are rendered; a failed build leaves the output as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import jinja2

from blogtool.config import Config
from blogtool.content.model import Site
from blogtool.errors import UsageError
from blogtool.files import private_dir, remove, write_atomic
from blogtool.i18n import _
from blogtool.pictures import markup, variants
from blogtool.site import engine, moved, pages, releases, search
from blogtool.site.engine import BuildError, Progress
from blogtool.site.incremental import fastway, lookahead
from blogtool.site.incremental.manifest import (
    load_manifest,
    manifest_path,
    save_manifest,
    to_render,
)
from blogtool.site.output import (
    BuildOptions,
    BuildResult,
    check_output_dir,
    preview_mark,
    search_pending_path,
)
from blogtool.site.plan import plan
from blogtool.site.templates import fingerprint
from blogtool.site.urls import SEARCH_INDEX_DIR
from blogtool.store import waiting_lock

__all__ = ["BuildError", "BuildOptions", "BuildResult", "build", "rollback"]


def releases_locked(config: Config, output: Path) -> contextlib.AbstractContextManager[None]:
    """The lock of ``output``'s releases (beside its manifest), held while a build makes and
    swaps a release and cleans up, and while a search index is put in place in one: a few
    renames, or a build's publishing. Whoever comes second waits."""
    return waiting_lock(manifest_path(config, output).with_suffix(".lock"))


def index_search(config: Config, output: Path) -> bool:
    """Make the live release's search index while one is owed (``search_pending_path``).
    Pagefind reads the live release and writes beside it; the index is put in place under the
    releases' lock (so no build reuses or removes that release meanwhile), and only if the
    release is still served or kept for a rollback: then it was never changed while it was
    read. A build that swapped in a newer release meanwhile owes a new index, and it is made
    in turn. One process at a time; the next waits, and finds nothing owed or what is owed
    now. Returns whether it made one. If Pagefind fails, the pages stay live with the index
    they had."""
    pending = search_pending_path(config)
    made = False
    with waiting_lock(search.lock_path(config)):
        for leftover in output.parent.glob(f".{output.name}.search-*"):  # a killed one's
            remove(leftover)
        # What builds set aside (a reused release's older index): taken out of their way in
        # one rename, under their lock, then deleted.
        doomed = output.parent / f".{output.name}.search-{os.getpid()}-trash"
        with releases_locked(config, output):
            search.set_trash_aside(releases.releases_dir(output), doomed)
        remove(doomed)
        for _turn in range(10):  # (builds that keep coming faster than Pagefind: next time)
            try:
                owed = pending.read_bytes()
            except FileNotFoundError:
                return made
            release = releases.live_release(output)
            if release is None:
                pending.unlink(missing_ok=True)
                return made
            scratch = output.parent / f".{output.name}.search-{os.getpid()}"
            try:
                if not _pagefind(config, output, release, scratch):
                    continue  # the release was reused or removed as it was read
                with releases_locked(config, output):
                    if not releases.is_kept(output, release):
                        continue
                    files = search.install(release, scratch)
                    releases.relist(release, SEARCH_INDEX_DIR, files)
                    made = True
                    if releases.live_release(output) == release and pending.read_bytes() == owed:
                        pending.unlink()
                        return made
            finally:
                remove(scratch)
    return made


def _pagefind(config: Config, output: Path, release: Path, scratch: Path) -> bool:
    """Index ``release`` into ``scratch``. False when it failed because a build reused or
    removed the release meanwhile; a failure on a release at rest is an error."""
    try:
        search.index(release, config.tips.slug, scratch)
    except BuildError as exc:
        if releases.is_kept(output, release):
            raise BuildError(
                _("the pages are live, but with the search index as it was: {exc}").format(exc=exc)
            ) from None
        return False
    return True


def rollback(config: Config, output: Path) -> Path:
    """Serve the previous release again. The manifest describes the build rolled back from,
    so it is forgotten: the next build renders every page, and never mixes the two."""
    output = check_output_dir(config, output)
    with releases_locked(config, output):
        back = releases.rollback(output)
    manifest_path(config, output).unlink(missing_ok=True)
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
    environment: jinja2.Environment | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> BuildResult:
    """Build the site into ``options.output``. Raises with the previous output untouched.

    ``seen``: the sources' snapshot taken before the site was loaded; with it, a later build
    can tell that nothing changed (``unchanged``). ``fail_after`` injects a failure after that
    many pages have rendered (tests only). ``environment``: the templates, compiled while the
    site loaded. ``meanwhile``: work to do while workers render."""
    started, config = time.perf_counter(), site.config
    output = check_output_dir(config, options.output)
    manifest, live = manifest_path(config, output), releases.live_release(output)
    fp = fingerprint(config, f"drafts={options.drafts}", f"future={options.future}")
    made, processed = variants.prepare(
        config, markup.wanted(config, (*site.items, *site.unready)), options.jobs
    )
    view = pages.SiteView(site, now, options.drafts, options.future, fp, made, environment)
    planned = plan(view, moved.former(config))
    engine.check_unique(planned)
    last = load_manifest(manifest)
    old = last.pages
    # What the live and the spare release hold of the last build's pages.
    spare = releases.spare_release(output) if live else None
    looked = lookahead.look(old, live, spare, last.recorded) if live else None
    todo = to_render(planned, old, looked)
    known = {p.path for p in planned}
    stale = sorted(path for path in old if path not in known)
    # The page files of the live release by inode, for the next build's look: the last
    # build's record while no release is made (if it is of this one), else the new release's.
    recorded = last.recorded
    if live is None or recorded is None or recorded.release != live.name:
        recorded = None
    if on_start is not None:
        on_start(len(todo))
    # Under the releases' lock: a search index being put in place (``index_search``) waits
    # for this, and this for it (a few renames).
    with releases_locked(config, output):
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
            # The live index comes along; the new one is made once the pages are live (below).
            carry = partial(search.carry, live=live) if indexed else None
            finish = (SEARCH_INDEX_DIR, carry)
            recorded = releases.publish(
                label,
                planned,
                todo,
                set(old),
                output,
                options.jobs,
                progress,
                fail_after,
                finish,
                looked,
                meanwhile,
            )
            if indexed:  # owed until it is made: a failed or killed one is made by the next build
                pending = search_pending_path(config)
                private_dir(pending.parent)
                swapped = releases.live_release(output)
                name = swapped.name if swapped is not None else label
                write_atomic(pending, name.encode(), durable=False)
    save_manifest(manifest, planned, recorded)
    mark = preview_mark(config, output)
    if view.preview:
        mark.touch()
    else:
        mark.unlink(missing_ok=True)
        moved.remember(config)
    owed = config.build.search and not view.preview and search_pending_path(config).exists()
    later = owed and 0 < config.build.search_background <= len(planned) and options.search_later
    if owed and not later:
        index_search(config, output)
    fastway.remember(site, output, seen, now, len(planned), view.preview)
    return BuildResult(
        output=output,
        written=len(todo),
        skipped=len(planned) - len(todo),
        removed=len(stale),
        seconds=time.perf_counter() - started,
        pictures=processed,
        search_later=later,
    )
