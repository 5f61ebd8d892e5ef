"""Publishing: build and the preview server."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from blogtool.errors import BlogtoolError, ContentError, UsageError
from blogtool.i18n import _

from .base import Env, pass_env, print_problems

# --- publish ----------------------------------------------------------------------------------


def _run_build(
    env: Env,
    output: Path | None,
    drafts: bool,
    future: bool,
    jobs: int | None,
    quiet: bool = False,
    serving: bool = False,
) -> Any:
    from blogtool.site.incremental.fastway import unchanged
    from blogtool.site.incremental.snapshot import snapshot
    from blogtool.site.output import BuildOptions, Overlap, check_output_dir

    config = env.config
    target = check_output_dir(config, output or config.output_dir)
    stats: dict[str, os.stat_result] = {}
    seen = snapshot(config, stats)  # before anything is read: a change meanwhile is seen next time
    if not (drafts or future):
        same = unchanged(config, target, seen, env.now())
        if same is not None:
            return same
    bar: Any = None
    overlap = Overlap(config, drafts or future)
    try:
        site = env.load_site(cached=True, to_the_end=not serving, seen=stats, overlap=overlap)
        from blogtool.site.build import build  # the renderer, only with work to do

        blocking = site.blocking(env.now())
        print_problems([p for p in site.problems if p not in blocking])
        if blocking:
            raise ContentError(blocking)
        options = BuildOptions(
            output=target, drafts=drafts, future=future, **({"jobs": jobs} if jobs else {})
        )

        def on_start(n: int) -> None:
            nonlocal bar
            if n > 300 and not quiet:
                bar = click.progressbar(length=n, label="Rendering", file=sys.stderr, show_pos=True)
                bar.__enter__()

        def progress(n: int) -> None:
            if bar is not None:
                bar.update(n)

        from blogtool.store import site_lock

        # The public site is built by one process at a time (a manual build, a scheduled run).
        public = target == config.output_dir
        with site_lock(config.state_dir, "build") if public else contextlib.nullcontext():
            return build(
                site,
                env.now(),
                options,
                on_start=on_start,
                progress=progress,
                seen=seen,
                environment=overlap.env,
                meanwhile=overlap.finish,
            )
    finally:
        overlap.finish()
        if bar is not None:
            bar.__exit__(None, None, None)


@click.command(name="build")
@click.option("--drafts", is_flag=True, help="Include drafts, marked as such (for previews).")
@click.option("--future", is_flag=True, help="Include scheduled items, marked (for previews).")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (default: [build] output, 'public').",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option(
    "--rollback", is_flag=True, help="Serve the previous build again instead of building."
)
@pass_env
def build_site(
    env: Env, drafts: bool, future: bool, output: Path | None, jobs: int | None, rollback: bool
) -> None:
    """Build the static site: pages, tag, service, archive and year pages, RSS and Atom feeds,
    pictures made for the web, the search index, sitemap.xml, robots.txt and 404.html.

    Only published items go in. Only pages whose inputs changed are rendered, and a picture
    is made once; with no source changed and nothing come due, the build stops at once. The
    output is a link to a complete release, switched in one step, so a failed or killed build
    leaves the previous site exactly as it was. Feeds never contain drafts or scheduled items.

    \b
    Example:
        blogtool build
        blogtool build --drafts --future --output /tmp/preview
        blogtool build --rollback
    """
    if rollback:
        from blogtool.site.build import rollback as roll_back

        target = output or env.config.output_dir
        click.echo(
            _("{target} serves {name} again").format(
                target=target, name=roll_back(env.config, target).name
            )
        )
        return
    if drafts or future:
        from blogtool.site.output import refuse_public_preview

        refuse_public_preview(env.config, output or env.config.output_dir)
    result = _run_build(env, output, drafts, future, jobs)
    click.echo(result.summary())


@click.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 lets a phone on the same network see the preview "
    "(drafts included).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the preview is built (default: .blogtool/preview).",
)
@pass_env
def serve(env: Env, port: int, host: str, output: Path | None) -> None:
    """Preview the site on http://127.0.0.1:PORT/, with drafts and scheduled items shown and
    marked, rebuilding whenever a post, tip, template or the config changes.

    \b
    Example:
        blogtool serve --port 8000
        blogtool serve --host 0.0.0.0   # and open http://THIS-MACHINE:8000/ on the phone
    """
    from urllib.parse import urlsplit

    from blogtool.files import loopback
    from blogtool.site.serve import Watcher, make_server

    config = env.config
    target = output or (config.state_dir / "preview")

    def rebuild() -> None:
        try:
            env.reload_config()  # the config itself may have changed
            result = _run_build(env, target, True, True, None, quiet=True, serving=True)
            click.echo(result.summary(), err=True)
        except BlogtoolError as exc:
            if isinstance(exc, ContentError):
                print_problems(exc.problems)
            click.secho(
                _("Error: {value}; still serving the last good build").format(
                    value=exc if not isinstance(exc, ContentError) else "content has errors"
                ),
                fg="red",
                err=True,
            )

    result = _run_build(env, target, True, True, None, serving=True)
    click.echo(result.summary(), err=True)
    prefix = urlsplit(config.site.base_url).path or "/"
    try:
        server = make_server(target, port, prefix, host)
    except OSError as exc:
        raise UsageError(
            _("cannot listen on {host}:{port}: {strerror}; try --port").format(
                host=host, port=port, strerror=exc.strerror
            )
        ) from None
    if not loopback(host):
        click.secho(
            _(
                "warning: listening on {host}: anyone on this network can see the preview, "
                "drafts and scheduled items included"
            ).format(host=host),
            fg="yellow",
            err=True,
        )
    watcher = Watcher(config, rebuild)
    watcher.start()
    real_port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        _("Serving the preview on http://{host}:{real_port}{prefix} (Ctrl-C stops)").format(
            host=shown, real_port=real_port, prefix=prefix
        ),
        err=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        server.server_close()


COMMANDS = {"build": build_site, "serve": serve}
