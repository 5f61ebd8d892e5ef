"""The command line: parse options, call the core, turn domain errors into one clear line.

No business rule lives here. Heavy libraries are imported inside the commands that need them, so
``blogtool --help`` and ``blogtool list`` start instantly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
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
        if pinned:
            try:
                now = parse_now(pinned)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        else:
            now = dt.datetime.now(dt.UTC)
        return now.astimezone(self.config.site.timezone)

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


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
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
    server = make_server(target, port, prefix)
    watcher = Watcher(config, rebuild)
    watcher.start()
    host, real_port = server.server_address[:2]
    click.echo(f"Serving the preview on http://{host}:{real_port}{prefix} (Ctrl-C stops)", err=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        server.server_close()
