"""The unattended job: run, status, next."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

import click

from blogtool.errors import BlogtoolError, ExitStatus

from .base import Env, cli, pass_env, state_db
from .mail import make_transport, send_queued

if TYPE_CHECKING:
    pass


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
    from blogtool.errors import LockedError
    from blogtool.job.runner import run_once
    from blogtool.mail.tokens import SecretMissing, secret_from_env
    from blogtool.site.build import BuildOptions, build, check_output_dir
    from blogtool.store import exclusive_lock, set_state, utc_now_iso

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
            with state_db(env) as db:
                result = run_once(
                    site,
                    db,
                    now,
                    output=output,
                    build=lambda: build(site, now, BuildOptions(output=output)),
                    send=(
                        (lambda issue: send_queued(env, db, issue, secret, make_transport(env)))
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
    from blogtool.store import set_state

    try:
        with state_db(env) as db:
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
    from blogtool.content.model import Kind, Status
    from blogtool.job.runner import next_due, site_fingerprint
    from blogtool.mail.issues import delivery_counts, issues
    from blogtool.mail.queue import uncertain_rows
    from blogtool.store import get_state
    from blogtool.timeutil import short_datetime

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
    with state_db(env) as db:
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

    from blogtool.job.runner import next_due

    site = env.load_site()
    now = env.now()
    with state_db(env) as db:
        due = next_due(site, db, now)
    if due is None:
        click.echo("nothing is scheduled", err=True)
        sys.exit(ExitStatus.ERROR)
    if fmt == "seconds":
        click.echo(str(max(0, math.ceil((due - now).total_seconds()))))
    else:
        click.echo(max(due, now).isoformat())
