"""blogtool.toml: defaults, and clear errors for unknown keys and wrong types."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from blogtool.config import load_config
from blogtool.errors import ConfigError

from .conftest import MINIMAL_CONFIG, write


def test_defaults_fill_every_option(empty_site):
    config = load_config(empty_site)
    assert config.site.language == "sv"
    assert config.site.timezone.key == "Europe/Stockholm"
    assert config.site.base_url == "https://blogg.example.se/"
    assert config.tips.title == "Torsdagstips"
    assert config.tips.slug == "torsdagstips"
    assert config.tips.weekday == 3
    assert config.tips.time == dt.time(8, 0)
    assert config.check.lix_limit == 50
    assert config.build.feed_limit == 20
    assert config.services["naturkartan"].name == "Växjö Naturkarta"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[tips]\nweekdy = "thursday"\n', "[tips] weekdy: unknown key; did you mean 'weekday'?"),
        ("[tips]\ntime = 8\n", "[tips] time: expected a string, got an integer 8"),
        ('[tips]\ntime = "8.00"\n', "[tips] time: expected a time of day as HH:MM"),
        ('[tips]\nweekday = "torsdagen"\n', "[tips] weekday: expected a weekday"),
        ("[build]\nfeed_limit = 0\n", "[build] feed_limit: expected a positive integer"),
        ('[check]\nlix_limit = "50"\n', "[check] lix_limit: expected an integer or a number"),
        ('[servics.x]\nname = "x"\n', "[servics]: unknown section; did you mean [services]?"),
        ('[services.simhall]\nname = "Simhallen"\n', "[services.simhall] description: missing"),
        (
            '[services.bad]\nname = "B"\nurl = "ftp://x"\ndescription = "d"\n',
            "[services.bad] url: expected an absolute http(s) URL",
        ),
    ],
)
def test_bad_config_names_file_line_and_key(empty_site, run_empty, extra, expected):
    write(empty_site / "blogtool.toml", MINIMAL_CONFIG + extra)
    with pytest.raises(ConfigError) as excinfo:
        load_config(empty_site)
    message = str(excinfo.value)
    assert expected in message
    assert f"{empty_site / 'blogtool.toml'}:" in message
    # The line number points at the key (or the table) in the file.
    line = int(message.split("blogtool.toml:")[1].split(":")[0])
    assert line > MINIMAL_CONFIG.count("\n")

    result = run_empty("list")
    assert result.exit_code == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_toml_and_bad_timezone(empty_site, run_empty):
    write(empty_site / "blogtool.toml", MINIMAL_CONFIG + "[site]\n")
    result = run_empty("check")
    assert result.exit_code == 1
    assert "invalid TOML" in result.stderr

    write(
        empty_site / "blogtool.toml",
        MINIMAL_CONFIG.replace("[site]\n", '[site]\ntimezone = "Europe/Växjö"\n'),
    )
    result = run_empty("check")
    assert result.exit_code == 1
    assert "[site] timezone: expected an IANA time zone" in result.stderr


def test_every_problem_is_listed(empty_site):
    write(
        empty_site / "blogtool.toml",
        '[site]\ntitle = 3\n\n[tips]\ntime = "25:00"\nfoo = 1\n',
    )
    with pytest.raises(ConfigError) as excinfo:
        load_config(empty_site)
    lines = str(excinfo.value).splitlines()
    assert any("blogtool.toml:2: [site] title: expected a string" in x for x in lines)
    assert any("[site] base_url: missing" in x for x in lines)
    assert any("blogtool.toml:5: [tips] time" in x for x in lines)
    assert any("blogtool.toml:6: [tips] foo: unknown key" in x for x in lines)


def test_missing_config_is_a_clear_error(tmp_path):
    from click.testing import CliRunner

    from blogtool.cli import cli

    result = CliRunner().invoke(cli, ["--site", str(tmp_path), "list"])
    assert result.exit_code == 1
    assert "blogtool.toml: not found" in result.stderr


def test_config_command_prints_the_effective_configuration(run_empty):
    result = run_empty("config")
    assert result.exit_code == 0
    assert 'timezone = "Europe/Stockholm"' in result.stdout
    assert "[services.naturkartan]" in result.stdout
    assert 'time = "08:00"' in result.stdout
    data = json.loads(run_empty("config", "--json").stdout)
    assert data["tips"]["weekday"] == "thursday"
    assert data["build"]["feed_limit"] == 20
