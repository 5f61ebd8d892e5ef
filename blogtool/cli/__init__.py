"""The command line: parse options, call the core, turn domain errors into one clear line.

No business rule lives here. Heavy libraries are imported inside the commands that need them, so
``blogtool --help`` and ``blogtool list`` start instantly.
"""

from . import mail, publish, run, write  # noqa: F401 - importing registers the commands
from .base import Env, cli, main

__all__ = ["Env", "cli", "main"]
