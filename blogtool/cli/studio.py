"""The studio: write, plan and approve in a browser."""

from __future__ import annotations

import click

from blogtool.i18n import _

from .base import Env, pass_env


@click.command(name="studio")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8030, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--user",
    metavar="PERSON",
    help="Who logs in with the printed address: a person of [studio.people] (default: the "
    "first publisher there, or you when nobody is listed).",
)
@pass_env
def studio(env: Env, host: str, port: int, user: str | None) -> None:
    """Serve the studio with waitress: an editor in the browser for posts and tips, over the
    same Markdown files as the command line, with a live preview, the planner of the coming
    series weekdays, and the coming newsletter to look at, test and approve.

    The first line printed is the login address, with a token that works once; a new one is
    printed each time one is used. Behind a single sign-on proxy, [studio] user_header names
    the person instead (from [studio] trusted_proxy only). [studio.people] says who is a
    writer and who a publisher. Sessions are signed with BLOGTOOL_SECRET (without it they
    end when the studio stops). SIGTERM or Ctrl-C stops it.

    \b
    Example:
        blogtool studio
        blogtool studio --port 8030 --user anna.lind@vaxjo.example
    """
    serve_studio(env, host, port, user)


def serve_studio(env: Env, host: str, port: int, user: str | None) -> None:
    import secrets
    import threading

    from blogtool import i18n
    from blogtool.errors import BlogtoolError, UsageError
    from blogtool.store import opened
    from blogtool.studio.app import MAX_FORM, Studio
    from blogtool.studio.auth import Gate
    from blogtool.web.server import Stopper, access_logged, make_server

    from .base import listening, log_to_stderr, transport

    config = env.config
    i18n.use(config.site.language)  # the studio speaks the site's language (its pages do)
    people = config.studio.people
    if user is None:
        publishers = [p for p, role in people.items() if role == "publisher"]
        user = publishers[0] if publishers else (env.get("USER") or "studio")
    elif people and user not in people:
        raise UsageError(
            _("--user: {user!r} is not in [studio.people] ({known})").format(
                user=user, known=", ".join(people)
            )
        )
    notes = []
    try:
        secret = env.secret()
    except BlogtoolError:
        secret = secrets.token_bytes(32)
        notes.append(_("note: BLOGTOOL_SECRET is not set; logins end when the studio stops"))
    with opened(config.state_path):
        pass  # the state database exists and is up to date before the first request
    log_to_stderr()
    gate = Gate(config, secret, env.now, user)
    app = Studio(config, secret, env.now, gate, lambda: transport(env))
    limit = config.studio.max_upload * 1024 * 1024 + MAX_FORM
    with Stopper() as stopper:
        proxy = config.studio.trusted_proxy
        server = listening(
            lambda: make_server(access_logged(app), host, port, proxy, max_body=limit), host, port
        )
        where = f"http://{host}:{server.effective_port}"

        def on_login(token: str) -> None:
            click.echo(_("next login: {url}").format(url=f"{where}/login?token={token}"), err=True)

        app.on_login = on_login
        click.echo(f"{where}/login?token={gate.login_token}")  # the first line printed
        for note in notes:
            click.echo(note, err=True)
        role = gate.person(user)
        click.echo(
            _("The studio of {title} is on {where}/ for {user} ({role}); Ctrl-C stops").format(
                title=config.site.title,
                where=where,
                user=user,
                role=i18n.label_of(role.role if role else "writer"),
            ),
            err=True,
        )
        threading.Thread(target=app.warm, name="blogtool-studio-warm", daemon=True).start()
        try:
            stopper.serve(server)
        finally:
            server.close()


COMMANDS = {"studio": studio}
