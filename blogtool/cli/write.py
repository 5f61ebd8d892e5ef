"""Writing and scheduling: init, new, schedule, unschedule."""

from __future__ import annotations

from pathlib import Path

import click

from blogtool.i18n import _, cli_language, label_of

from .base import Env, pass_env, print_problems

# --- init / new -------------------------------------------------------------------------------


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--title", default="Min blogg", show_default=True, help="The site's title.")
@click.option(
    "--base-url",
    default="https://www.example.se/",
    show_default=True,
    help="Where the site will be published.",
)
def init(directory: Path, title: str, base_url: str) -> None:
    """Create a new site in DIRECTORY: blogtool.toml, posts/, tips/ and templates/.

    Refuses to overwrite an existing site.

    \b
    Example:
        blogtool init kommunbloggen --title "Kommunbloggen" --base-url https://blogg.example.se/
    """
    from blogtool.config import load_config
    from blogtool.content.authoring import init_site

    created = init_site(directory, title, base_url)
    load_config(directory.resolve())  # the skeleton must be a valid site
    for path in created:
        click.echo(_("created {path}").format(path=path))
    click.echo(
        _("Next: edit {created}, then 'blogtool new post \"Title\"'.").format(created=created[0])
    )


@click.group()
def new() -> None:
    """Start a new post or tip.

    \b
    Example:
        blogtool new post "Från stuprör till flöden"
        blogtool new tip "Hitta ut i naturen" --service naturkartan
    """


@new.command(name="post")
@click.argument("title")
@click.option("--edit", "open_editor", is_flag=True, help="Open the new file in $EDITOR.")
@pass_env
def new_post(env: Env, title: str, open_editor: bool) -> None:
    """Write posts/YYYY-MM-DD-slug.md as a draft and print its path.

    The slug comes from the title (å, ä, ö become a, a, o). Schedule it with
    'blogtool schedule' when it is ready.

    \b
    Example:
        blogtool new post "Från stuprör till flöden" --edit
    """
    from blogtool.content.authoring import new_post as create

    created = create(env.config, title, env.now())
    click.echo(_display(created.path))
    if open_editor:
        click.edit(filename=str(created.path))


@new.command(name="tip")
@click.argument("title")
@click.option("--service", required=True, help="Key of the featured service in [services].")
@click.option("--date", "date", help="Date (YYYY-MM-DD) instead of the next free series weekday.")
@pass_env
def new_tip(env: Env, title: str, service: str, date: str | None) -> None:
    """Write a draft tip on the next series weekday that has no tip yet.

    It is dated at the series time (08:00 on Thursdays by default). Approve it with
    'blogtool schedule PATH'.

    \b
    Example:
        blogtool new tip "Hitta ut i naturen" --service naturkartan
        blogtool new tip "Julens öppettider" --service biblioteket --date 2026-12-17
    """
    from blogtool.content.authoring import new_tip as create
    from blogtool.timeutil import short_datetime

    created = create(env.config, title, service, env.now(), date)
    click.echo(_display(created.path))
    click.echo(
        _("dated {short_datetime}").format(
            short_datetime=short_datetime(created.when, cli_language())
        ),
        err=True,
    )
    for note in created.notes:
        click.secho(_("note: {note}").format(note=note), fg="yellow", err=True)


# --- schedule ---------------------------------------------------------------------------------


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--at", "at", metavar="WHEN", help="ISO 8601 time; no offset means the site's zone.")
@click.option("--force", is_flag=True, help="Accept a time in the past (publishes at once).")
@pass_env
def schedule(env: Env, path: Path, at: str | None, force: bool) -> None:
    """Set when PATH goes out, and clear its draft flag.

    Without --at, the date already in the file is used. Only the date and draft lines change;
    the rest of the file stays byte for byte as it was.

    \b
    Example:
        blogtool schedule posts/2026-11-28-fran-stupror-till-floden.md --at "2027-04-01 08:00"
        blogtool schedule tips/2026-12-10-hitta-ut-i-naturen.md
    """
    from blogtool.content.authoring import schedule as do_schedule
    from blogtool.timeutil import short_datetime

    notes: list[str] = []
    item = do_schedule(env.config, path, env.now(), at, force, notes)
    for note in notes:
        click.secho(_("warning: --at: {note}").format(note=note), fg="yellow", err=True)
    assert item.date is not None
    _warn_about(env, item.path)
    click.echo(
        _("{path}: {status} for {when} ({iso})").format(
            path=item.path,
            status=label_of(item.status(env.now()).value),
            when=short_datetime(item.date, cli_language()),
            iso=item.date.isoformat(),
        )
    )


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_env
def unschedule(env: Env, path: Path) -> None:
    """Make PATH a draft again; its date is kept as a suggestion.

    \b
    Example:
        blogtool unschedule posts/2026-11-28-fran-stupror-till-floden.md
    """
    from blogtool.content.authoring import unschedule as do_unschedule

    item = do_unschedule(env.config, path)
    click.echo(_("{path}: draft").format(path=item.path))


# --- helpers ---------------------------------------------------------------------------------


def _warn_about(env: Env, rel: Path) -> None:
    """Warnings the site now has about one file (a tip off the series weekday, a collision)."""
    print_problems([p for p in env.load_site().warnings if p.path == rel])


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


COMMANDS = {"init": init, "new": new, "schedule": schedule, "unschedule": unschedule}
