"""The command line: parse options, call the core, turn domain errors into one clear line.

``base`` holds the group, which imports a command's module (``write``, ``review``, ``publish``,
``subscribers``, ``newsletter``, ``run``) only when that command is used.
"""

from blogtool.cli.base import cli, main

__all__ = ["cli", "main"]
