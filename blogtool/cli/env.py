"""The outside world as blogtool sees it: the site, the clock, environment variables and the
terminal.

This is the only module that reads ``os.environ``, asks whether a stream is a terminal, or reads
the clock. The core takes what it needs as arguments; the command line builds one ``Env`` per
invocation, and tests can build their own with a pinned clock and a made-up environment.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from blogtool import i18n
from blogtool.errors import UsageError

if TYPE_CHECKING:
    from blogtool.config import Config, SmtpConfig
    from blogtool.content.model import Site
    from blogtool.site.output import Overlap

NOW_ENV = "BLOGTOOL_NOW"
SECRET_ENV = "BLOGTOOL_SECRET"
SMTP_PASSWORD_ENV = "BLOGTOOL_SMTP_PASSWORD"
IMAP_PASSWORD_ENV = "BLOGTOOL_IMAP_PASSWORD"


def language_for_click() -> None:
    """For the real command only (``main``): BLOGTOOL_LANG, the one language variable gettext
    does not read, becomes this process's LANGUAGE, which it reads first, so Click's own words
    (from gettext's default domain) speak it too."""
    chosen = os.environ.get("BLOGTOOL_LANG")
    if chosen:
        os.environ["LANGUAGE"] = chosen


def speak_the_users_language() -> None:
    """The command line's language, from the environment (``i18n.language_from``)."""
    i18n.use(i18n.language_from(os.environ))


class Env:
    """What every command shares: where the site is, what time it is, what the environment
    and the terminal say."""

    def __init__(
        self,
        site: Path | None = None,
        debug: bool = False,
        environ: Mapping[str, str] | None = None,
    ):
        self.site_option = site
        self.debug = debug
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self._config: Config | None = None
        self._pinned: tuple[str, dt.datetime] | None = None

    # the site ---------------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        if self._config is None:
            from blogtool.config import load_config

            self._config = load_config(self._root())
        return self._config

    def lenient_config(self) -> Config:
        """The config even when some keys are wrong, as long as it is usable; what was wrong
        is in ``Config.problems``. For ``check``, which reports everything at once."""
        if self._config is None:
            from blogtool.config import load_config

            self._config = load_config(self._root(), lenient=True)
        return self._config

    def _root(self) -> Path:
        from blogtool.config import find_root

        return self.site_option.resolve() if self.site_option else find_root(Path.cwd())

    def reload_config(self) -> Config:
        """Read blogtool.toml again (the preview server does when it changes)."""
        self._config = None
        return self.config

    def load_site(
        self,
        cached: bool = False,
        to_the_end: bool = False,
        seen: dict[str, os.stat_result] | None = None,
        overlap: Overlap | None = None,
        readability: bool = False,
    ) -> Site:
        """Every post and tip. ``cached`` reuses the parse of unchanged files (build, run).
        ``to_the_end``: the site lives until the command ends (not so in a preview server,
        which loads it again on every change). ``seen``: what a snapshot just found.
        ``overlap``: a build's work while worker processes parse (``site.output.Overlap``),
        which also takes the content cache's writing. ``readability``: count each text's LIX
        as it is read (check)."""
        from blogtool.content.load import load_site

        cache = self.config.state_dir / "cache" / "content" if cached else None
        if overlap is None:
            site = load_site(self.config, cache, seen, readability=readability)
        else:
            site = load_site(
                self.config, cache, seen, overlap.parsing, overlap.defer, readability=readability
            )
        if to_the_end:
            # Frozen, the cyclic garbage collector no longer walks the site's hundreds of
            # thousands of objects on every full pass (for 5,000 posts, a tenth of a
            # one-change build spent finding no garbage).
            gc.freeze()
        return site

    # the clock --------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The one place that reads the clock; ``BLOGTOOL_NOW`` pins it for rehearsals and tests."""
        from blogtool.timeutil import parse_now

        pinned = self.environ.get(NOW_ENV)
        tz = self.config.site.timezone
        if pinned:
            if self._pinned is None or self._pinned[0] != pinned:
                try:
                    self._pinned = (pinned, parse_now(pinned).astimezone(tz))
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
            return self._pinned[1]
        return dt.datetime.now(tz)

    def shown_time(self, stored: str | None) -> str:
        """A stored time (ISO 8601, UTC) as a person reads it: in the site's zone and the
        command line's language ("tors 3 dec. 2026 08:00"); empty when there is none."""
        from blogtool.timeutil import short_datetime

        if not stored:
            return ""
        at = dt.datetime.fromisoformat(stored).astimezone(self.config.site.timezone)
        return short_datetime(at, i18n.cli_language())

    @staticmethod
    def clock() -> float:
        """Wall-clock seconds, for retry times that survive a restart."""
        return time.time()

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    # the environment --------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        return self.environ.get(name) or None

    def secret(self) -> bytes:
        """The key that signs unsubscribe links; raises SecretMissing with how to make one."""
        from blogtool.subscribers.tokens import secret_from

        return secret_from(self.get(SECRET_ENV), SECRET_ENV)

    def smtp_password(self, smtp: SmtpConfig) -> str | None:
        """From the environment, the keyring, or (at a terminal) a prompt."""
        from blogtool.delivery.transports import smtp_password

        return smtp_password(smtp, self.get(SMTP_PASSWORD_ENV), self._prompt_hidden)

    def imap_password(self) -> str:
        """The bounce mailbox's password: the environment, then the keyring."""
        from blogtool.bounces.mailbox import imap_password

        return imap_password(self.config, self.get(IMAP_PASSWORD_ENV))

    # the terminal -----------------------------------------------------------------------------
    @property
    def interactive(self) -> bool:
        """A person is at the keyboard (not cron, not a pipe)."""
        return sys.stdin.isatty()

    @property
    def shows_progress(self) -> bool:
        """Progress bars go to stderr only when somebody watches it."""
        return sys.stderr.isatty()

    def _prompt_hidden(self, question: str) -> str | None:
        if not self.interactive:
            return None
        import click

        return str(click.prompt(question, hide_input=True))
