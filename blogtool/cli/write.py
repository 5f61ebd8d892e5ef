"""Writing, scheduling and planning: init, new, schedule, unschedule, list, calendar, check,
config."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blogtool.errors import ExitStatus, Problem

from .base import Env, clip, pass_env, print_problems, table

if TYPE_CHECKING:
    from blogtool.content.model import Item, Site


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
        click.echo(f"created {path}")
    click.echo(f"Next: edit {created[0]}, then 'blogtool new post \"Title\"'.")


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
    click.echo(f"dated {short_datetime(created.when, env.config.site.language)}", err=True)
    for note in created.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)


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

    item = do_schedule(env.config, path, env.now(), at, force)
    assert item.date is not None
    _warn_about(env, item.path)
    click.echo(
        f"{item.path}: {item.status(env.now()).value} for "
        f"{short_datetime(item.date, env.config.site.language)} ({item.date.isoformat()})"
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
    click.echo(f"{item.path}: draft")


# --- list / calendar / check / config ---------------------------------------------------------


def _warn_about(env: Env, rel: Path) -> None:
    """Warnings the site now has about one file (a tip off the series weekday, a collision)."""
    print_problems([p for p in env.load_site().warnings if p.path == rel])


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _report(site: Site) -> bool:
    """Print the site's problems to stderr; True if any is an error."""
    print_problems(site.problems)
    return bool(site.errors)


@click.command(name="list")
@click.option(
    "--status",
    type=click.Choice(["draft", "scheduled", "published"]),
    help="Only items with this status.",
)
@click.option("--kind", type=click.Choice(["post", "tip"]), help="Only posts or only tips.")
@click.option("--json", "as_json", is_flag=True, help="JSON, with ISO 8601 dates and offsets.")
@pass_env
def list_items(env: Env, status: str | None, kind: str | None, as_json: bool) -> None:
    """List posts and tips: title, kind, status, date and path, oldest first.

    \b
    Example:
        blogtool list --status scheduled
        blogtool list --kind tip --json
    """
    site = env.load_site()
    now = env.now()
    items = [
        i
        for i in site.items
        if (status is None or i.status(now).value == status)
        and (kind is None or i.kind.value == kind)
    ]
    if as_json:
        click.echo(json.dumps([_item_json(i, now) for i in items], ensure_ascii=False, indent=2))
    else:
        from blogtool.timeutil import short_datetime

        lang = env.config.site.language
        rows = [
            (
                clip(i.title, 48),
                i.kind.value,
                i.status(now).value,
                short_datetime(i.date, lang) if i.date else "-",
                str(i.path),
            )
            for i in items
        ]
        table(("TITLE", "KIND", "STATUS", "DATE", "PATH"), rows)
        if not rows:
            click.echo("(nothing matches)", err=True)
    if _report(site):
        sys.exit(ExitStatus.ERROR)


def _item_json(item: Item, now: dt.datetime) -> dict[str, Any]:
    return {
        "title": item.title,
        "kind": item.kind.value,
        "status": item.status(now).value,
        "date": item.date.isoformat() if item.date else None,
        "path": str(item.path),
        "slug": item.slug,
        "tags": list(item.tags),
        "service": item.service,
    }


@click.command()
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(1, 260))
@click.option(
    "--ics",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan as an iCalendar file for Outlook or Google Calendar.",
)
@pass_env
def calendar(env: Env, weeks: int, ics: Path | None) -> None:
    """The plan of the coming series weekdays: the tip on each, empty weeks, collisions,
    Swedish holidays, and the posts scheduled in the same week.

    \b
    Example:
        blogtool calendar --weeks 8
        blogtool calendar --ics torsdagstips.ics
    """
    from blogtool.content.calendar import plan, to_ics
    from blogtool.timeutil import short_datetime

    site = env.load_site()
    now = env.now()
    config = env.config
    lang = config.site.language
    slots = plan(site, now, weeks)
    click.echo(f"{config.tips.title}: the coming {weeks} {config.tips.weekday_name}s")
    rows = []
    for slot in slots:
        if slot.is_empty:
            tip = "-- empty --"
        else:
            tip = " + ".join(f"{clip(t.title, 40)} [{t.status(now).value}]" for t in slot.tips)
            if slot.is_collision:
                tip = "COLLISION: " + tip
        notes = []
        if slot.holiday:
            notes.append(f"holiday: {slot.holiday}")
        for tip_item in slot.tips:
            if tip_item.date and tip_item.date.date() != slot.when.date():
                notes.append(f"{tip_item.path.name} is dated {tip_item.date.date()}")
        rows.append((str(slot.week), short_datetime(slot.when, lang), tip, "; ".join(notes)))
        for post in slot.posts:
            assert post.date is not None
            rows.append(
                ("", "", f"  post: {clip(post.title, 40)}", short_datetime(post.date, lang))
            )
    table(("WEEK", "DATE", "TIP", "NOTE"), rows)
    empty = sum(1 for s in slots if s.is_empty)
    collisions = sum(1 for s in slots if s.is_collision)
    click.echo(f"{weeks - empty} planned, {empty} empty, {collisions} collisions")
    failed = _report(site)
    if ics is not None:
        if failed:
            click.echo(f"Error: not writing {ics} while content has errors.", err=True)
        else:
            from blogtool.files import write_atomic

            write_atomic(ics, to_ics(slots, config, now))
            click.echo(f"wrote {ics}")
    if failed:
        sys.exit(ExitStatus.ERROR)


@click.command()
@pass_env
def check(env: Env) -> None:
    """Validate the configuration and every post and tip; report each problem and each text's
    readability (LIX). Exits 1 if anything is an error.

    LIX is words per sentence plus the percentage of words longer than six letters; above
    [check] lix_limit (default 50) is a warning.

    \b
    Example:
        blogtool check
    """
    from blogtool.content.lix import of_markdown
    from blogtool.content.load import content_files

    site = env.load_site()
    limit = env.config.check.lix_limit
    lix_warnings = []
    rows = []
    for item in site.items:
        lix = of_markdown(item.body)
        rows.append((f"{lix.score:.0f}", _lix_label(lix.score), str(item.path)))
        if lix.score > limit:
            lix_warnings.append(
                Problem(
                    item.path,
                    f"LIX {lix.score:.0f} is above the limit {limit:g} "
                    f"({lix.words} words, {lix.sentences} sentences, "
                    f"{lix.long_words} long words); shorter sentences and words read easier",
                    severity="warning",
                )
            )
    if rows:
        table(("LIX", "READABILITY", "PATH"), rows)
    problems = [*site.problems, *lix_warnings]
    print_problems(problems)
    files = sum(1 for _ in content_files(env.config))
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    click.echo(
        f"Checked {files} files: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}."
    )
    if errors:
        sys.exit(ExitStatus.ERROR)


def _lix_label(score: float) -> str:
    for limit, label in ((25, "very easy"), (35, "easy"), (45, "medium"), (55, "hard")):
        if score < limit:
            return label
    return "very hard"


@click.command(name="fields")
@click.option("--json", "as_json", is_flag=True, help="JSON, one object per key.")
@click.option("--markdown", is_flag=True, help="The Markdown of docs/front-matter.md.")
def fields_command(as_json: bool, markdown: bool) -> None:
    """List every front-matter key a post or a tip may have: type, default, what it is for.

    \b
    Example:
        blogtool fields
        blogtool fields --json
    """
    from blogtool.content import fields

    if as_json:
        click.echo(json.dumps(fields.reference(), ensure_ascii=False, indent=2, default=list))
        return
    if markdown:
        click.echo(fields.markdown_reference(), nl=False)
        return
    for f in fields.reference():
        required = ", required" if f["required"] else ""
        kinds = " and ".join(k + "s" for k in f["kinds"])
        click.echo(f"{f['name']} ({f['type']}{required}; {kinds})")
        click.echo(f"    {f['help']}")


@click.command(name="config")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of TOML.")
@click.option(
    "--reference",
    is_flag=True,
    help="Every key there is, with its default and meaning (Markdown), instead.",
)
@click.pass_context
def show_config(ctx: click.Context, as_json: bool, reference: bool) -> None:
    """Print the effective configuration, defaults and derived values included.

    \b
    Example:
        blogtool config
        blogtool config --reference
    """
    from blogtool.config import as_dict, dump_toml
    from blogtool.config.dump import markdown_reference

    if reference:  # needs no site
        click.echo(markdown_reference(), nl=False)
        return
    env = ctx.ensure_object(Env)
    data = as_dict(env.config)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(f"# {env.config.path}")
        click.echo(dump_toml(data), nl=False)


COMMANDS = {
    "init": init,
    "new": new,
    "schedule": schedule,
    "unschedule": unschedule,
    "list": list_items,
    "calendar": calendar,
    "check": check,
    "fields": fields_command,
    "config": show_config,
}
