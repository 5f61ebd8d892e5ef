"""The unattended job: run, status, next."""

from __future__ import annotations

import datetime as dt
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click

from blogtool.errors import BlogtoolError, ExitStatus
from blogtool.files import private_dir
from blogtool.i18n import _, cli_language, label_of, ngettext

from .base import (
    Env,
    pass_env,
    send_now,
    state_db,
    transport,
)

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
    if quiet:  # errors, and a warning the first time it is given (an empty week ahead)
        console.addFilter(lambda r: r.levelno >= logging.ERROR or getattr(r, "first", False))
    console.setFormatter(Stamped())
    logger.addHandler(console)
    path = env.config.log_path
    if path is not None:  # it names subscribers: its owner's alone (0600, in a folder made 0700)
        private_dir(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600))
        os.chmod(path, 0o600)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(Stamped())
        logger.addHandler(handler)
    return logger


@click.command(name="run")
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
    from blogtool.site.output import check_output_dir

    log = _run_logger(env, quiet)
    config = env.config
    try:
        now = env.now()
        output = check_output_dir(config, config.output_dir)
        stats: dict[str, os.stat_result] = {}  # the snapshot's, for the loading
        seen = _unchanged_since_last_run(env, log, now, stats)
        if seen is None:
            _owed_index(env, log, output)
            return
        # Only a run with something to do loads the renderer and the mail.
        from blogtool.job.result import record_run
        from blogtool.job.runner import next_due, run_once
        from blogtool.site.build import BuildOptions, build
        from blogtool.site.incremental import quiet as unchanged
        from blogtool.site.output import Overlap
        from blogtool.store import site_lock

        with Overlap(config, preview=False) as overlap:
            site = env.load_site(cached=True, to_the_end=True, seen=stats, overlap=overlap)
            _log_problems(env, log, site, now)
            secret, no_mail = _secret_or_none(env)
            build_site = partial(
                build,
                site,
                now,
                BuildOptions(output=output),
                seen=seen,
                environment=overlap.env,
                meanwhile=overlap.finish,
            )
            with state_db(env) as db:
                result = run_once(
                    site,
                    db,
                    now,
                    output=output,
                    build=build_site,
                    send=(
                        # The run holds the send lock while it decides and sends.
                        (lambda issue: send_now(env, db, issue, secret, transport(env), lock=False))
                        if secret is not None
                        else None
                    ),
                    lock=lambda name: site_lock(config.state_dir, name),
                    cannot_mail=no_mail,
                    proof=_proof_sender(env, secret, db) if secret is not None else None,
                    send_queued=lambda: _send_queued(env, db),
                    fetch_bounces=(
                        (lambda: _fetch_bounces(env, db, secret))
                        if config.bounces.imap_host and secret is not None
                        else None
                    ),
                )
                for level, message in result.log:
                    getattr(log, level)(message, extra={"first": message in result.first_time})
                record_run(db, result, now)
                if result.failed:
                    unchanged.forget(db, now)
                else:
                    unchanged.remember(config, db, seen, now, next_due(site, db, now))
        _owed_index(env, log, output)
    except BlogtoolError as exc:
        log.error(str(exc))
        _remember_error(env, str(exc))
        sys.exit(int(exc.exit_code))
    if result.failed:
        sys.exit(ExitStatus.ERROR)


def _owed_index(env: Env, log: Any, output: Path) -> None:
    """The search index that a stopped build or index process left owed, made by the next
    run whatever else it had to do (unless a process is making it): the scheduled job mends
    it without a person."""
    from blogtool.site.output import index_left_owed

    if not index_left_owed(env.config):
        return
    from blogtool.site.build import index_search

    if index_search(env.config, output):
        log.info(_("made the search index that a stopped build had left owed"))


def _secret_or_none(env: Env) -> tuple[bytes | None, str]:
    """(the signing secret, "") or, where it will not do, (None, what is wrong with it): the
    run then publishes, and says why it does not mail."""
    from blogtool.cli.env import SECRET_ENV
    from blogtool.subscribers.tokens import SecretMissing, secret_problem

    try:
        return env.secret(), ""
    except SecretMissing:
        problem = secret_problem(env.get(SECRET_ENV)) or _("is not set")
        return None, f"{SECRET_ENV} {problem}"


def _log_problems(env: Env, log: Any, site: Any, now: dt.datetime) -> None:
    """Every content problem in the run's log; stops the run if one blocks what is due."""
    blocking = site.blocking(now)
    for problem in site.problems:
        if problem.is_error and problem not in blocking:
            log.warning(
                _("{problem} (not due yet; it stays unpublished until this is fixed)").format(
                    problem=problem
                )
            )
        else:
            (log.error if problem.is_error else log.warning)(str(problem))
    if blocking:
        log.error(_("content has errors; nothing was published or sent"))
        _remember_error(
            env,
            _("content has errors ({n}); see 'blogtool check'").format(n=len(blocking)),
        )
        sys.exit(ExitStatus.ERROR)


def _unchanged_since_last_run(
    env: Env, log: Any, now: dt.datetime, stats: dict[str, os.stat_result]
) -> str | None:
    """None when nothing can have changed since the last full run (logged); else the sources'
    snapshot, which the run records when it is done."""
    from blogtool.job.result import RunResult, record_run
    from blogtool.site.incremental import quiet

    seen = quiet.snapshot(env.config, stats)
    with state_db(env) as db:
        until = quiet.nothing_to_do(env.config, db, now, seen)
        if until is None:
            return seen
        log.info(
            _("no source has changed and nothing is due before {until}; nothing to do").format(
                until=env.shown_time(until)
            )
        )
        record_run(db, RunResult(), now)
    return None


def _proof_sender(env: Env, secret: bytes, db: Any) -> Any:
    """Mails the coming issue to [newsletter] proof_to, each their own copy, marked as a proof
    (when it goes, to how many, what lets it go)."""

    def send_proof(coming: Any, prefix: str) -> None:
        from blogtool.delivery.dispatch import send_proof as mail

        config = env.config
        mail(
            db,
            config,
            coming,
            secret,
            transport(env),
            config.newsletter.proof_to,
            env.now(),
            prefix,
        )

    return send_proof


def _fetch_bounces(env: Env, db: Any, secret: bytes) -> Any:
    from blogtool.bounces import reports as bounces
    from blogtool.bounces.mailbox import fetch

    config, now = env.config, env.now()

    def handle(raw: bytes) -> str:
        return bounces.record(db, config, secret, bounces.read(raw, config), now)

    return fetch(config, env.imap_password(), handle)


def _send_queued(env: Env, db: Any) -> Any:
    """What the reader service queued and a stopped service left: its requests for a data link
    made into mail (or forgotten), as the service would, then every mail sent."""
    from blogtool.delivery.outgoing import drain, requests
    from blogtool.newsletter.compose import envelope_sender
    from blogtool.web.app import DATA_REQUEST, make_app

    if requests(db, DATA_REQUEST):
        make_app(env.config, env.secret(), env.now).resolve_requests(db)
    return drain(db, transport(env), envelope_sender(env.config), env.now())


def _remember_error(env: Env, message: str) -> None:
    from blogtool.job.result import record_error

    try:
        with state_db(env) as db:
            record_error(db, message, env.now())
    except BlogtoolError:
        pass


@click.command()
@pass_env
def status(env: Env) -> None:
    """What is published, what is due next and when, the last build and send, what failed.

    \b
    Example:
        blogtool status
    """
    from blogtool.job.status import site_status
    from blogtool.timeutil import short_datetime

    config = env.config
    lang = cli_language()
    now = env.now()
    from blogtool.studio.history import recent

    with state_db(env) as db:
        st = site_status(env.load_site(), db, now)
        studio = recent(db, 5)
    click.echo(
        _("{title} ({root}), now {short_datetime}").format(
            title=config.site.title, root=config.root, short_datetime=short_datetime(now, lang)
        )
    )
    click.echo(
        _("published: {posts}, {tips}; {scheduled}, {drafts}").format(
            posts=ngettext("{n} post", "{n} posts", st.published_posts).format(
                n=st.published_posts
            ),
            tips=ngettext("{n} tip", "{n} tips", st.published_tips).format(n=st.published_tips),
            scheduled=ngettext("{n} scheduled", "{n} scheduled", len(st.scheduled)).format(
                n=len(st.scheduled)
            ),
            drafts=ngettext("{n} draft", "{n} drafts", st.drafts).format(n=st.drafts),
        )
    )
    if st.newest is not None:
        when = short_datetime(st.newest.date or now, lang)
        click.echo(
            _("  newest: {title} ({kind}, {when})").format(
                title=st.newest.title, kind=label_of(st.newest.kind.value), when=when
            )
        )
    if st.scheduled:
        first = st.scheduled[0]
        first_at = first.date or now  # scheduled items always have a date
        click.echo(
            _("next due: {title} ({kind}) {when}, in {duration}").format(
                title=first.title,
                kind=label_of(first.kind.value),
                when=short_datetime(first_at, lang),
                duration=_duration(first_at - now),
            )
        )
    else:
        click.echo(_("next due: nothing scheduled"))
    if st.next_run is not None:
        due = st.next_run
        label = _("now (run has work waiting)") if due <= now else short_datetime(due, lang)
        click.echo(_("next run with work: {label}").format(label=label))
    _print_history(st, lang)
    if st.bounce_rates:
        click.echo(_("bounces: {bounce_rates}").format(bounce_rates=st.bounce_rates))
    if st.coming:
        click.echo(_("coming newsletter: {coming}").format(coming=st.coming[0]))
        for line in st.coming[1:]:
            click.echo(f"  {line}")
    for line in st.empty_weeks:
        click.echo(_("warning: {line}").format(line=line))
    if studio:
        click.echo(_("latest in the studio:"))
    for entry in studio:
        what = f"{label_of(entry.action)} {entry.path}".rstrip()
        click.echo(f"  {short_datetime(entry.at, lang)}: {entry.person}: {what}")
    click.echo(_("problems:") if st.problems else _("problems: none"))
    for line in st.problems:
        click.echo(f"  {line}")


def _print_history(st: Any, lang: str) -> None:
    """The last build and the last newsletter."""
    from blogtool.timeutil import short_datetime

    if st.last_build is not None:
        fresh = _("up to date") if st.last_build.up_to_date else _("changes waiting")
        if st.last_build.preview:
            fresh = _("a preview with drafts is in the output; the next run rebuilds it clean")
        when = short_datetime(st.last_build.at, lang)
        click.echo(
            _("last build: {when}: {summary} ({fresh})").format(
                when=when, summary=st.last_build.summary, fresh=fresh
            )
        )
    else:
        click.echo(_("last build: never (by blogtool run)"))
    if st.last_issue is not None:
        c = st.last_issue_counts
        click.echo(
            _(
                "last newsletter: issue {id} ({state}) {subject}: {sent} sent, {failed} "
                "failed, {skipped} skipped, {waiting} waiting"
            ).format(
                id=st.last_issue.id,
                state=label_of(st.last_issue.state.value),
                subject=st.last_issue.subject,
                sent=c["sent"],
                failed=c["failed"],
                skipped=c["skipped"],
                waiting=c["queued"] + c["sending"],
            )
        )
    else:
        click.echo(_("last newsletter: none yet"))


def _duration(delta: dt.timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


@click.command(name="next")
@click.option(
    "--format", "fmt", type=click.Choice(["iso", "seconds"]), default="iso", show_default=True
)
@pass_env
def next_command(env: Env, fmt: str) -> None:
    """Print the next moment 'blogtool run' has something to do (now, if it has work waiting).

    For schedulers that wake exactly then. If nothing is scheduled, it prints nothing on
    standard output, says so on standard error and exits 1.

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
        click.echo(_("nothing is scheduled"), err=True)
        sys.exit(ExitStatus.ERROR)
    if fmt == "seconds":
        click.echo(str(max(0, math.ceil((due - now).total_seconds()))))
    else:
        click.echo(max(due, now).isoformat())


COMMANDS = {"run": run_job, "status": status, "next": next_command}
