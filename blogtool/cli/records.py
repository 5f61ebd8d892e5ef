"""Public records: the archive for the e-archive."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from blogtool.i18n import _

from .base import Env, pass_env, since_option


@click.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--since",
    help="What came after this time (ISO 8601; default: where the last archive ended, or the "
    "beginning).",
)
@pass_env
def archive(env: Env, out: Path, since: str | None) -> None:
    """Write what was published and sent to OUT, a new folder, as a BagIt package (RFC 8493)
    for the e-archive: each post and tip (its Markdown, its page, its pictures and a
    metadata.json), each sent newsletter (one copy with every personal link replaced, the
    number of recipients and when it went), and the consent texts by version.

    No subscriber's address is in it. The next archive starts where this one ended.

    \b
    Example:
        blogtool archive arkiv/2026-q4
        blogtool archive arkiv/2026 --since 2026-01-01
    """
    from blogtool.i18n import cli_language
    from blogtool.records.archive import make
    from blogtool.timeutil import short_datetime

    def shown(when: dt.datetime) -> str:
        return short_datetime(when.astimezone(env.config.site.timezone), cli_language())

    site = env.load_site()
    made = make(site, out, env.now(), since_option(env, since))
    click.echo(
        _(
            "Wrote {path}: {items} published items, {issues} sent newsletters, {consents} "
            "consent texts ({files} files), {start} to {end}."
        ).format(
            path=made.path,
            items=made.items,
            issues=made.issues,
            consents=made.consents,
            files=made.files,
            start=shown(made.since) if made.since else _("the beginning"),
            end=shown(made.until),
        )
    )


COMMANDS = {"archive": archive}
