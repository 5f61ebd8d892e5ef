"""The command line, shared part: the group (which loads a command's module only when that
command runs), domain errors turned into one clear line and an exit code, and small output
helpers. No business rule, SQL or environment lookup lives in the command modules.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from blogtool.cli.env import Env, language_for_click, speak_the_users_language
from blogtool.errors import BlogtoolError, ContentError, ExitStatus, Problem
from blogtool.i18n import _, ngettext

if TYPE_CHECKING:
    from blogtool.delivery.dispatch import SendOptions
    from blogtool.delivery.pacing import SendReport
    from blogtool.delivery.transports import Transport
    from blogtool.newsletter.issues import Issue

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Every command and the module that defines it. A command's module is imported only when the
# command runs (or its help is shown), so 'blogtool --help' stays fast.
COMMANDS = {
    "init": "write",
    "new": "write",
    "schedule": "write",
    "unschedule": "write",
    "list": "review",
    "calendar": "review",
    "check": "review",
    "fields": "review",
    "config": "review",
    "build": "publish",
    "serve": "publish",
    "search-index": "publish",
    "subscribers": "subscribers",
    "newsletter": "newsletter",
    "unsubscribe": "subscribers",
    "web": "web",
    "bounces": "bounces",
    "import": "importing",
    "run": "run",
    "status": "run",
    "next": "run",
    "archive": "records",
    "studio": "studio",
}


class BlogtoolGroup(click.Group):
    """Loads commands lazily; turns domain errors into a message on stderr and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The language is chosen before the options are parsed: --help and usage errors
        # speak it too.
        speak_the_users_language()
        translate_help(self)
        return super().make_context(info_name, args, parent, **extra)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _worded(super().get_help_option(ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = importlib.import_module(f"blogtool.cli.{module}").COMMANDS[cmd_name]
        assert isinstance(command, click.Command)
        translate_help(command, ctx)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS:
            import difflib

            near = difflib.get_close_matches(name, sorted(COMMANDS), n=1)
            hint = _(" See 'blogtool --help'.")
            if near:
                hint = _(" Did you mean {name!r}?").format(name=near[0])
            ctx.fail(_("No such command {name!r}.{hint}").format(name=name, hint=hint))
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (BlogtoolError, OSError) as exc:
            env = ctx.obj
            if isinstance(env, Env) and env.debug:
                raise
            if isinstance(exc, ContentError):
                print_problems(exc.problems)
                n = sum(1 for p in exc.problems if p.is_error)
                click.echo(
                    ngettext(
                        "Error: {n} problem found; nothing was changed.",
                        "Error: {n} problems found; nothing was changed.",
                        n,
                    ).format(n=n),
                    err=True,
                )
            elif isinstance(exc, OSError):
                click.echo(
                    _("Error: {describe_os_error}").format(
                        describe_os_error=describe_os_error(exc)
                    ),
                    err=True,
                )
                ctx.exit(ExitStatus.ERROR)
            else:
                click.echo(_("Error: {exc}").format(exc=exc), err=True)
            ctx.exit(int(getattr(exc, "exit_code", ExitStatus.ERROR)))
        except Exception as exc:
            # A full disk, a damaged file: SQLite's own errors. (A command that never opened
            # the state database never imported sqlite3, and a build does not.)
            sqlite3 = sys.modules.get("sqlite3")
            if sqlite3 is None or not isinstance(exc, sqlite3.Error):
                raise
            if isinstance(ctx.obj, Env) and ctx.obj.debug:
                raise
            click.echo(
                _(
                    "Error: the state database failed ({exc}); is the disk full, or the file "
                    "damaged? Nothing sent is lost: the next run goes on from where this stopped"
                ).format(exc=exc),
                err=True,
            )
            ctx.exit(ExitStatus.ERROR)


def translate_help(command: click.Command, ctx: click.Context | None = None) -> None:
    """Show a command's --help (its text, its options', its subcommands') in the command line's
    language. The English source is kept, so a later language can be applied again."""
    source = command.__dict__.setdefault("_help_source", command.help)
    if source:
        command.help = _(inspect.cleandoc(source))
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            param.help = _(param.__dict__.setdefault("_help_source", param.help))
    if ctx is not None:  # Click makes a command's --help option once a process: worded anew
        _worded(command.get_help_option(ctx))
    if isinstance(command, click.Group) and not isinstance(command, BlogtoolGroup):
        for sub in command.commands.values():
            translate_help(sub, ctx)


def _worded(option: click.Option | None) -> click.Option | None:
    """The --help option, its line in the command line's language."""
    if option is not None:
        option.help = _("Show this message and exit.")
    return option


def describe_os_error(exc: OSError) -> str:
    """One line: the path and the reason ("/proc/out: Permission denied")."""
    reason = exc.strerror or type(exc).__name__
    path = exc.filename if exc.filename is not None else None
    if path is None:
        return reason
    also = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{path}{also}: {reason}"


def print_problems(problems: Sequence[Problem]) -> None:
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
    """The command line. The collector runs every 10,000 new objects, not 700: importing and
    loading make bursts of objects that all live on, and it ran hundreds of times a build for
    nothing. When the command is done, whatever it made is frozen (``gc.freeze``): the
    interpreter's teardown then spares the collector's passes over every object still alive
    (the modules, a loaded site, a build's plan), which free nothing the operating system
    does not take back at exit: after a one-page rebuild of 5,000 posts, teardown took 36 ms
    with them and 14 ms without. Teardown itself still runs: exit handlers, flushing, every
    object no cycle holds."""
    gc.set_threshold(10_000, 50, 100)
    language_for_click()
    try:
        cli(prog_name="blogtool")
    finally:
        gc.freeze()


# C0 and C1 controls (but tab and newline), DEL, and the bidirectional overrides and isolates: what
# lets stored text that came from a stranger (a name, a bounce's diagnostic) move the cursor, set
# the window title, plant a hyperlink (OSC 8) or reorder what the terminal shows.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """``text`` safe to print on a terminal: each control character shown as its escape
    (``\\x1b``), so a person sees that something was there and the terminal obeys none of it."""

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROLS.sub(escape, str(text))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    shown = [[plain(c) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in shown) for i in range(len(header))]
    for row in shown:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def since_option(env: Env, since: str | None) -> Any:
    """A command's --since as a time in the site's zone (None when not given); a value that
    is not a time is a usage error that names the option."""
    if not since:
        return None
    from blogtool.errors import UsageError
    from blogtool.timeutil import parse_when

    try:
        return parse_when(since, env.config.site.timezone)
    except ValueError as exc:
        raise UsageError(_("--since: {exc}").format(exc=exc)) from None


def state_db(env: Env) -> Any:
    """The state database, closed when the ``with`` block ends."""
    from blogtool.store import opened

    return opened(env.config.state_path)


def transport(env: Env) -> Transport:
    """Where this site's mail goes (an SMTP password is asked for only if needed)."""
    from blogtool.delivery.transports import choose

    return choose(env.config, env.smtp_password)


def send_now(
    env: Env,
    db: Any,
    issue: Issue,
    secret: bytes,
    transport: Transport,
    options: SendOptions | None = None,
    *,
    lock: bool = True,
) -> SendReport:
    """Send through the queue under the send lock, with a progress bar when someone watches."""
    import time

    from blogtool.delivery.dispatch import SendOptions, send_locked
    from blogtool.delivery.pacing import Pacing

    bar: Any = None
    started = time.monotonic()

    def progress(report: SendReport) -> None:
        nonlocal bar
        if not env.shows_progress:
            return  # under cron: the summary line is enough
        if bar is None:
            bar = click.progressbar(
                length=report.total, label=f"Issue {issue.id}", file=sys.stderr, show_pos=True
            )
            bar.__enter__()
        done = report.sent + report.failed + report.skipped
        rate_now = report.sent / max(time.monotonic() - started, 1e-6)
        bar.label = f"{report.sent} sent, {report.failed} failed, {rate_now:.0f}/s"
        bar.update(done - bar.pos)

    def on_interrupt() -> None:
        click.echo(_("\nStopping after the current message (again to stop at once) ..."), err=True)

    pacing = Pacing(now=env.now, clock=env.clock, sleep=env.sleep)
    try:
        return send_locked(
            env.config,
            db,
            issue,
            secret,
            transport,
            pacing,
            options or SendOptions(),
            progress=progress,
            on_interrupt=on_interrupt,
            lock=lock,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def log_to_stderr() -> None:
    """A service's log (its access log, what it sent) on stderr, one line each, with the time."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("blogtool.web")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)


def listening(make: Any, host: str, port: int) -> Any:
    """The server ``make()`` binds, or one line on why it cannot listen there."""
    from blogtool.errors import UsageError

    try:
        return make()
    except OSError as exc:
        raise UsageError(
            _("cannot listen on {host}:{port}: {strerror}; try --port").format(
                host=host, port=port, strerror=exc.strerror
            )
        ) from None


def serve_web(env: Env, host: str, port: int, site_dir: Path | None = None) -> None:
    """Run the reader service under waitress until SIGTERM or Ctrl-C (``blogtool web``)."""

    from blogtool.newsletter.compose import envelope_sender
    from blogtool.web.app import make_app
    from blogtool.web.server import (
        Sender,
        Stopper,
        access_logged,
        make_server,
        with_site,
    )

    config = env.config
    log_to_stderr()
    sender = Sender(config, lambda: transport(env), envelope_sender(config), env.now)
    service = make_app(config, env.secret(), env.now, sender.wake)
    sender.prepare = service.resolve_requests
    app = with_site(service, site_dir) if site_dir is not None else service
    with Stopper() as stopper:
        server = listening(
            lambda: make_server(access_logged(app), host, port, config.web.trusted_proxy),
            host,
            port,
        )
        where = f"http://{host}:{server.effective_port}/"
        if not config.web.base_url:
            message = _("Answering unsubscribe requests on {where} (Ctrl-C stops)")
        else:
            message = _("The reader service is on {where} (Ctrl-C stops)")
        click.echo(message.format(where=where), err=True)
        try:
            sender.start()
            stopper.serve(server)
        finally:
            # Stop taking requests, then let the sender finish the message it is on.
            server.close()
            sender.stop()


def print_send_report(issue_id: int, report: Any, where: str) -> None:
    for address, error in report.failures:
        click.secho(
            _("failed: {address}: {error}").format(address=address, error=error), fg="red", err=True
        )
    for line in report.uncertain:
        click.secho(
            _(
                "uncertain: {line}; it may or may not have arrived. Resend with "
                "--resend-uncertain, or count it as delivered with --accept-uncertain."
            ).format(line=line),
            fg="yellow",
            err=True,
        )
    if report.stopped:
        click.secho(
            ngettext(
                "stopped: {n} delivery remains queued; run send again to finish",
                "stopped: {n} deliveries remain queued; run send again to finish",
                report.remaining,
            ).format(n=report.remaining),
            fg="yellow",
            err=True,
        )
    click.echo(
        _("Issue {issue_id} via {where}: {summary}.").format(
            issue_id=issue_id, where=where, summary=report.summary()
        )
    )


def print_dry_run(env: Env, db: Any, issue: Any, secret: bytes) -> None:
    from blogtool.delivery.queue import recipients
    from blogtool.delivery.transports import describe
    from blogtool.newsletter.compose import MessageFactory
    from blogtool.subscribers.lists import on_list_sql

    who = recipients(db, issue, on_list_sql(env.config, issue.list_key))
    click.echo(_("issue {id}: {subject}").format(id=issue.id, subject=issue.subject))
    click.echo(
        ngettext(
            "would send {n} message via {where}; nothing was changed",
            "would send {n} messages via {where}; nothing was changed",
            len(who),
        ).format(n=len(who), where=describe(env.config))
    )
    if who:
        factory = MessageFactory(env.config, issue, secret)
        data = factory.render(who[0], factory.message_id(who[0]), env.now())
        head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        click.echo(_("first message's headers:"))
        click.echo("  " + head.replace("\r\n", "\n  "))


def pick_issue(db: Any, issue_id: int | None) -> Any:
    from blogtool.newsletter.issues import get_issue, last_issue, unfinished_issue

    if issue_id is not None:
        return get_issue(db, issue_id)
    return unfinished_issue(db) or last_issue(db)
