"""Looking at the site: list, calendar, check, fields, config."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from blogtool.config import CONFIG_NAME
from blogtool.errors import ExitStatus, Problem, UsageError
from blogtool.i18n import _, cli_language, label_of, ngettext

from .base import Env, clip, pass_env, print_problems, table

if TYPE_CHECKING:
    from blogtool.content.model import Item, Site


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

        lang = cli_language()
        rows = [
            (
                clip(i.title, 48),
                label_of(i.kind.value),
                label_of(i.status(now).value),
                short_datetime(i.date, lang) if i.date else "-",
                str(i.path),
            )
            for i in items
        ]
        table((_("TITLE"), _("KIND"), _("STATUS"), _("DATE"), _("PATH")), rows)
        if not rows:
            click.echo(_("(nothing matches)"), err=True)
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
    holidays ([tips] holidays), and the posts scheduled in the same week.

    \b
    Example:
        blogtool calendar --weeks 8
        blogtool calendar --ics torsdagstips.ics
    """
    from blogtool.content.calendar import plan, to_ics
    from blogtool.timeutil import short_datetime, weekday_name

    config = env.config
    if not config.tips.enabled:
        raise UsageError(
            _("the site has no weekly series ([tips] enabled = false): there is no plan to show")
        )
    site = env.load_site()
    now = env.now()
    lang = cli_language()
    slots = plan(site, now, weeks, lang)
    click.echo(
        ngettext(
            "{title}: the coming {weeks} {weekday}",
            "{title}: the coming {weeks} {weekday}s",
            weeks,
        ).format(
            title=config.tips.title, weeks=weeks, weekday=weekday_name(config.tips.weekday, lang)
        )
    )
    rows = []
    for slot in slots:
        if slot.is_empty:
            tip = _("-- empty --")
        else:
            tip = " + ".join(
                f"{clip(t.title, 40)} [{label_of(t.status(now).value)}]" for t in slot.tips
            )
            if slot.is_collision:
                tip = _("COLLISION: {tips}").format(tips=tip)
        notes = []
        if slot.holiday:
            notes.append(_("holiday: {name}").format(name=slot.holiday))
        for tip_item in slot.tips:
            if tip_item.date and tip_item.date.date() != slot.when.date():
                notes.append(
                    _("{file} is dated {date}").format(
                        file=tip_item.path.name, date=tip_item.date.date()
                    )
                )
        rows.append((str(slot.week), short_datetime(slot.when, lang), tip, "; ".join(notes)))
        for post in slot.posts:
            assert post.date is not None
            rows.append(
                (
                    "",
                    "",
                    _("  post: {title}").format(title=clip(post.title, 40)),
                    short_datetime(post.date, lang),
                )
            )
    table((_("WEEK"), _("DATE"), _("TIP"), _("NOTE")), rows)
    empty = sum(1 for s in slots if s.is_empty)
    collisions = sum(1 for s in slots if s.is_collision)
    click.echo(
        _("{planned} planned, {empty} empty, {collisions}").format(
            planned=weeks - empty,
            empty=empty,
            collisions=ngettext("{n} collision", "{n} collisions", collisions).format(n=collisions),
        )
    )
    failed = _report(site)
    if ics is not None:
        if failed:
            click.echo(
                _("Error: not writing {ics} while content has errors.").format(ics=ics), err=True
            )
        else:
            from blogtool.files import write_atomic

            # Holidays named in the site's language, as the rest of the shared calendar.
            shared = plan(site, now, weeks, config.site.language)
            write_atomic(ics, to_ics(shared, config, now))
            click.echo(_("wrote {ics}").format(ics=ics))
    if failed:
        sys.exit(ExitStatus.ERROR)


@click.command()
@click.option("--verbose", "-v", is_flag=True, help="Also list every text's readability (LIX).")
@click.option(
    "--links",
    is_flag=True,
    help="Also ask every link to another site in published and scheduled items, and every "
    "service's address, whether it still leads somewhere.",
)
@pass_env
def check(env: Env, verbose: bool, links: bool) -> None:
    """Validate the configuration and every post and tip, and whether what is scheduled or
    published is ready to go out. Prints every problem (file:line), then one summary line;
    exits 1 if anything is an error.

    
    Ready to go out means: no text that 'blogtool new' wrote is left, a summary (required for
    tips), links and images to files that exist, and a service with a url for a tip. Drafts
    are not held to that.

    LIX is words per sentence plus the percentage of words longer than six letters; a text
    above [check] lix_limit (default 50) is a warning. --verbose lists every text's LIX.

    --links asks each address with HEAD (GET when HEAD gets an error), follows redirects, and
    lists every place a broken one is written: 4xx and 5xx answers, no such host, no answer
    within [check] link_timeout seconds, a redirect loop, a redirect to a login page. A few
    sites are asked at once, each one request at a time; answers are kept for a day.

    
    Example:
        blogtool check
        blogtool check --verbose
        blogtool check --links
    """
    from blogtool.content.lix import of_item
    from blogtool.content.load import content_files

    config = env.lenient_config()  # a wrong key or value is reported, and the content too
    site = env.load_site(readability=True)
    rows = []
    for item in site.items:
        lix = of_item(item)
        rows.append((f"{lix.score:.0f}", _lix_label(lix.score), str(item.path)))
    if verbose and rows:
        table(("LIX", _("READABILITY"), _("PATH")), rows)
    from blogtool.site.checks import problems as all_problems

    link_problems = _check_links(env, site) if links else []
    problems = all_problems(config, site, env.now(), link_problems)
    print_problems(problems)  # on stderr, like every command's problems; the summary last
    files = sum(1 for _ in content_files(config))
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    click.echo(
        _("Checked {files} and {config}: {errors}, {warnings}.").format(
            files=ngettext("{n} file", "{n} files", files).format(n=files),
            config=CONFIG_NAME,
            errors=ngettext("{n} error", "{n} errors", errors).format(n=errors),
            warnings=ngettext("{n} warning", "{n} warnings", warnings).format(n=warnings),
        )
    )
    if errors:
        sys.exit(ExitStatus.ERROR)


def _check_links(env: Env, site: Site) -> list[Problem]:
    """Every link to another site in published and scheduled items, and every service's
    address, asked; a problem where each broken one is written."""
    from blogtool.content.links import LinkChecker, external_links, problems
    from blogtool.content.model import Status

    config, now = env.config, env.now()
    items = [i for i in site.items if i.status(now) in (Status.PUBLISHED, Status.SCHEDULED)]
    found = external_links(config, items)
    checker = LinkChecker.for_site(config)
    show = env.shows_progress

    def progress(done: int, total: int) -> None:
        if show:
            line = _("asked {done} of {total} links").format(done=done, total=total)
            click.echo("\r" + line, nl=False, err=True)

    verdicts, remembered = checker.check(found, now, progress)
    if show and len(verdicts) > remembered:
        click.echo("", err=True)
    click.echo(
        _(
            "Links: {n} checked on {hosts} sites, {broken} broken ({remembered} from the last "
            "day's answers)."
        ).format(
            n=len(verdicts),
            hosts=len({urlsplit(u).netloc for u in verdicts}),
            broken=sum(1 for v in verdicts.values() if not v.ok),
            remembered=remembered,
        )
    )
    return problems(found, verdicts)


def _lix_label(score: float) -> str:
    levels = ((25, _("very easy")), (35, _("easy")), (45, _("medium")), (55, _("hard")))
    for limit, label in levels:
        if score < limit:
            return label
    return _("very hard")


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
    "list": list_items,
    "calendar": calendar,
    "check": check,
    "fields": fields_command,
    "config": show_config,
}
