"""Publishing: build and the preview server."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blogtool.errors import BlogtoolError, ContentError, UsageError
from blogtool.i18n import _

from .base import Env, pass_env, print_problems

if TYPE_CHECKING:
    from blogtool.config import Config
    from blogtool.site.output import BuildResult

# --- publish ----------------------------------------------------------------------------------


def _run_build(
    env: Env,
    output: Path | None,
    drafts: bool,
    future: bool,
    jobs: int | None,
    quiet: bool = False,
    serving: bool = False,
    search_later: bool = False,
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
            return _owed_index(config, same, search_later)
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
            output=target,
            drafts=drafts,
            future=future,
            search_later=search_later,
            **({"jobs": jobs} if jobs else {}),
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


def _owed_index(config: Config, result: BuildResult, search_later: bool) -> BuildResult:
    """A build with nothing to write still makes the search index that a stopped build or
    index process left owed, unless a process is making it: in this process, or (a big site,
    ``search_later``) in one of its own, as a build that wrote pages would."""
    from blogtool.site.output import index_left_owed

    if not index_left_owed(config):
        return result
    if search_later and 0 < config.build.search_background <= result.total:
        import dataclasses

        return dataclasses.replace(result, search_later=True)
    from blogtool.site.build import index_search

    index_search(config, result.output)
    return result


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
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the search index even on a big site (a script that copies the site next).",
)
@pass_env
def build_site(
    env: Env,
    drafts: bool,
    future: bool,
    output: Path | None,
    jobs: int | None,
    rollback: bool,
    wait: bool,
) -> None:
    """Build the static site: pages, tag, service, archive and year pages, RSS and Atom feeds,
    pictures made for the web, the search index, sitemap.xml, robots.txt and 404.html.

    Only published items go in. Only pages whose inputs changed are rendered, and a picture
    is made once; with no source changed and nothing come due, the build stops at once. The
    output is a link to a complete release, switched in one step, so a failed or killed build
    leaves the previous site exactly as it was. Feeds never contain drafts or scheduled items.

    The search index is made once the changed pages are live. On a site of [build]
    search_background pages or more (1000), the build returns then and the index follows in
    a process of its own (its log: .blogtool/search.log); --wait waits for it.

    \b
    Example:
        blogtool build
        blogtool build --wait && rsync -a --delete public/ www@webb.example.se:/var/www/blogg/
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
    result = _run_build(env, output, drafts, future, jobs, search_later=not wait)
    click.echo(result.summary())
    if result.search_later:
        _index_in_background(env, result.output)


def _index_in_background(env: Env, output: Path) -> None:
    """Start ``blogtool search-index`` in a session of its own, its output appended to the
    search log, and say so; it outlives this command."""
    import subprocess

    from blogtool.files import private_dir
    from blogtool.site import search

    log = search.log_path(env.config)
    private_dir(log.parent)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "blogtool", "--site", str(env.config.root), "search-index",
             "--output", str(output)],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(fd)
    click.echo(
        _("The search index follows in process {pid} (its log: {log}).").format(
            pid=child.pid, log=log
        )
    )


def _own_peak_kib() -> int:
    """This process's peak resident memory since it started, in KiB. Linux's ru_maxrss carries
    over the peak of the process it was forked from (a build of thousands of pages), so the
    kernel's own count for this program is read where there is one."""
    import resource

    from blogtool.files import process_status

    peak = process_status("VmHWM")  # (in kB)
    return int(peak) if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@click.command(name="search-index")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="The built site (default: [build] output, 'public').",
)
@pass_env
def search_index(env: Env, output: Path | None) -> None:
    """Make the live site's search index, if a build left one owed. A build of a big site
    starts this itself once its pages are live, and the next build or run makes an index a
    stopped one left owed; run it by hand not to wait for those. One runs at a time: a second
    waits for the first, then finds nothing owed or what a build meanwhile owes.

    \b
    Example:
        blogtool search-index
    """
    import resource
    import time

    from blogtool.site.build import index_search
    from blogtool.site.output import check_output_dir

    target = check_output_dir(env.config, output or env.config.output_dir)
    started = time.monotonic()
    if index_search(env.config, target):
        # (in KiB: the largest of this process and of Pagefind's)
        peak = max(_own_peak_kib(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        click.echo(
            _(
                "{target}: the search index is made again in {seconds:.1f} s (at most {mb} MB "
                "in one process)"
            ).format(target=target, seconds=time.monotonic() - started, mb=peak // 1024)
        )
    else:
        click.echo(_("{target}: no search index was owed").format(target=target))


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


COMMANDS = {"build": build_site, "serve": serve, "search-index": search_index}
