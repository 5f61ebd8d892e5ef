"""The readers' own web service: sign-up, preferences, unsubscribe, my data."""

from __future__ import annotations

from pathlib import Path

import click

from .base import Env, pass_env, serve_web


@click.command(name="web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--with-site",
    "site_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Also serve this built site (e.g. public) as static files, as nginx would: for "
    "trying the service on one machine.",
)
@pass_env
def web(env: Env, host: str, port: int, site_dir: Path | None) -> None:
    """Serve the readers' own pages under [web] base_url with waitress: the sign-up form
    (double opt-in), confirmation, preferences, one-click unsubscribe (RFC 8058), "my data"
    with erasure, and a health check (…/halsa).

    Run it behind the site's web server, which terminates https (see contrib/nginx.conf and
    contrib/blogtool-web.service). It mails confirmations as they are asked for, through the
    site's [smtp] or outbox. SIGTERM stops it cleanly. The access log (stderr) names no address.

    \b
    Example:
        blogtool web --port 8025
        blogtool web --port 8025 --with-site public
    """
    serve_web(env, host, port, site_dir)


COMMANDS = {"web": web}
