"""Domain errors and exit codes.

The core raises these; only the CLI turns them into a message and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from blogtool.i18n import _


class ExitStatus(IntEnum):
    """Every exit code blogtool uses."""

    OK = 0
    #: Invalid content or configuration, a refused action, a failed delivery.
    ERROR = 1
    #: Bad command-line usage (Click's own code).
    USAGE = 2
    #: Another blogtool process holds the site's lock.
    LOCKED = 3


class BlogtoolError(Exception):
    """Base class: a problem the user can act on, shown as one line."""

    exit_code: ExitStatus = ExitStatus.ERROR


class ConfigError(BlogtoolError):
    """blogtool.toml is missing, malformed or has a wrong key or type."""


class UsageError(BlogtoolError):
    """A command was asked to do something it must refuse."""


class LockedError(BlogtoolError):
    exit_code = ExitStatus.LOCKED


@dataclass(frozen=True)
class Problem:
    """One finding about one file: where, which key, what was expected."""

    path: Path
    message: str
    key: str | None = None
    line: int | None = None
    severity: str = "error"  # "error" or "warning"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
        key = f" {self.key}:" if self.key else ""
        severity = _("error") if self.is_error else _("warning")
        return f"{where}: {severity}:{key} {self.message}"


class ContentError(BlogtoolError):
    """One or more content files are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.is_error]
        super().__init__("\n".join(str(p) for p in errors))


def unknown(what: str, name: str, known: list[str], shown: str = "{!r}") -> str:
    """'unknown key; did you mean 'date'?', or the known names when nothing is close.
    ``shown`` formats a name as the file writes it ('{!r}' for keys, '[{}]' for sections)."""
    import difflib  # (only for an error: the import costs a little every start-up)

    hint = difflib.get_close_matches(name, known, n=1)
    if hint:
        return _("unknown {what}; did you mean {hint}?").format(
            what=what, hint=shown.format(hint[0])
        )
    if not known:
        return _("unknown {what}; none are configured").format(what=what)
    return _("unknown {what}; expected one of {known}").format(what=what, known=", ".join(known))
