"""Bounces and complaints: read them from a file, standard input or the IMAP mailbox."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from blogtool.i18n import _, label_of

from .base import Env, clip, pass_env, plain, state_db, table


@click.group()
def bounces() -> None:
    """Read bounces and spam complaints and keep the list clean.

    A permanent failure (5.x.x) marks the subscriber bounced; [bounces] soft_limit temporary
    ones within soft_days do too; a complaint (ARF) unsubscribes them. Auto-replies and other
    mail are counted and left alone.

    \b
    Example:
        blogtool bounces fetch
        blogtool bounces process - < bounce.eml
    """


def _summary(counts: Counter[str]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    return f"processed {total} message{'s' * (total != 1)}" + (f": {parts}" if parts else "")


@bounces.command(name="process")
@click.argument("source", metavar="FILE|-", default="-")
@pass_env
def bounces_process(env: Env, source: str) -> None:
    """Read one message, an mbox or a Maildir (FILE), or one message on standard input (-),
    as a Postfix pipe transport or a .forward hands it over. Exits 0 for anything it could
    read, so the mail system never bounces the bounce.

    \b
    Example:
        blogtool bounces process - < bounce.eml
        blogtool bounces process /var/mail/bounces
        (contrib/postfix-master.cf shows the Postfix pipe transport)
    """
    from blogtool.bounces import reports as bounce_log
    from blogtool.bounces.mailbox import messages_in

    config, secret, now = env.config, env.secret(), env.now()
    path = None if source == "-" else Path(source)
    stdin = sys.stdin.buffer.read() if path is None else None
    counts: Counter[str] = Counter()
    with state_db(env) as db:
        for raw in messages_in(path, stdin):
            counts[bounce_log.record(db, config, secret, bounce_log.read(raw, config), now)] += 1
    click.echo(_summary(counts))


@bounces.command(name="fetch")
@pass_env
def bounces_fetch(env: Env) -> None:
    """Read the bounce mailbox over IMAP ([bounces] imap_host, port, user, folder, security;
    the password from BLOGTOOL_IMAP_PASSWORD or the keyring), and move each message handled to
    [bounces] processed_folder. A message is never processed twice.

    \b
    Example:
        BLOGTOOL_IMAP_PASSWORD=... blogtool bounces fetch
    """
    from blogtool.bounces import reports as bounce_log
    from blogtool.bounces.mailbox import fetch

    config, secret, now = env.config, env.secret(), env.now()
    with state_db(env) as db:

        def handle(raw: bytes) -> str:
            return bounce_log.record(db, config, secret, bounce_log.read(raw, config), now)

        counts = fetch(config, env.imap_password(), handle)
    click.echo(_summary(counts))


@bounces.command(name="unmatched")
@click.option("--show", "shown", type=int, metavar="ID", help="Print that message as it came.")
@pass_env
def bounces_unmatched(env: Env, shown: int | None) -> None:
    """List the reports that changed nobody and were kept for a person to read: those that could
    not be tied to a delivery (anyone can mail the bounce address) and those with a forged token,
    each with the reason. Control characters are shown as escapes, never sent to the terminal.

    \b
    Example:
        blogtool bounces unmatched
        blogtool bounces unmatched --show 12
    """
    import email
    import email.policy

    from blogtool.bounces import reports as bounce_log

    with state_db(env) as db:
        rows = {row["id"]: row for row in bounce_log.kept(db)}
    if shown is not None:
        if shown not in rows:
            raise click.UsageError(_("no kept report with id {id}").format(id=shown))
        raw = bytes(rows[shown]["raw"]).decode("utf-8", "replace")
        click.echo("\n".join(plain(line) for line in raw.splitlines()))
        return
    lines = []
    for row in rows.values():
        msg = email.message_from_bytes(bytes(row["raw"]), policy=email.policy.compat32)
        reason = row["reason"]  # a catalogue message id (reports.py marks each)
        lines.append(
            (
                str(row["id"]),
                env.shown_time(row["received_at"]),
                label_of(row["kind"]),
                _(reason) if reason else "",
                clip(str(msg.get("From", "")), 40),
                clip(str(msg.get("Subject", "")), 40),
            )
        )
    if not lines:
        click.echo(_("no unmatched reports"))
        return
    headers = (_("ID"), _("RECEIVED"), _("KIND"), _("REASON"), _("FROM"), _("SUBJECT"))
    table(headers, lines)


COMMANDS = {"bounces": bounces}
