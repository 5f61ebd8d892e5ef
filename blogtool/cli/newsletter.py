"""The newsletter: build, list, preview and send issues."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from blogtool.errors import BlogtoolError, ExitStatus, UsageError
from blogtool.i18n import _, cli_language, items, label_of

from .base import (
    Env,
    clip,
    pass_env,
    pick_issue,
    print_dry_run,
    print_problems,
    print_send_report,
    send_now,
    since_option,
    state_db,
    table,
    transport,
)

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
    from blogtool.newsletter.issues import compile_issue, save_issue

    site = env.load_site()
    now = env.now()
    blocking = site.blocking(now)
    print_problems([p for p in site.problems if p not in blocking])
    if blocking:
        from blogtool.errors import ContentError

        raise ContentError(blocking)
    since_at = since_option(env, since)
    with state_db(env) as db:
        draft = compile_issue(site, db, now, since_at)
        if draft is None:
            click.echo(_("Nothing new since the last issue; no issue was made."))
            return
        issue = save_issue(db, draft, now)
    click.echo(
        _("issue {id}: {subject} ({items})").format(
            id=issue.id, subject=issue.subject, items=items(len(issue.items))
        )
    )
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
    from blogtool.delivery.queue import bounce_counts, counts
    from blogtool.newsletter.issues import issues
    from blogtool.timeutil import short_datetime

    lang, tz = cli_language(), env.config.site.timezone
    with state_db(env) as db:
        rows = []
        for issue in issues(db):
            c = counts(db, issue.id)
            b = bounce_counts(db, issue.id)
            made = dt.datetime.fromisoformat(issue.created_at)
            rows.append(
                (
                    str(issue.id),
                    short_datetime(made.astimezone(tz), lang),
                    label_of(issue.state.value),
                    str(c["queued"] + c["sending"]),
                    str(c["sent"]),
                    str(c["failed"]),
                    str(c["skipped"]),
                    f"{b['hard']}/{b['soft']}/{b['complaint']}",
                    clip(issue.subject, 50),
                )
            )
    if not rows:
        click.echo(_("No issues yet; 'blogtool newsletter build' makes one."))
        return
    table(
        (
            _("ISSUE"),
            _("CREATED"),
            _("STATE"),
            _("QUEUED"),
            _("SENT"),
            _("FAILED"),
            _("SKIPPED"),
            _("BOUNCED H/S/C"),
            _("SUBJECT"),
        ),
        rows,
    )


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
    from blogtool.newsletter.issues import with_sample_links

    if coming:
        if issue_id is not None:
            raise UsageError(_("give either ISSUE or --next, not both"))
        _preview_next(env, output, open_browser)
        return
    with state_db(env) as db:
        issue = pick_issue(db, issue_id)
    if issue is None:
        raise UsageError(_("no newsletter issue yet; run 'blogtool newsletter build' first"))
    directory = output or env.config.state_dir / "newsletter-preview"  # not serve's site preview
    html_path = directory / f"newsletter-{issue.id}.html"
    text_path = directory / f"newsletter-{issue.id}.txt"
    write_atomic(html_path, with_sample_links(issue.html, env.config).encode("utf-8"))
    write_atomic(text_path, with_sample_links(issue.text, env.config).encode("utf-8"))
    click.echo(_("issue {id}: {subject}").format(id=issue.id, subject=issue.subject))
    click.echo(str(html_path))
    click.echo(str(text_path))
    if open_browser:
        click.launch(str(html_path))


def _preview_next(env: Env, output: Path | None, open_browser: bool) -> None:
    from blogtool.files import write_atomic
    from blogtool.newsletter.compose import MessageFactory, Recipient
    from blogtool.newsletter.issues import with_sample_links
    from blogtool.newsletter.proofing import approved_at, coming_issue, proofed
    from blogtool.timeutil import short_datetime

    site = env.load_site()
    now = env.now()
    with state_db(env) as db:
        coming = coming_issue(site, db, now)
        if coming is None:
            raise UsageError(
                _("no tip is waiting for a newsletter; nothing is scheduled to be mailed")
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
    lang = cli_language()
    click.echo(_("next newsletter: {subject}").format(subject=coming.draft.subject))
    click.echo(
        _("  due {when}, {items}:").format(
            when=short_datetime(coming.send_at, lang), items=items(len(coming.items))
        )
    )
    for item in coming.items:
        click.echo(f"    {item.path} ({label_of(item.status(now).value)})")
    click.echo(
        _("  proof: sent")
        if proof and proof[0] == coming.digest
        else _("  proof: not sent for this version")
    )
    if config.newsletter.approval:
        click.echo(_("  approval: approved") if approved else _("  approval: not approved yet"))
    for suffix in (".html", ".txt", ".eml"):
        click.echo(str(base.with_suffix(suffix)))
    if open_browser:
        click.launch(str(base.with_suffix(".html")))


@newsletter.command(name="approve")
@click.argument("issue_id", metavar="[ISSUE]", type=int, required=False)
@pass_env
def newsletter_approve(env: Env, issue_id: int | None) -> None:
    """Approve the coming issue, as 'newsletter preview --next' shows it, and every letter of
    new blog posts that is due or whose proof went, so that run sends them; or ISSUE, an issue
    made with 'newsletter build' and not sent yet.

    Needed when [newsletter] approval = true. The approval is of this content: if a tip in it
    changes afterwards, it needs approving again. An issue already held goes out at the next run.

    \b
    Example:
        blogtool newsletter preview --next --open
        blogtool newsletter approve
        blogtool newsletter approve 7
    """
    from blogtool.newsletter.proofing import approve, coming_issue
    from blogtool.timeutil import short_datetime

    if issue_id is not None:
        from blogtool.newsletter.issues import get_issue

        with state_db(env) as db:
            issue = get_issue(db, issue_id)
            if issue.frozen_at is not None:
                raise UsageError(
                    _("issue {id} is already being sent or was sent").format(id=issue.id)
                )
            approve(db, issue.digest, env.now())
        click.echo(
            _("approved: issue {id}: {subject} ({items})").format(
                id=issue.id, subject=issue.subject, items=items(len(issue.items))
            )
        )
        return
    site = env.load_site()
    now = env.now()
    blocking = site.blocking(now)
    if blocking:
        from blogtool.errors import ContentError

        raise ContentError(blocking)
    from blogtool.job.letters import coming_letters

    with state_db(env) as db:
        coming = coming_issue(site, db, now)
        # The letters of new posts that are due or whose proof went: each is approved too.
        letters = coming_letters(site, db, now)
        if coming is None and not letters:
            raise UsageError(_("no tip is waiting for a newsletter; there is nothing to approve"))
        for what in ([coming] if coming is not None else []) + letters:
            approve(db, what.digest, now)
            when = short_datetime(what.send_at, cli_language())
            click.echo(
                _("approved: {subject} ({items}), goes {when}").format(
                    subject=what.draft.subject, items=items(len(what.items)), when=when
                )
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
    from blogtool.delivery.dispatch import SendOptions, send_test
    from blogtool.newsletter.compose import MessageFactory, envelope_sender
    from blogtool.subscribers import people as subs
    from blogtool.timeutil import short_datetime

    config, tz = env.config, env.config.site.timezone
    secret = env.secret()
    if resend_uncertain and accept_uncertain:
        raise UsageError(_("choose one of --resend-uncertain and --accept-uncertain"))
    with state_db(env) as db:
        issue = pick_issue(db, issue_id)
        if issue is None:
            raise UsageError(_("no newsletter issue yet; run 'blogtool newsletter build' first"))
        if test_to:
            try:
                address = subs.normalize(test_to)
            except subs.InvalidAddress as exc:
                raise UsageError(_("--test-to: {exc}").format(exc=exc)) from None
            factory = MessageFactory(config, issue, secret, test=True)
            message_id = send_test(
                factory, transport(env), envelope_sender(config), address, env.now()
            )
            click.echo(
                _("test of issue {id} sent to {address} ({message_id})").format(
                    id=issue.id, address=address, message_id=message_id
                )
            )
            return
        if issue.completed_at and issue_id is None:
            done = dt.datetime.fromisoformat(issue.completed_at).astimezone(tz)
            click.echo(
                _("Nothing to send: issue {id} went out {when}.").format(
                    id=issue.id, when=short_datetime(done, cli_language())
                )
            )
            return
        if dry_run:
            print_dry_run(env, db, issue, secret)
            return
        via = transport(env)
        report = send_now(
            env, db, issue, secret, via, SendOptions(rate, resend_uncertain, accept_uncertain)
        )
    print_send_report(issue.id, report, via.description)
    if report.failed or report.uncertain or report.stopped:
        sys.exit(ExitStatus.ERROR)


COMMANDS = {"newsletter": newsletter}
