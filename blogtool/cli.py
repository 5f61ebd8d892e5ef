"""The command line: parse options, call the core, turn domain errors into one clear line.

No business rule lives here. Heavy libraries are imported inside the commands that need them, so
``blogtool --help`` and ``blogtool list`` start instantly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import BlogtoolError, ContentError, ExitStatus, Problem, UsageError

if TYPE_CHECKING:
    from .config import Config
    from .content import Item, Site

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Env:
    """What every command shares: where the site is and what time it is."""

    def __init__(self, site: Path | None, debug: bool):
        self.site_option = site
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from .config import find_root, load_config

            root = self.site_option.resolve() if self.site_option else find_root(Path.cwd())
            self._config = load_config(root)
        return self._config

    def now(self) -> dt.datetime:
        """The one place that reads the clock; ``BLOGTOOL_NOW`` pins it for rehearsals and tests."""
        from .timeutil import parse_now

        pinned = os.environ.get("BLOGTOOL_NOW")
        tz = self.config.site.timezone
        if pinned:
            cached = getattr(self, "_pinned", None)
            if cached is None or cached[0] != pinned:
                try:
                    cached = (pinned, parse_now(pinned).astimezone(tz))
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
                self._pinned = cached
            return cached[1]
        return dt.datetime.now(tz)

    def load_site(self, cached: bool = False) -> Site:
        """Every post and tip. ``cached`` reuses the parse of unchanged files (build, run)."""
        from .content import load_site

        cache = self.config.state_dir / "cache" / "content.pickle" if cached else None
        return load_site(self.config, cache)


class BlogtoolGroup(click.Group):
    """Turns domain errors into a message on stderr and the matching exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlogtoolError as exc:
            env = ctx.obj
            if isinstance(env, Env) and env.debug:
                raise
            if isinstance(exc, ContentError):
                print_problems(exc.problems)
                n = sum(1 for p in exc.problems if p.is_error)
                click.echo(
                    f"Error: {n} problem{'s' * (n != 1)} found; nothing was changed.", err=True
                )
            else:
                click.echo(f"Error: {exc}", err=True)
            ctx.exit(int(exc.exit_code))


def print_problems(problems: list[Problem] | tuple[Problem, ...]) -> None:
    for problem in problems:
        color = "red" if problem.is_error else "yellow"
        click.secho(str(problem), fg=color, err=True)


@click.group(cls=BlogtoolGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--site",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    envvar="BLOGTOOL_SITE",
    help="Site directory (default: the nearest one with a blogtool.toml, from here upwards).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="blogtool")
@click.pass_context
def cli(ctx: click.Context, site: Path | None, debug: bool) -> None:
    """Blog posts, the Thursday tip series and the weekly newsletter of a public organisation.

    Set BLOGTOOL_NOW (ISO 8601 with offset) to rehearse as if it were another time.

    \b
    Example:
        blogtool new post "Från stuprör till flöden"
        blogtool schedule posts/2026-11-28-fran-stupror-till-floden.md --at "2027-04-01 08:00"
        blogtool calendar
    """
    ctx.obj = Env(site, debug)


pass_env = click.make_pass_decorator(Env)


def main() -> None:
    cli(prog_name="blogtool")


# --- init / new -------------------------------------------------------------------------------


@cli.command()
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
    from .authoring import init_site
    from .config import load_config

    created = init_site(directory, title, base_url)
    load_config(directory.resolve())  # the skeleton must be a valid site
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"Next: edit {created[0]}, then 'blogtool new post \"Title\"'.")


@cli.group()
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
    from .authoring import new_post as create

    created = create(env.config, title, env.now())
    click.echo(_display(created.path, env))
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
    from .authoring import new_tip as create
    from .dates import short_datetime

    created = create(env.config, title, service, env.now(), date)
    click.echo(_display(created.path, env))
    click.echo(f"dated {short_datetime(created.when, env.config.site.language)}", err=True)
    for note in created.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)


# --- schedule ---------------------------------------------------------------------------------


@cli.command()
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
    from .authoring import schedule as do_schedule
    from .dates import short_datetime

    item = do_schedule(env.config, path, env.now(), at, force)
    assert item.date is not None
    _warn_about(env, item.path)
    click.echo(
        f"{item.path}: {item.status(env.now()).value} for "
        f"{short_datetime(item.date, env.config.site.language)} ({item.date.isoformat()})"
    )


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_env
def unschedule(env: Env, path: Path) -> None:
    """Make PATH a draft again; its date is kept as a suggestion.

    \b
    Example:
        blogtool unschedule posts/2026-11-28-fran-stupror-till-floden.md
    """
    from .authoring import unschedule as do_unschedule

    item = do_unschedule(env.config, path)
    click.echo(f"{item.path}: draft")


# --- list / calendar / check / config ---------------------------------------------------------


def _warn_about(env: Env, rel: Path) -> None:
    """Warnings the site now has about one file (a tip off the series weekday, a collision)."""
    print_problems([p for p in env.load_site().warnings if p.path == rel])


def _display(path: Path, env: Env) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _report(site: Site) -> bool:
    """Print the site's problems to stderr; True if any is an error."""
    print_problems(site.problems)
    return bool(site.errors)


@cli.command(name="list")
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
        from .dates import short_datetime

        lang = env.config.site.language
        rows = [
            (
                _clip(i.title, 48),
                i.kind.value,
                i.status(now).value,
                short_datetime(i.date, lang) if i.date else "-",
                str(i.path),
            )
            for i in items
        ]
        _table(("TITLE", "KIND", "STATUS", "DATE", "PATH"), rows)
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


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@cli.command()
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
    from .dates import short_datetime
    from .plan import plan, to_ics

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
            tip = " + ".join(f"{_clip(t.title, 40)} [{t.status(now).value}]" for t in slot.tips)
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
                ("", "", f"  post: {_clip(post.title, 40)}", short_datetime(post.date, lang))
            )
    _table(("WEEK", "DATE", "TIP", "NOTE"), rows)
    empty = sum(1 for s in slots if s.is_empty)
    collisions = sum(1 for s in slots if s.is_collision)
    click.echo(f"{weeks - empty} planned, {empty} empty, {collisions} collisions")
    failed = _report(site)
    if ics is not None:
        if failed:
            click.echo(f"Error: not writing {ics} while content has errors.", err=True)
        else:
            from .editing import write_atomic

            write_atomic(ics, to_ics(slots, config, now))
            click.echo(f"wrote {ics}")
    if failed:
        sys.exit(ExitStatus.ERROR)


@cli.command()
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
    from .content import content_files
    from .lix import of_markdown

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
        _table(("LIX", "READABILITY", "PATH"), rows)
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


@cli.command(name="config")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of TOML.")
@pass_env
def show_config(env: Env, as_json: bool) -> None:
    """Print the effective configuration, defaults included.

    \b
    Example:
        blogtool config
    """
    from .config import dump_toml

    data = env.config.as_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(f"# {env.config.path}")
        click.echo(dump_toml(data), nl=False)


# --- publish ----------------------------------------------------------------------------------


def _run_build(
    env: Env, output: Path | None, drafts: bool, future: bool, jobs: int | None, quiet: bool = False
) -> Any:
    from .build import BuildOptions, build, check_output_dir

    config = env.config
    target = check_output_dir(config, output or config.output_dir)
    site = env.load_site(cached=True)
    print_problems(site.warnings)
    site.raise_for_errors()
    options = BuildOptions(
        output=target,
        drafts=drafts,
        future=future,
        **({"jobs": jobs} if jobs else {}),
    )
    bar: Any = None

    def on_start(n: int) -> None:
        nonlocal bar
        if n > 300 and not quiet:
            bar = click.progressbar(length=n, label="Rendering", file=sys.stderr, show_pos=True)
            bar.__enter__()

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    try:
        result = build(site, env.now(), options, on_start=on_start, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    return result


@cli.command(name="build")
@click.option("--drafts", is_flag=True, help="Include drafts, marked as such (for previews).")
@click.option("--future", is_flag=True, help="Include scheduled items, marked (for previews).")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (default: [build] output, 'public').",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@pass_env
def build_site(env: Env, drafts: bool, future: bool, output: Path | None, jobs: int | None) -> None:
    """Build the static site: pages, tag, service and archive pages, RSS and Atom feeds,
    sitemap.xml, robots.txt and 404.html.

    Only published items go in. Only pages whose inputs changed are rendered; a failed build
    leaves the previous output exactly as it was. Feeds never contain drafts or scheduled items.

    \b
    Example:
        blogtool build
        blogtool build --drafts --future --output /tmp/preview
    """
    if (drafts or future) and output is None:
        click.secho(
            "warning: a preview build with drafts or scheduled items is going into the "
            "public output directory; do not deploy it",
            fg="yellow",
            err=True,
        )
    result = _run_build(env, output, drafts, future, jobs)
    click.echo(result.summary())


@cli.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the preview is built (default: .blogtool/preview).",
)
@pass_env
def serve(env: Env, port: int, output: Path | None) -> None:
    """Preview the site on http://127.0.0.1:PORT/, with drafts and scheduled items shown and
    marked, rebuilding whenever a post, tip, template or the config changes.

    \b
    Example:
        blogtool serve --port 8000
    """
    from urllib.parse import urlsplit

    from .serve import Watcher, make_server

    config = env.config
    target = output or (config.state_dir / "preview")

    def rebuild() -> None:
        try:
            env._config = None  # the config itself may have changed
            result = _run_build(env, target, True, True, None, quiet=True)
            click.echo(result.summary(), err=True)
        except BlogtoolError as exc:
            if isinstance(exc, ContentError):
                print_problems(exc.problems)
            click.secho(
                f"Error: {exc if not isinstance(exc, ContentError) else 'content has errors'}; "
                "still serving the last good build",
                fg="red",
                err=True,
            )

    result = _run_build(env, target, True, True, None)
    click.echo(result.summary(), err=True)
    prefix = urlsplit(config.site.base_url).path or "/"
    try:
        server = make_server(target, port, prefix)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; try --port") from None
    watcher = Watcher(config, rebuild)
    watcher.start()
    real_port = server.server_address[1]
    click.echo(
        f"Serving the preview on http://127.0.0.1:{real_port}{prefix} (Ctrl-C stops)", err=True
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        server.server_close()


# --- subscribers --------------------------------------------------------------------------------


def _db(env: Env) -> Any:
    """The state database, closed when the ``with`` block ends."""
    from .store import opened

    return opened(env.config.state_path)


@cli.group()
def subscribers() -> None:
    """Manage newsletter subscribers (stored in the state database).

    \b
    Example:
        blogtool subscribers add anna@example.se --name "Anna Andersson"
        blogtool subscribers import prenumeranter.csv
    """


@subscribers.command(name="add")
@click.argument("email")
@click.option("--name", default="", help="The subscriber's name.")
@click.option("--source", default="cli", show_default=True, help="Where consent was given.")
@pass_env
def subscribers_add(env: Env, email: str, name: str, source: str) -> None:
    """Add EMAIL as an active subscriber, recording when and how consent was given.

    Adding an address that had unsubscribed makes it active again (new consent).

    \b
    Example:
        blogtool subscribers add anna@example.se --name "Anna Andersson" --source "webbformulär"
    """
    from . import subscribers as subs

    with _db(env) as db:
        outcome, subscriber = subs.add(db, email, name, env.now(), source)
    if outcome == "suppressed":
        raise UsageError(
            f"{email} asked to be forgotten; it is on the suppression list and was not added"
        )
    assert subscriber is not None
    click.echo(f"{outcome}: {subscriber.email} ({subscriber.status})")


@subscribers.command(name="remove")
@click.argument("email")
@pass_env
def subscribers_remove(env: Env, email: str) -> None:
    """Unsubscribe EMAIL. The record and its consent history stay; use 'forget' to erase.

    \b
    Example:
        blogtool subscribers remove anna@example.se
    """
    from . import subscribers as subs

    with _db(env) as db:
        subscriber = subs.remove(db, email, env.now())
    click.echo(f"unsubscribed: {subscriber.email}")


@subscribers.command(name="list")
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced"]))
@click.option("--json", "as_json", is_flag=True, help="JSON, one object per subscriber.")
@pass_env
def subscribers_list(env: Env, status: str | None, as_json: bool) -> None:
    """List subscribers: address, name, status and consent.

    \b
    Example:
        blogtool subscribers list --status active
        blogtool subscribers list --json
    """
    from dataclasses import asdict

    from . import subscribers as subs

    with _db(env) as db:
        rows = subs.listing(db, status)
    if as_json:
        click.echo(json.dumps([asdict(s) for s in rows], ensure_ascii=False, indent=2))
        return
    _table(
        ("EMAIL", "NAME", "STATUS", "CONSENT", "SOURCE"),
        [(s.email, _clip(s.name, 30), s.status, s.consent_at, s.consent_source) for s in rows],
    )


@subscribers.command(name="count")
@pass_env
def subscribers_count(env: Env) -> None:
    """Count subscribers by status.

    \b
    Example:
        blogtool subscribers count
    """
    from . import subscribers as subs

    with _db(env) as db:
        counts = subs.counts(db)
    click.echo(
        f"{counts['active']} active, {counts['unsubscribed']} unsubscribed, "
        f"{counts['bounced']} bounced"
    )


@subscribers.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_env
def subscribers_import(env: Env, file: Path) -> None:
    """Import subscribers from a CSV file with the columns email,name.

    Invalid rows are reported with their line numbers and skipped; they never stop the import.
    Addresses already there are left as they are; forgotten addresses are not added back.

    \b
    Example:
        blogtool subscribers import prenumeranter.csv
    """
    from . import subscribers as subs

    with _db(env) as db:
        report = subs.import_csv(db, file, env.now())
    assert report.invalid is not None
    for line, problem in report.invalid:
        click.secho(f"{file}:{line}: {problem}", fg="red", err=True)
    click.echo(
        f"{report.added} added, {report.existing} already there, "
        f"{report.suppressed} suppressed, {len(report.invalid)} invalid"
    )
    if report.invalid:
        sys.exit(ExitStatus.ERROR)


@subscribers.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_env
def subscribers_export(env: Env, file: Path) -> None:
    """Write every subscriber to a CSV file (email, name, status, consent_at, consent_source).

    \b
    Example:
        blogtool subscribers export prenumeranter.csv
    """
    from . import subscribers as subs
    from .editing import write_atomic

    with _db(env) as db:
        data = subs.export_csv(db)
    write_atomic(file, data)
    count = data.count(b"\n") - 1
    click.echo(f"wrote {count} subscribers to {file}")


@subscribers.command(name="show")
@click.argument("email")
@pass_env
def subscribers_show(env: Env, email: str) -> None:
    """Print everything stored about one subscriber (for a GDPR access request).

    \b
    Example:
        blogtool subscribers show anna@example.se
    """
    from dataclasses import asdict

    from . import subscribers as subs

    with _db(env) as db:
        subscriber = subs.require(db, email)
        deliveries = subs.deliveries_of(db, subscriber.id)
    for key, value in asdict(subscriber).items():
        click.echo(f"{key}: {value if value is not None else ''}")
    click.echo(f"deliveries: {len(deliveries)}")
    for d in deliveries:
        click.echo(
            f"  issue {d['issue_id']}: {d['status']}, {d['attempts']} attempts"
            + (f", sent {d['sent_at']}" if d["sent_at"] else "")
            + (f", message {d['message_id']}" if d["message_id"] else "")
            + (f", last error: {d['last_error']}" if d["last_error"] else "")
        )


@subscribers.command(name="forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def subscribers_forget(env: Env, email: str, yes: bool) -> None:
    """Erase EMAIL (GDPR right to erasure): the subscriber and the address on past deliveries.

    Only a hash stays, in a suppression list, so a later import cannot add them back.

    \b
    Example:
        blogtool subscribers forget anna@example.se --yes
    """
    from . import subscribers as subs

    if not yes and sys.stdin.isatty():
        click.confirm(f"Erase everything stored about {email}?", abort=True)
    with _db(env) as db:
        erased = subs.forget(db, email, env.now())
    click.echo(f"forgotten: {email} (address removed from {erased} deliveries; hash suppressed)")


# --- newsletter ----------------------------------------------------------------------------------


@cli.group()
def newsletter() -> None:
    """Compile, preview and send the weekly newsletter.

    \b
    Example:
        blogtool newsletter build
        blogtool newsletter send --test-to redaktion@example.se
        blogtool newsletter send
    """


@newsletter.command(name="build")
@click.option("--since", help="Include items published after this time (ISO 8601).")
@pass_env
def newsletter_build(env: Env, since: str | None) -> None:
    """Compile every tip published since the last issue into a new issue.

    Posts go in too when [newsletter] include_posts is true. The first issue looks back one
    week. With nothing new it makes no issue, says so and exits 0.

    \b
    Example:
        blogtool newsletter build
        blogtool newsletter build --since 2026-11-01
    """
    from .newsletter import compile_issue, save_issue
    from .timeutil import parse_when

    site = env.load_site()
    print_problems(site.warnings)
    site.raise_for_errors()
    now = env.now()
    since_at = None
    if since:
        try:
            since_at = parse_when(since, env.config.site.timezone)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
    with _db(env) as db:
        draft = compile_issue(site, db, now, since_at)
        if draft is None:
            click.echo("Nothing new since the last issue; no issue was made.")
            return
        issue = save_issue(db, draft, now)
    click.echo(f"issue {issue.id}: {issue.subject} ({len(issue.items)} items)")
    for path in issue.items:
        click.echo(f"  {path}")


@newsletter.command(name="list")
@pass_env
def newsletter_list(env: Env) -> None:
    """Show each issue with its delivery counts.

    \b
    Example:
        blogtool newsletter list
    """
    from .newsletter import delivery_counts, issues

    with _db(env) as db:
        rows = []
        for issue in issues(db):
            c = delivery_counts(db, issue.id)
            state = "sent" if issue.completed_at else ("sending" if issue.frozen_at else "ready")
            rows.append(
                (
                    str(issue.id),
                    issue.created_at[:16].replace("T", " "),
                    state,
                    str(c["queued"] + c["sending"]),
                    str(c["sent"]),
                    str(c["failed"]),
                    str(c["skipped"]),
                    _clip(issue.subject, 50),
                )
            )
    if not rows:
        click.echo("No issues yet; 'blogtool newsletter build' makes one.")
        return
    _table(
        ("ISSUE", "CREATED (UTC)", "STATE", "QUEUED", "SENT", "FAILED", "SKIPPED", "SUBJECT"), rows
    )


def _pick_issue(db: Any, issue_id: int | None) -> Any:
    from .newsletter import get_issue, last_issue, unfinished_issue

    if issue_id is not None:
        return get_issue(db, issue_id)
    return unfinished_issue(db) or last_issue(db)


@newsletter.command(name="preview")
@click.argument("issue_id", metavar="[ISSUE]", type=int, required=False)
@click.option("--open", "open_browser", is_flag=True, help="Also open the HTML in a browser.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (default: .blogtool/preview).",
)
@pass_env
def newsletter_preview(
    env: Env, issue_id: int | None, open_browser: bool, output: Path | None
) -> None:
    """Write an issue's HTML and text parts to files, as a subscriber would see them.

    ISSUE defaults to the newest unsent issue (else the newest).

    \b
    Example:
        blogtool newsletter preview --open
        blogtool newsletter preview 3
    """
    from .editing import write_atomic
    from .newsletter import UNSUBSCRIBE_PLACEHOLDER

    with _db(env) as db:
        issue = _pick_issue(db, issue_id)
    if issue is None:
        raise UsageError("no newsletter issue yet; run 'blogtool newsletter build' first")
    directory = output or env.config.state_dir / "preview"
    sample = env.config.newsletter.unsubscribe_url + "?t=exempel"
    html_path = directory / f"newsletter-{issue.id}.html"
    text_path = directory / f"newsletter-{issue.id}.txt"
    write_atomic(html_path, issue.html.replace(UNSUBSCRIBE_PLACEHOLDER, sample).encode("utf-8"))
    write_atomic(text_path, issue.text.replace(UNSUBSCRIBE_PLACEHOLDER, sample).encode("utf-8"))
    click.echo(f"issue {issue.id}: {issue.subject}")
    click.echo(str(html_path))
    click.echo(str(text_path))
    if open_browser:
        click.launch(str(html_path))


def _transport(env: Env) -> Any:
    from .sender import OutboxTransport, SmtpTransport

    config = env.config
    if config.smtp is None:
        return OutboxTransport(config.outbox_dir)
    return SmtpTransport(config.smtp, _smtp_password(env))


def _smtp_password(env: Env) -> str | None:
    smtp = env.config.smtp
    assert smtp is not None
    if smtp.user is None:
        return None  # a local relay: no login
    password = os.environ.get("BLOGTOOL_SMTP_PASSWORD")
    if password:
        return password
    account = f"{smtp.user}@{smtp.host}"
    try:
        import keyring

        password = keyring.get_password("blogtool", account)
    except Exception:  # no keyring backend on this machine
        password = None
    if password:
        return password
    if sys.stdin.isatty():
        return click.prompt(f"SMTP password for {account}", hide_input=True)
    raise UsageError(
        f"no SMTP password for {account}: set BLOGTOOL_SMTP_PASSWORD, or store it with "
        f"'keyring set blogtool {account}'"
    )


@newsletter.command(name="send")
@click.argument("issue_id", metavar="[ISSUE]", type=int, required=False)
@click.option("--test-to", metavar="ADDR", help="Send one copy to ADDR only; nothing is recorded.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; change nothing.")
@click.option(
    "--rate",
    type=click.IntRange(0),
    help="Messages per minute (default: [newsletter] rate, 0 = no limit).",
)
@click.option(
    "--resend-uncertain",
    is_flag=True,
    help="Also resend deliveries an interrupted run left unconfirmed.",
)
@click.option(
    "--accept-uncertain",
    is_flag=True,
    help="Count deliveries an interrupted run left unconfirmed as delivered.",
)
@pass_env
def newsletter_send(
    env: Env,
    issue_id: int | None,
    test_to: str | None,
    dry_run: bool,
    rate: int | None,
    resend_uncertain: bool,
    accept_uncertain: bool,
) -> None:
    """Send an issue to every active subscriber, each their own message.

    ISSUE defaults to the oldest issue not yet sent to everyone. Recipients are fixed when the
    send starts; an interrupted send resumes where it stopped, and nobody gets it twice. With no
    [smtp] in blogtool.toml, messages are written to the outbox folder as .eml files.

    \b
    Example:
        blogtool newsletter send --test-to redaktion@example.se
        blogtool newsletter send --dry-run
        blogtool newsletter send --rate 600
    """
    from . import subscribers as subs
    from .mailer import MessageFactory, envelope_sender
    from .sender import send_test
    from .tokens import secret_from_env

    config = env.config
    secret = secret_from_env()
    with _db(env) as db:
        issue = _pick_issue(db, issue_id)
        if issue is None:
            raise UsageError("no newsletter issue yet; run 'blogtool newsletter build' first")
        if test_to:
            try:
                address = subs.normalize(test_to)
            except subs.InvalidAddress as exc:
                raise UsageError(f"--test-to: {exc}") from None
            factory = MessageFactory(config, issue, secret, test=True)
            message_id = send_test(
                factory, _transport(env), envelope_sender(config), address, env.now()
            )
            click.echo(f"test of issue {issue.id} sent to {address} ({message_id})")
            return
        if issue.completed_at and issue_id is None:
            click.echo(f"Nothing to send: issue {issue.id} went out on {issue.completed_at}.")
            return
        if dry_run:
            _dry_run(env, db, issue, secret)
            return
        transport = _transport(env)
        if resend_uncertain and accept_uncertain:
            raise UsageError("choose one of --resend-uncertain and --accept-uncertain")
        report = _send_queued(
            env, db, issue, secret, transport, rate, resend_uncertain, accept_uncertain
        )
    _print_send_report(issue.id, report, transport.description)
    if report.failed or report.uncertain or report.stopped:
        sys.exit(ExitStatus.ERROR)


def _send_queued(
    env: Env,
    db: Any,
    issue: Any,
    secret: bytes,
    transport: Any,
    rate: int | None = None,
    resend_uncertain: bool = False,
    accept_uncertain: bool = False,
) -> Any:
    """Send ``issue`` through the durable queue under the site's send lock. The first Ctrl-C
    or SIGTERM finishes the current message and stops cleanly; a second stops at once."""
    import signal
    import time

    from .mailer import MessageFactory, envelope_sender
    from .sender import Pacing, send_issue
    from .store import exclusive_lock

    config = env.config
    stop = {"requested": False}

    def graceful(signum: int, frame: Any) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True
        click.echo("\nStopping after the current message (again to stop at once) ...", err=True)

    factory = MessageFactory(config, issue, secret)
    pacing = Pacing(
        now=env.now, clock=time.time, sleep=time.sleep, should_stop=lambda: stop["requested"]
    )
    bar: Any = None
    started = time.monotonic()

    def progress(report: Any) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return  # under cron: the summary line is enough
        done = report.sent + report.failed + report.skipped
        if bar is None:
            bar = click.progressbar(
                length=report.total, label=f"Issue {issue.id}", file=sys.stderr, show_pos=True
            )
            bar.__enter__()
        rate_now = report.sent / max(time.monotonic() - started, 1e-6)
        bar.label = f"{report.sent} sent, {report.failed} failed, {rate_now:.0f}/s"
        bar.update(done - bar.pos)

    previous = {s: signal.signal(s, graceful) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with exclusive_lock(config.state_dir / "send.lock", "a newsletter send for this site"):
            smtp = config.smtp
            return send_issue(
                db,
                issue,
                factory,
                transport,
                envelope_sender(config),
                pacing,
                rate=config.newsletter.rate if rate is None else rate,
                max_attempts=smtp.max_attempts if smtp else 1,
                retry_delay=smtp.retry_delay if smtp else 0.0,
                resend_uncertain=resend_uncertain,
                accept_uncertain=accept_uncertain,
                progress=progress,
            )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_send_report(issue_id: int, report: Any, where: str) -> None:
    for address, error in report.failures:
        click.secho(f"failed: {address}: {error}", fg="red", err=True)
    for line in report.uncertain:
        click.secho(
            f"uncertain: {line} was being sent when an earlier run stopped; it may or may not "
            "have arrived. Resend with --resend-uncertain, or count it as delivered with "
            "--accept-uncertain.",
            fg="yellow",
            err=True,
        )
    if report.stopped:
        click.secho(
            f"stopped: {report.remaining} deliveries remain queued; run send again to finish",
            fg="yellow",
            err=True,
        )
    click.echo(f"Issue {issue_id} via {where}: {report.summary()}.")


def _dry_run(env: Env, db: Any, issue: Any, secret: bytes) -> None:
    from .mailer import MessageFactory, Recipient

    if issue.frozen_at:
        rows = db.execute(
            "SELECT d.id, d.subscriber_id, d.email, s.name FROM deliveries d "
            "LEFT JOIN subscribers s ON s.id = d.subscriber_id "
            "WHERE d.issue_id = ? AND d.status = 'queued' ORDER BY d.id",
            (issue.id,),
        ).fetchall()
    else:
        rows = db.execute(
            "SELECT 0 AS id, id AS subscriber_id, email, name FROM subscribers "
            "WHERE status = 'active' ORDER BY id"
        ).fetchall()
    click.echo(f"issue {issue.id}: {issue.subject}")
    click.echo(
        f"would send {len(rows)} messages via {_transport_description(env)}; nothing was changed"
    )
    if rows:
        factory = MessageFactory(env.config, issue, secret)
        r = rows[0]
        recipient = Recipient(r["id"], r["subscriber_id"], r["email"], r["name"] or "")
        data = factory.render(recipient, factory.message_id(recipient), env.now())
        head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        click.echo("first message's headers:")
        click.echo("  " + head.replace("\r\n", "\n  "))


def _transport_description(env: Env) -> str:
    smtp = env.config.smtp
    if smtp is None:
        return f"the outbox folder {env.config.outbox_dir}"
    return f"{smtp.host}:{smtp.port} ({smtp.security})"


# --- unattended ---------------------------------------------------------------------------------


def _run_logger(env: Env, quiet: bool) -> Any:
    """One line per action: to stderr (only errors with --quiet) and to [run] log_file."""
    import logging

    logger = logging.getLogger("blogtool.run")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)

    class Stamped(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            stamp = env.now().isoformat(timespec="seconds")
            return f"{stamp} blogtool run: {record.levelname.lower()}: {record.getMessage()}"

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.ERROR if quiet else logging.INFO)
    console.setFormatter(Stamped())
    logger.addHandler(console)
    path = env.config.log_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(Stamped())
        logger.addHandler(handler)
    return logger


@cli.command(name="run")
@click.option(
    "--quiet", "-q", is_flag=True, help="Print only errors (for cron, which mails output)."
)
@pass_env
def run_job(env: Env, quiet: bool) -> None:
    """The scheduled job: publish what has become due and send the newsletter, each once.

    It rebuilds the site when an item has become due or content changed, finishes an
    interrupted send, and when a tip's send time has come builds the week's issue and sends it
    (late rather than never, if the machine was off). Safe to run every few minutes: a second
    copy started while one runs does nothing.

    \b
    Example:
        blogtool run
        */5 * * * * cd /srv/kommunbloggen && .venv/bin/blogtool run --quiet
    """
    from .build import BuildOptions, build, check_output_dir
    from .errors import LockedError
    from .runner import run_once
    from .store import exclusive_lock, set_state, utc_now_iso
    from .tokens import SecretMissing, secret_from_env

    log = _run_logger(env, quiet)
    config = env.config
    try:
        with exclusive_lock(config.state_dir / "run.lock", "a blogtool run for this site"):
            now = env.now()
            output = check_output_dir(config, config.output_dir)
            site = env.load_site(cached=True)
            for problem in site.problems:
                (log.error if problem.is_error else log.warning)(str(problem))
            if site.errors:
                log.error("content has errors; nothing was published or sent")
                sys.exit(ExitStatus.ERROR)
            try:
                secret: bytes | None = secret_from_env()
            except SecretMissing:
                secret = None
            with _db(env) as db:
                result = run_once(
                    site,
                    db,
                    now,
                    output=output,
                    build=lambda: build(site, now, BuildOptions(output=output)),
                    send=(
                        (lambda issue: _send_queued(env, db, issue, secret, _transport(env)))
                        if secret is not None
                        else None
                    ),
                )
                for level, message in result.log:
                    getattr(log, level)(message)
                set_state(db, "run.at", utc_now_iso(now), now)
                set_state(
                    db, "run.error", "\n".join(m for lv, m in result.log if lv == "error"), now
                )
    except LockedError as exc:
        log.info(f"{exc}; this run does nothing")
        return
    except BlogtoolError as exc:
        log.error(str(exc))
        _remember_error(env, str(exc))
        sys.exit(int(exc.exit_code))
    if result.failed:
        sys.exit(ExitStatus.ERROR)


def _remember_error(env: Env, message: str) -> None:
    from .store import set_state

    try:
        with _db(env) as db:
            set_state(db, "run.error", message, env.now())
    except BlogtoolError:
        pass


@cli.command()
@pass_env
def status(env: Env) -> None:
    """What is published, what is due next and when, the last build and send, what failed.

    \b
    Example:
        blogtool status
    """
    from .content import Kind, Status
    from .dates import short_datetime
    from .newsletter import delivery_counts, issues
    from .runner import next_due, site_fingerprint
    from .sender import uncertain_rows
    from .store import get_state

    config = env.config
    lang = config.site.language
    now = env.now()
    site = env.load_site()
    published = [i for i in site.items if i.status(now) is Status.PUBLISHED]
    scheduled = sorted(
        (i for i in site.items if i.status(now) is Status.SCHEDULED), key=lambda i: i.date or now
    )
    drafts = [i for i in site.items if i.status(now) is Status.DRAFT]
    posts = sum(1 for i in published if i.kind is Kind.POST)
    click.echo(f"{config.site.title} ({config.root}), now {short_datetime(now, lang)}")
    click.echo(
        f"published: {posts} posts, {len(published) - posts} tips; "
        f"{len(scheduled)} scheduled, {len(drafts)} drafts"
    )
    if published:
        newest = max(published, key=lambda i: i.date or now)
        when = short_datetime(newest.date or now, lang)
        click.echo(f"  newest: {newest.title} ({newest.kind.value}, {when})")
    with _db(env) as db:
        due = next_due(site, db, now)
        if scheduled:
            first = scheduled[0]
            first_at = first.date or now  # scheduled items always have a date
            click.echo(
                f"next due: {first.title} ({first.kind.value}) {short_datetime(first_at, lang)}, "
                f"in {_duration(first_at - now)}"
            )
        else:
            click.echo("next due: nothing scheduled")
        if due is not None:
            label = "now (run has work waiting)" if due <= now else short_datetime(due, lang)
            click.echo(f"next run with work: {label}")
        build_at = get_state(db, "build.at")
        if build_at:
            fresh = get_state(db, "build.fingerprint") == site_fingerprint(site, now)
            when = short_datetime(dt.datetime.fromisoformat(build_at).astimezone(now.tzinfo), lang)
            click.echo(
                f"last build: {when}: {get_state(db, 'build.summary')} "
                f"({'up to date' if fresh else 'changes waiting'})"
            )
        else:
            click.echo("last build: never (by blogtool run)")
        all_issues = issues(db)
        if all_issues:
            last = all_issues[-1]
            c = delivery_counts(db, last.id)
            state = "sent" if last.completed_at else ("sending" if last.frozen_at else "not sent")
            waiting = c["queued"] + c["sending"]
            click.echo(
                f"last newsletter: issue {last.id} ({state}) {last.subject}: {c['sent']} sent, "
                f"{c['failed']} failed, {c['skipped']} skipped, {waiting} waiting"
            )
        else:
            click.echo("last newsletter: none yet")
        problems = [str(p) for p in site.errors]
        for issue in all_issues:
            c = delivery_counts(db, issue.id)
            if c["failed"]:
                problems.append(f"issue {issue.id}: {c['failed']} deliveries failed")
            if uncertain_rows(db, issue.id):
                problems.append(f"issue {issue.id}: unconfirmed deliveries; see --resend-uncertain")
        run_error = get_state(db, "run.error")
        if run_error:
            problems.append(f"last run ({get_state(db, 'run.at')}): {run_error}")
    if problems:
        click.echo("problems:")
        for line in problems:
            click.echo(f"  {line}")
    else:
        click.echo("problems: none")


def _duration(delta: dt.timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@cli.command(name="next")
@click.option(
    "--format", "fmt", type=click.Choice(["iso", "seconds"]), default="iso", show_default=True
)
@pass_env
def next_command(env: Env, fmt: str) -> None:
    """Print the next moment 'blogtool run' has something to do (now, if it has work waiting).

    For schedulers that wake exactly then. Exits 1, printing nothing, if nothing is scheduled.

    \b
    Example:
        blogtool next
        sleep "$(blogtool next --format seconds)" && blogtool run
    """
    import math

    from .runner import next_due

    site = env.load_site()
    now = env.now()
    with _db(env) as db:
        due = next_due(site, db, now)
    if due is None:
        click.echo("nothing is scheduled", err=True)
        sys.exit(ExitStatus.ERROR)
    if fmt == "seconds":
        click.echo(str(max(0, math.ceil((due - now).total_seconds()))))
    else:
        click.echo(max(due, now).isoformat())


# --- unsubscribe --------------------------------------------------------------------------------


@cli.group()
def unsubscribe() -> None:
    """The other end of the unsubscribe links in every newsletter.

    \b
    Example:
        blogtool unsubscribe serve --port 8025
        blogtool unsubscribe token 12.XObguYuy8YWk-Rs7mU0IVqyY
    """


@unsubscribe.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@pass_env
def unsubscribe_serve(env: Env, host: str, port: int) -> None:
    """Answer [newsletter] unsubscribe_url: one-click POSTs from mail clients (RFC 8058)
    unsubscribe at once; a person who follows the link gets a page with a button.

    Run it behind the site's web server, which terminates https and passes the
    unsubscribe path here (nginx: location /avregistrera { proxy_pass http://127.0.0.1:8025; }).

    \b
    Example:
        blogtool unsubscribe serve --port 8025
    """
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from .tokens import secret_from_env
    from .unsubscribe import make_app

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # no subscriber data in logs

    class Threaded(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    app = make_app(env.config, secret_from_env(), env.now)
    try:
        server = make_server(host, port, app, server_class=Threaded, handler_class=Quiet)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; try --port") from None
    click.echo(
        f"Answering unsubscribe requests on http://{host}:{server.server_port}/ (Ctrl-C stops)",
        err=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@unsubscribe.command(name="token")
@click.argument("token")
@pass_env
def unsubscribe_token(env: Env, token: str) -> None:
    """Unsubscribe the person a TOKEN belongs to, for requests that arrive by mail (the
    List-Unsubscribe mailto puts the token in the subject).

    \b
    Example:
        blogtool unsubscribe token 12.XObguYuy8YWk-Rs7mU0IVqyY
    """
    from .tokens import secret_from_env
    from .unsubscribe import unsubscribe as do_unsubscribe

    token = token.strip().removeprefix("unsubscribe").strip()
    with _db(env) as db:
        outcome = do_unsubscribe(db, secret_from_env(), token, env.now(), "mailto request")
    if outcome.status == "invalid":
        raise UsageError(
            "the token is not valid for any subscriber (altered, or the secret changed)"
        )
    click.echo(f"{outcome.status}: {outcome.email}")
