"""Subscribers, and the unsubscribe endpoint that answers the link in every newsletter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from blogtool.errors import ExitStatus, UsageError
from blogtool.i18n import _, label_of, ngettext

from .base import Env, clip, pass_env, plain, serve_web, state_db, table

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
@click.option(
    "--list",
    "chosen",
    multiple=True,
    metavar="KEY",
    help="A letter to get (repeat for more; a key of [lists]). Default: the series' letter.",
)
@pass_env
def subscribers_add(env: Env, email: str, name: str, source: str, chosen: tuple[str, ...]) -> None:
    """Add EMAIL as an active subscriber, recording when and how consent was given.

    Adding an address that had unsubscribed makes it active again (new consent).

    \b
    Example:
        blogtool subscribers add anna@example.se --name "Anna Andersson" --source "webbformulär"
        blogtool subscribers add bo@example.se --list torsdagstips --list blogg
    """
    from blogtool.store import transaction
    from blogtool.subscribers import lists
    from blogtool.subscribers import people as subs

    keys = lists.check_lists(env.config, chosen) if chosen else []
    with state_db(env) as db, transaction(db):
        outcome, subscriber = subs.add(db, email, name, env.now(), source)
        if keys and subscriber is not None:
            lists.set_lists(db, subscriber.id, keys, env.now())
    if outcome == "suppressed":
        raise UsageError(
            _(
                "{email} asked to be forgotten; it is on the suppression list and was not added"
            ).format(email=email)
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
    from blogtool.subscribers import people as subs

    with state_db(env) as db:
        subscriber = subs.remove(db, email, env.now())
    click.echo(_("unsubscribed: {email}").format(email=subscriber.email))


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

    from blogtool.subscribers import people as subs
    from blogtool.subscribers.lists import lists_of

    with state_db(env) as db:
        rows = [(s, lists_of(db, env.config, s.id)) for s in subs.listing(db, status)]
    if as_json:
        data = [{**asdict(s), "lists": keys} for s, keys in rows]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    headers = (_("EMAIL"), _("NAME"), _("STATUS"), _("CONSENT"), _("SOURCE"), _("LISTS"))
    table(
        headers,
        [
            (
                s.email,
                clip(s.name, 30),
                label_of(s.status),
                env.shown_time(s.consent_at),
                s.consent_source,
                " ".join(keys),
            )
            for s, keys in rows
        ],
    )


@subscribers.command(name="count")
@pass_env
def subscribers_count(env: Env) -> None:
    """Count subscribers by status.

    \b
    Example:
        blogtool subscribers count
    """
    from blogtool.subscribers import people as subs

    with state_db(env) as db:
        counts = subs.counts(db)
    click.echo(
        _("{active} active, {unsubscribed} unsubscribed, {bounced} bounced").format(
            active=counts["active"], unsubscribed=counts["unsubscribed"], bounced=counts["bounced"]
        )
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
    from blogtool.subscribers import people as subs

    with state_db(env) as db:
        from blogtool.subscribers import lists

        def set_lists(subscriber_id: int, cell: str) -> None:
            keys = lists.check_lists(env.config, cell.split())
            lists.set_lists(db, subscriber_id, keys, env.now())

        report = subs.import_csv(db, file, env.now(), set_lists)
    assert report.invalid is not None
    for line, problem in report.invalid:
        click.secho(f"{file}:{line}: {problem}", fg="red", err=True)
    click.echo(
        _(
            "{added} added, {existing} already there, {suppressed} suppressed, {invalid} invalid"
        ).format(
            added=report.added,
            existing=report.existing,
            suppressed=report.suppressed,
            invalid=len(report.invalid),
        )
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
    from blogtool.subscribers import people as subs

    with state_db(env) as db:
        from blogtool.subscribers.lists import lists_of

        data = subs.export_csv(db, lambda sid: lists_of(db, env.config, sid))
    write_atomic(file, data, private=True)  # addresses: its owner's alone (0600)
    count = data.count(b"\n") - 1
    click.echo(_("wrote {count} subscribers to {file}").format(count=count, file=file))


@subscribers.command(name="show")
@click.argument("email")
@pass_env
def subscribers_show(env: Env, email: str) -> None:
    """Print everything stored about one subscriber (for a GDPR access request).

    \b
    Example:
        blogtool subscribers show anna@example.se
    """
    from blogtool.bounces.reports import of_subscriber
    from blogtool.subscribers.lists import lists_of
    from blogtool.subscribers.privacy import stored_about

    with state_db(env) as db:
        subscriber, deliveries = stored_about(db, email)
        keys = lists_of(db, env.config, subscriber.id)
        bounced = of_subscriber(db, subscriber.id)
    when = env.shown_time
    reason = f" ({subscriber.status_reason})" if subscriber.status_reason else ""
    for label, value in (
        (_("email"), subscriber.email),
        (_("name"), subscriber.name),
        (_("status"), label_of(subscriber.status)),
        (_("status changed"), when(subscriber.status_changed_at) + reason),
        (_("consent"), when(subscriber.consent_at)),
        (_("consent source"), subscriber.consent_source),
        (_("consent text version"), subscriber.consent_version or ""),
        (_("added"), when(subscriber.created_at)),
        (_("updated"), when(subscriber.updated_at)),
        (_("lists"), " ".join(keys)),
        (_("deliveries"), str(len(deliveries))),
    ):
        click.echo(plain(f"{label}: {value}".rstrip()))
    for d in deliveries:
        click.echo(
            plain(
                ngettext(
                    "  issue {id}: {status}, {n} attempt",
                    "  issue {id}: {status}, {n} attempts",
                    d["attempts"],
                ).format(id=d["issue_id"], status=label_of(d["status"]), n=d["attempts"])
                + (_(", sent {when}").format(when=when(d["sent_at"])) if d["sent_at"] else "")
                + (_(", message {id}").format(id=d["message_id"]) if d["message_id"] else "")
                + (
                    _(", last error: {error}").format(error=d["last_error"])
                    if d["last_error"]
                    else ""
                )
            )
        )
    click.echo(_("bounces: {count}").format(count=len(bounced)))
    for b in bounced:
        click.echo(
            plain(
                f"  {when(b['received_at'])}: {b['kind']}"
                + (f" {b['status']}" if b["status"] else "")
                + (f": {b['diagnostic']}" if b["diagnostic"] else "")
            )
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
    from blogtool.subscribers.privacy import forget

    if not yes and env.interactive:
        click.confirm(_("Erase everything stored about {email}?").format(email=email), abort=True)
    with state_db(env) as db:
        erased = forget(db, email, env.now())
    click.echo(
        _("forgotten: {email} (address removed from {erased} deliveries; hash suppressed)").format(
            email=email, erased=erased
        )
    )


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
    """The same as 'blogtool web' (kept for existing setups): the reader service, which
    answers [newsletter] unsubscribe_url among its pages.

    \b
    Example:
        blogtool unsubscribe serve --port 8025
    """
    serve_web(env, host, port)


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
    from blogtool.subscribers.unsubscribing import unsubscribe as do_unsubscribe

    token = token.strip().removeprefix("unsubscribe").strip()
    with state_db(env) as db:
        outcome = do_unsubscribe(db, env.secret(), token, env.now(), "mailto request")
    if outcome.status == "invalid":
        raise UsageError(
            _("the token is not valid for any subscriber (altered, or the secret changed)")
        )
    click.echo(f"{outcome.status}: {outcome.email}")


COMMANDS = {"subscribers": subscribers, "unsubscribe": unsubscribe}
