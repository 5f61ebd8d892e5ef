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


def test_configuration_reference_is_printed_from_the_declarations():
    from blogtool.config import schema
    from blogtool.config.model import SECTIONS

    result = CliRunner().invoke(cli, ["config", "--reference"])
    assert result.exit_code == 0
    for name, section in SECTIONS.items():
        assert f"## [{name}]" in result.stdout
        for _, toml, spec in schema.keys(section):
            assert f"| `{toml}` |" in result.stdout and spec.doc in result.stdout
    assert (REPO / "docs" / "configuration.md").read_text("utf-8") == result.stdout, (
        "docs/configuration.md is out of date: make docs"
    )


def test_effective_configuration_shows_every_key_with_its_value(sample_site):
    import json

    from blogtool.config import schema
    from blogtool.config.model import SiteConfig

    result = CliRunner().invoke(cli, ["--site", str(sample_site), "config", "--json"])
    data = json.loads(result.stdout)
    assert [toml for _, toml, _ in schema.keys(SiteConfig)] == list(data["site"])
    assert data["site"]["timezone"] == "Europe/Stockholm"
    assert data["tips"]["weekday"] == "thursday" and data["tips"]["time"] == "08:00"
    assert data["newsletter"]["from"].endswith(">")  # derived when not set
