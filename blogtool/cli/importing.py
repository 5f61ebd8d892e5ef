"""Moving in: import a WordPress export or an RSS/Atom feed as posts (and tips)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from blogtool.errors import UsageError
from blogtool.i18n import _, ngettext

from .base import Env, pass_env


@click.group(name="import")
def import_group() -> None:
    """Bring an existing blog in: a WordPress export (WXR) or any RSS/Atom feed.

    Re-running an import never duplicates an item and never overwrites a file edited here
    since. Comments are never imported (they are other people's personal data).

    \b
    Example:
        blogtool import wordpress export.xml --uploads backup/wp-content/uploads --dry-run
        blogtool import feed https://gammal.example.se/feed/
    """


def _split(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise UsageError(_("--split-tips: not a valid pattern: {exc}").format(exc=exc)) from None


def _run(
    env: Env,
    entries: list[Any],
    attachments: dict[str, tuple[str, str]],
    options: Any,
    uploads: Path | None,
    dry_run: bool,
) -> None:
    from blogtool.files import write_atomic
    from blogtool.importer.media import Images
    from blogtool.importer.plan import Planner

    config = env.config
    images = Images(config.root, uploads)
    planner = Planner(config, images, attachments, options)
    bar: Any = None
    if env.shows_progress and len(entries) > 50:  # a big export: show how far it is
        bar = click.progressbar(length=len(entries), label="Importing", file=sys.stderr)
        bar.__enter__()
    try:
        for entry in entries:
            planner.add(entry, (lambda: bar.update(1)) if bar is not None else (lambda: None))
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    report = planner.report
    for problem in report.problems:
        click.secho(_("problem: {problem}").format(problem=problem), fg="yellow", err=True)
    for planned in report.files:
        if planned.action != "unchanged" or dry_run:
            click.echo(f"{planned.action}: {planned.path}")
    if not dry_run:
        for target, data in sorted(images.pending.items()):
            write_atomic(config.root / target, data)
        for planned in report.files:
            if planned.action in ("new", "updated"):
                write_atomic(config.root / planned.path, planned.data)
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(report.skipped.items()))
    counted = [
        ngettext("{n} post", "{n} posts", report.posts).format(n=report.posts),
        ngettext("{n} draft", "{n} drafts", report.drafts).format(n=report.drafts),
        ngettext("{n} page", "{n} pages", report.pages).format(n=report.pages),
        ngettext("{n} tip", "{n} tips", report.tips).format(n=report.tips),
        ngettext(
            "{n} image ({failed} failed)", "{n} images ({failed} failed)", len(images.done)
        ).format(n=len(images.done), failed=len(images.failed)),
        ngettext("{n} redirect", "{n} redirects", report.redirects).format(n=report.redirects),
        ngettext("{n} problem", "{n} problems", len(report.problems)).format(
            n=len(report.problems)
        ),
    ]
    click.echo(
        ", ".join(counted) + (_("; skipped: {what}").format(what=skipped) if skipped else "")
    )
    click.echo(
        _(
            "files: {new} new, {updated} updated, {unchanged} unchanged, {kept} skipped "
            "(edited locally)"
        ).format(
            new=report.count("new"),
            updated=report.count("updated"),
            unchanged=report.count("unchanged"),
            kept=report.count("skipped (edited locally)"),
        )
        + (_("; dry run: nothing was written") if dry_run else "")
    )


@import_group.command(name="wordpress")
@click.argument("export", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--uploads",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help=(
        "The uploads, laid out YYYY/MM/name (a backup's wp-content/uploads, or WordPress.com's "
        "media export): images are copied from it, not downloaded."
    ),
)
@click.option(
    "--pages",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write WordPress pages to this folder (skipped otherwise).",
)
@click.option(
    "--post-type",
    "post_types",
    multiple=True,
    metavar="TYPE",
    help="Also import this custom post type as posts (repeat for more).",
)
@click.option(
    "--split-tips",
    metavar="PATTERN",
    help="Split a closing section that starts with PATTERN (e.g. 'veckans torsdagstips') off "
    "into a tip.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@pass_env
def import_wordpress(
    env: Env,
    export: Path,
    uploads: Path | None,
    pages: Path | None,
    post_types: tuple[str, ...],
    split_tips: str | None,
    dry_run: bool,
) -> None:
    """Import a WordPress export (Tools → Export, WXR 1.1/1.2): posts with their dates, authors,
    categories and tags, excerpts, images and old addresses (each gets a redirect).

    \b
    Example:
        blogtool import wordpress export.xml --dry-run
        blogtool import wordpress export.xml --uploads backup/wp-content/uploads
        blogtool import wordpress export.xml --split-tips "veckans torsdagstips"
    """
    from blogtool.importer.plan import Options
    from blogtool.importer.sources import SourceError, read_wxr

    config = env.config
    try:
        export_data = read_wxr(export, config.site.timezone)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    folder = (pages if pages.is_absolute() else config.root / pages) if pages else None
    options = Options(folder, post_types, _split(split_tips))
    _run(env, export_data.entries, export_data.attachments, options, uploads, dry_run)


@import_group.command(name="feed")
@click.argument("source", metavar="URL|FILE")
@click.option(
    "--split-tips",
    metavar="PATTERN",
    help="Split a closing section that starts with PATTERN into a tip.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@pass_env
def import_feed(env: Env, source: str, split_tips: str | None, dry_run: bool) -> None:
    """Import any RSS 2.0, RSS 1.0 or Atom feed: full content where the feed has it (else the
    summary), dates, authors, tags and image enclosures.

    \b
    Example:
        blogtool import feed https://gammal.example.se/feed/ --dry-run
        blogtool import feed export/atom.xml
    """
    from blogtool.importer.media import fetch_url
    from blogtool.importer.plan import Options
    from blogtool.importer.sources import SourceError, read_feed

    def fetch(url: str) -> bytes:
        try:
            data, _type = fetch_url(url, limit=50 * 1024 * 1024, timeout=30)
        except OSError as exc:
            raise SourceError(
                _("{url}: cannot be fetched: {exc}").format(url=url, exc=exc)
            ) from None
        return data

    try:
        entries = read_feed(source, env.config.site.timezone, fetch)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    _run(env, entries, {}, Options(split=_split(split_tips)), None, dry_run)


COMMANDS = {"import": import_group}
