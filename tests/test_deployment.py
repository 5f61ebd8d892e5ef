"""The README's deployment section, executed as printed: the environment file, the cron line
and the systemd unit's ExecStart, each run for real on a copy of the sample site."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

README = (REPO / "README.md").read_text("utf-8")
ENV_PATH = "/etc/blogtool/kommunbloggen.env"
SITE_PATH = "/srv/kommunbloggen"
RUN_AT = "2026-11-26T08:05:00+01:00"  # a Thursday, just after the sample's tip went out


def env_file_text() -> str:
    """The environment file exactly as the README writes it (its heredoc)."""
    m = re.search(r"cat > " + re.escape(ENV_PATH) + r" <<'ENV'\n(.*?)\nENV\n", README, re.S)
    assert m, "the README no longer shows the environment file"
    return m.group(1) + "\n"


def cron_line() -> str:
    m = re.search(r"```cron\n(.*?)\n```", README, re.S)
    assert m, "the README no longer shows a cron line"
    line = m.group(1).strip()
    assert line == (REPO / "contrib/crontab").read_text("utf-8").strip().splitlines()[-1]
    return line


@pytest.fixture
def deployed(sample_site, tmp_path):
    """The sample site with one subscriber, and the env file with a real secret in it."""
    env_file = tmp_path / "kommunbloggen.env"
    text = env_file_text().replace(
        "BLOGTOOL_SECRET=change-me-to-a-long-random-value",
        "BLOGTOOL_SECRET=a-real-secret-made-for-this-test-0123456789",
    )
    env_file.write_text(text, "utf-8")
    env_file.chmod(0o600)
    exe = Path(sys.executable).parent / "blogtool"
    subprocess.run(
        [str(exe), "--site", str(sample_site), "subscribers", "add", "anna@example.se"],
        check=True, capture_output=True, env={**os.environ, "BLOGTOOL_NOW": "2026-11-01T12:00:00+01:00"},
    )  # fmt: skip
    return sample_site, env_file, exe


def clean_env(**extra: str) -> dict[str, str]:
    """What cron gives a job: hardly anything."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "LANG": "C.UTF-8", **extra}


def test_the_readme_env_file_is_plain_name_value_lines():
    for line in env_file_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # systemd reads NAME=value; an inline comment would become part of the value there.
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=[^#\s]+", line), line


def test_the_readme_placeholder_secret_is_refused(deployed):
    site, env_file, exe = deployed
    env_file.write_text(env_file_text(), "utf-8")
    result = subprocess.run(
        ["sh", "-c", f"set -a && . {env_file} && set +a && {exe} --site {site} run"],
        capture_output=True, text=True, env=clean_env(BLOGTOOL_NOW=RUN_AT),
    )  # fmt: skip
    assert result.returncode == 1
    assert "placeholder" in result.stderr


def test_the_readme_cron_line_passes_the_secret_and_sends(deployed):
    site, env_file, exe = deployed
    command = cron_line().split(None, 5)[5]  # drop the five schedule fields
    command = command.replace(ENV_PATH, str(env_file)).replace(SITE_PATH, str(site))
    command = command.replace(".venv/bin/blogtool", str(exe))
    result = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True,
        env=clean_env(BLOGTOOL_NOW=RUN_AT),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""  # --quiet: cron mails nothing
    assert len(list((site / "outbox").glob("*.eml"))) == 1


def systemd_unit() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (REPO / "contrib/blogtool.service").read_text("utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def systemd_environment(path: Path) -> dict[str, str]:
    """EnvironmentFile= as systemd reads it: NAME=value lines; # and ; lines are comments."""
    out = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def test_the_systemd_unit_execstart_runs_with_its_environment_file(deployed):
    site, env_file, exe = deployed
    unit = systemd_unit()
    assert unit["EnvironmentFile"].lstrip("-") == ENV_PATH
    assert unit["WorkingDirectory"] == SITE_PATH
    argv = shlex.split(unit["ExecStart"])
    assert argv[0] == f"{SITE_PATH}/.venv/bin/blogtool" and argv[1:] == ["run", "--quiet"]
    environment = clean_env(BLOGTOOL_NOW=RUN_AT, **systemd_environment(env_file))
    result = subprocess.run(
        [str(exe), *argv[1:]], cwd=site, capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert len(list((site / "outbox").glob("*.eml"))) == 1
