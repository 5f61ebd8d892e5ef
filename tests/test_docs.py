"""Every command has help with an example, and is documented in the README."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from blogtool.cli import cli

from .conftest import REPO


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


COMMANDS = sorted(_commands(cli), key=lambda pair: pair[0])


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help_with_example_and_readme_entry(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert f"blogtool {' '.join(path)}" in result.stdout
    readme = (REPO / "README.md").read_text("utf-8")
    assert f"blogtool {' '.join(path)}" in readme, (
        f"'blogtool {' '.join(path)}' missing from README"
    )


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "blogtool", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage: blogtool" in out.stdout
