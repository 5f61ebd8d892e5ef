"""The newsletter: build, list, preview and send issues."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from blogtool.errors import BlogtoolError, ExitStatus, UsageError

from .base import Env, clip, pass_env, print_problems, send_now, state_db, table, transport

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
    now = env.now()
    blocking = site.blocking(now)
    print_problems([p for p in site.problems if p not in blocking])
    if blocking:
        from blogtool.errors import ContentError

        raise ContentError(blocking)
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
    from blogtool.mail.queue import bounce_counts, counts

    with state_db(env) as db:
        rows = []
        for issue in issues(db):
            c = counts(db, issue.id)
            b = bounce_counts(db, issue.id)
            rows.append(
                (
                    str(issue.id),
                    issue.created_at[:16].replace("T", " "),
                    issue.state.value,
                    str(c["queued"] + c["sending"]),
                    str(c["sent"]),
                    str(c["failed"]),
                    str(c["skipped"]),
                    f"{b['hard']}/{b['soft']}/{b['complaint']}",
                    clip(issue.subject, 50),
                )
            )
    if not rows:
        click.echo("No issues yet; 'blogtool newsletter build' makes one.")
        return
    table(
        (
            "ISSUE",
            "CREATED (UTC)",
            "STATE",
            "QUEUED",
            "SENT",
            "FAILED",
            "SKIPPED",
            "BOUNCED H/S/C",
            "SUBJECT",
        ),
        rows,
    )


def _pick_issue(db: Any, issue_id: int | None) -> Any:
    from blogtool.mail.issues import get_issue, last_issue, unfinished_issue

    if issue_id is not None:
        return get_issue(db, issue_id)
    return unfinished_issue(db) or last_issue(db)


@newsletter.command(name="preview")
@click.argument("issue_id", metavar="[ISSUE]", type=int, required=False)
@click.option(
    "--next",
    "coming",
    is_flag=True,
    help="The issue the next scheduled send will mail, scheduled items included, with the "
    ".eml exactly as it would be sent.",
)
@click.option("--open", "open_browser", is_flag=True, help="Also open the HTML in a browser.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (default: .blogtool/newsletter-preview).",
)
@pass_env
def newsletter_preview(
    env: Env, issue_id: int | None, coming: bool, open_browser: bool, output: Path | None
) -> None:
    """Write an issue's HTML and text parts to files, as a subscriber would see them.

    ISSUE defaults to the newest unsent issue (else the newest). --next shows the issue that
    has not been made yet: what the next scheduled send will carry, built from the items that
    will be due by then, so it can be proofed before anyone gets it.

    \b
    Example:
        blogtool newsletter preview --next --open
        blogtool newsletter preview 3
    """
    from blogtool.files import write_atomic
    from blogtool.mail.issues import with_sample_links

    if coming:
        if issue_id is not None:
            raise UsageError("give either ISSUE or --next, not both")
        _preview_next(env, output, open_browser)
        return
    with state_db(env) as db:
        issue = _pick_issue(db, issue_id)
    if issue is None:
        raise UsageError("no newsletter issue yet; run 'blogtool newsletter build' first")
    directory = output or env.config.state_dir / "newsletter-preview"  # not serve's site preview
    html_path = directory / f"newsletter-{issue.id}.html"
    text_path = directory / f"newsletter-{issue.id}.txt"
    write_atomic(html_path, with_sample_links(issue.html, env.config).encode("utf-8"))
    write_atomic(text_path, with_sample_links(issue.text, env.config).encode("utf-8"))
    click.echo(f"issue {issue.id}: {issue.subject}")
    click.echo(str(html_path))
    click.echo(str(text_path))
    if open_browser:
        click.launch(str(html_path))


def _preview_next(env: Env, output: Path | None, open_browser: bool) -> None:
    from blogtool.files import write_atomic
    from blogtool.mail.compose import MessageFactory, Recipient
    from blogtool.mail.issues import with_sample_links
    from blogtool.mail.proofing import approved_at, coming_issue, proofed
    from blogtool.timeutil import short_datetime

    site = env.load_site()
    now = env.now()
    with state_db(env) as db:
        coming = coming_issue(site, db, now)
        if coming is None:
            raise UsageError(
                "no tip is waiting for a newsletter; nothing is scheduled to be mailed"
            )
        proof, approved = proofed(db, coming), approved_at(db, coming.digest)
    config = env.config
    directory = output or config.state_dir / "newsletter-preview"
    issue = coming.as_issue()
    base = directory / "newsletter-next"
    write_atomic(base.with_suffix(".html"), with_sample_links(issue.html, config).encode())
    write_atomic(base.with_suffix(".txt"), with_sample_links(issue.text, config).encode())
    try:
        secret = env.secret()
    except BlogtoolError:
        secret = b"preview-only-not-a-real-secret"  # the .eml's links are then not valid
    factory = MessageFactory(config, issue, secret)
    reader = Recipient(0, 0, "prenumerant@example.se")
    write_atomic(
        base.with_suffix(".eml"), factory.render(reader, factory.message_id(reader), coming.send_at)
    )
    lang = config.site.language
    click.echo(f"next newsletter: {coming.draft.subject}")
    click.echo(f"  due {short_datetime(coming.send_at, lang)}, {len(coming.items)} items:")
    for item in coming.items:
        click.echo(f"    {item.path} ({item.status(now).value})")
    click.echo(
        f"  proof: {'sent' if proof and proof[0] == coming.digest else 'not sent for this version'}"
    )
    if config.newsletter.approval:
        click.echo(f"  approval: {'approved' if approved else 'not approved yet'}")
    for suffix in (".html", ".txt", ".eml"):
        click.echo(str(base.with_suffix(suffix)))
    if open_browser:
        click.launch(str(base.with_suffix(".html")))


@newsletter.command(name="approve")
@click.argument("issue_id", metavar="[ISSUE]", type=int, required=False)
@pass_env
def newsletter_approve(env: Env, issue_id: int | None) -> None:
    """Approve the coming issue, as 'newsletter preview --next' shows it, so that run sends it;
    or ISSUE, an issue made with 'newsletter build' and not sent yet.

    Needed when [newsletter] approval = true. The approval is of this content: if a tip in it
    changes afterwards, it needs approving again. An issue already held goes out at the next run.

    \b
    Example:
        blogtool newsletter preview --next --open
        blogtool newsletter approve
        blogtool newsletter approve 7
    """
    from blogtool.mail.proofing import approve, coming_issue
    from blogtool.timeutil import short_datetime

    if issue_id is not None:
        from blogtool.mail.issues import get_issue

        with state_db(env) as db:
            issue = get_issue(db, issue_id)
            if issue.frozen_at is not None:
                raise UsageError(f"issue {issue.id} is already being sent or was sent")
            approve(db, issue.digest, env.now())
        click.echo(f"approved: issue {issue.id}: {issue.subject} ({len(issue.items)} items)")
        return
    site = env.load_site()
    now = env.now()
    blocking = site.blocking(now)
    if blocking:
        from blogtool.errors import ContentError

        raise ContentError(blocking)
    with state_db(env) as db:
        coming = coming_issue(site, db, now)
        if coming is None:
            raise UsageError("no tip is waiting for a newsletter; there is nothing to approve")
        approve(db, coming.digest, now)
    when = short_datetime(coming.send_at, env.config.site.language)
    click.echo(f"approved: {coming.draft.subject} ({len(coming.items)} items), goes {when}")


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
    from blogtool.mail.dispatch import SendOptions, send_test

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
            f"uncertain: {line}; it may or may not have arrived. Resend with "
            "--resend-uncertain, or count it as delivered with --accept-uncertain.",
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
    from blogtool.mail.lists import on_list_sql
    from blogtool.mail.queue import recipients
    from blogtool.mail.transports import describe

    who = recipients(db, issue, on_list_sql(env.config, issue.list_key))
    click.echo(f"issue {issue.id}: {issue.subject}")
    click.echo(f"would send {len(who)} messages via {describe(env.config)}; nothing was changed")
    if who:
        factory = MessageFactory(env.config, issue, secret)
        data = factory.render(who[0], factory.message_id(who[0]), env.now())
        head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        click.echo("first message's headers:")
        click.echo("  " + head.replace("\r\n", "\n  "))


COMMANDS = {"newsletter": newsletter}
