"""Subscribers, the newsletter and the unsubscribe endpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from blogtool.errors import ExitStatus, UsageError

from .base import Env, clip, pass_env, print_problems, send_now, state_db, table, transport

# --- subscribers --------------------------------------------------------------------------------


@click.group()
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
    from blogtool.mail import subscribers as subs

    with state_db(env) as db:
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
    from blogtool.mail import subscribers as subs

    with state_db(env) as db:
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

    from blogtool.mail import subscribers as subs

    with state_db(env) as db:
        rows = subs.listing(db, status)
    if as_json:
        click.echo(json.dumps([asdict(s) for s in rows], ensure_ascii=False, indent=2))
        return
    table(
        ("EMAIL", "NAME", "STATUS", "CONSENT", "SOURCE"),
        [(s.email, clip(s.name, 30), s.status, s.consent_at, s.consent_source) for s in rows],
    )


@subscribers.command(name="count")
@pass_env
def subscribers_count(env: Env) -> None:
    """Count subscribers by status.

    \b
    Example:
        blogtool subscribers count
    """
    from blogtool.mail import subscribers as subs

    with state_db(env) as db:
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
    from blogtool.mail import subscribers as subs

    with state_db(env) as db:
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
    from blogtool.files import write_atomic
    from blogtool.mail import subscribers as subs

    with state_db(env) as db:
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

    from blogtool.mail.privacy import stored_about

    with state_db(env) as db:
        subscriber, deliveries = stored_about(db, email)
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
    from blogtool.mail.privacy import forget

    if not yes and env.interactive:
        click.confirm(f"Erase everything stored about {email}?", abort=True)
    with state_db(env) as db:
        erased = forget(db, email, env.now())
    click.echo(f"forgotten: {email} (address removed from {erased} deliveries; hash suppressed)")


# --- newsletter ----------------------------------------------------------------------------------


@click.group()
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
    from blogtool.mail.issues import compile_issue, save_issue
    from blogtool.timeutil import parse_when

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
    with state_db(env) as db:
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
    from blogtool.mail.issues import issues
    from blogtool.mail.queue import counts

    with state_db(env) as db:
        rows = []
        for issue in issues(db):
            c = counts(db, issue.id)
            rows.append(
                (
                    str(issue.id),
                    issue.created_at[:16].replace("T", " "),
                    issue.state.value,
                    str(c["queued"] + c["sending"]),
                    str(c["sent"]),
                    str(c["failed"]),
                    str(c["skipped"]),
                    clip(issue.subject, 50),
                )
            )
    if not rows:
        click.echo("No issues yet; 'blogtool newsletter build' makes one.")
        return
    table(
        ("ISSUE", "CREATED (UTC)", "STATE", "QUEUED", "SENT", "FAILED", "SKIPPED", "SUBJECT"), rows
    )


def _pick_issue(db: Any, issue_id: int | None) -> Any:
    from blogtool.mail.issues import get_issue, last_issue, unfinished_issue

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
    help="Directory for the files (default: .blogtool/newsletter-preview).",
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
    from blogtool.files import write_atomic
    from blogtool.mail.issues import UNSUBSCRIBE_PLACEHOLDER

    with state_db(env) as db:
        issue = _pick_issue(db, issue_id)
    if issue is None:
        raise UsageError("no newsletter issue yet; run 'blogtool newsletter build' first")
    directory = output or env.config.state_dir / "newsletter-preview"  # not serve's site preview
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
    from blogtool.mail import subscribers as subs
    from blogtool.mail.compose import MessageFactory, envelope_sender
    from blogtool.mail.dispatch import SendOptions
    from blogtool.mail.queue import send_test

    config = env.config
    secret = env.secret()
    if resend_uncertain and accept_uncertain:
        raise UsageError("choose one of --resend-uncertain and --accept-uncertain")
    with state_db(env) as db:
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
                factory, transport(env), envelope_sender(config), address, env.now()
            )
            click.echo(f"test of issue {issue.id} sent to {address} ({message_id})")
            return
        if issue.completed_at and issue_id is None:
            click.echo(f"Nothing to send: issue {issue.id} went out on {issue.completed_at}.")
            return
        if dry_run:
            _dry_run(env, db, issue, secret)
            return
        via = transport(env)
        report = send_now(
            env, db, issue, secret, via, SendOptions(rate, resend_uncertain, accept_uncertain)
        )
    _print_send_report(issue.id, report, via.description)
    if report.failed or report.uncertain or report.stopped:
        sys.exit(ExitStatus.ERROR)


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
    from blogtool.mail.compose import MessageFactory
    from blogtool.mail.queue import recipients
    from blogtool.mail.transports import describe

    who = recipients(db, issue)
    click.echo(f"issue {issue.id}: {issue.subject}")
    click.echo(f"would send {len(who)} messages via {describe(env.config)}; nothing was changed")
    if who:
        factory = MessageFactory(env.config, issue, secret)
        data = factory.render(who[0], factory.message_id(who[0]), env.now())
        head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        click.echo("first message's headers:")
        click.echo("  " + head.replace("\r\n", "\n  "))


# --- unsubscribe --------------------------------------------------------------------------------


@click.group()
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

    from blogtool.mail.web import make_app

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # no subscriber data in logs

    class Threaded(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    app = make_app(env.config, env.secret(), env.now)
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
    from blogtool.mail.web import unsubscribe as do_unsubscribe

    token = token.strip().removeprefix("unsubscribe").strip()
    with state_db(env) as db:
        outcome = do_unsubscribe(db, env.secret(), token, env.now(), "mailto request")
    if outcome.status == "invalid":
        raise UsageError(
            "the token is not valid for any subscriber (altered, or the secret changed)"
        )
    click.echo(f"{outcome.status}: {outcome.email}")


COMMANDS = {"subscribers": subscribers, "newsletter": newsletter, "unsubscribe": unsubscribe}
