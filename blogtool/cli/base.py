"""The command line, shared part: the group, its environment, domain errors turned into one clear
line and an exit code, and small output helpers. The commands live beside this module, one module
per concern; importing the ``blogtool.cli`` package registers them all.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blogtool.errors import BlogtoolError, ContentError, Problem, UsageError

if TYPE_CHECKING:
    from blogtool.config import Config
    from blogtool.content.model import Site

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
            from blogtool.config import find_root, load_config

            root = self.site_option.resolve() if self.site_option else find_root(Path.cwd())
            self._config = load_config(root)
        return self._config

    def now(self) -> dt.datetime:
        """The one place that reads the clock; ``BLOGTOOL_NOW`` pins it for rehearsals and tests."""
        from blogtool.timeutil import parse_now

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
        from blogtool.content.load import load_site

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


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def state_db(env: Env) -> Any:
    """The state database, closed when the ``with`` block ends."""
    from blogtool.store import opened

    return opened(env.config.state_path)
