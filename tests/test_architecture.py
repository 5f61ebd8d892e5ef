"""The layout's rules, checked: one home for each piece of knowledge, a thin command line,
layers that only look down, and one clear line for an operating-system error. (How long a
module or a function is, is for a reviewer: make lint lists ruff's complexity findings.)"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from blogtool.cli.env import Env

from .conftest import NOW, REPO

PACKAGE = REPO / "blogtool"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant in a module, with its line (f-string parts included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE TABLE|CREATE INDEX)\b")
_DELIVERIES_SQL = re.compile(r"\b(FROM|INTO|UPDATE|JOIN|TABLE|ON)\s+deliveries\b", re.IGNORECASE)


def test_only_the_queue_module_has_sql_on_the_deliveries_table():
    offenders = [
        f"{_rel(p)}:{line}"
        for p in MODULES
        for line, text in _strings(p)
        if _DELIVERIES_SQL.search(text) and _rel(p) != "blogtool/delivery/queue.py"
    ]
    assert offenders == []
    queue = PACKAGE / "delivery" / "queue.py"
    assert any(_DELIVERIES_SQL.search(t) for _, t in _strings(queue))


def test_the_command_line_has_no_sql():
    offenders = [
        f"{_rel(p)}:{line}: {text[:40]}"
        for p in sorted((PACKAGE / "cli").glob("*.py"))
        for line, text in _strings(p)
        if _SQL.search(text)
    ]
    assert offenders == []


def test_only_env_reads_the_environment_and_the_terminal():
    offenders = [
        f"{_rel(p)}:{n}"
        for p in MODULES
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if re.search(r"os\.environ|isatty|os\.getenv", line) and _rel(p) != "blogtool/cli/env.py"
    ]
    assert offenders == []


def test_the_core_never_reads_the_clock():
    offenders = [
        f"{_rel(p)}:{n}"
        for p in MODULES
        for n, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if re.search(r"\bdatetime\.now\(|\bdt\.datetime\.now\(|time\.time\(\)", line)
        and _rel(p) not in ("blogtool/cli/env.py", "blogtool/store.py")
    ]
    # store.py stamps when a migration ran; that is bookkeeping, not a decision.
    assert offenders == []


# Which package may import which. The foundation (top-level modules) imports no package but
# config; pictures (finding, making, marking up and taking in pictures) sits on config alone;
# content imports only it and site/urls.py, for the names the site's own pages reserve.
_BELOW_MAIL = {"(top)", "config", "pictures", "content", "site"}
# The four packages of the mail side (people and their lists, letters, the queue and its
# transports, what comes back) sit on one layer: a sign-up queues its confirmation mail, a
# send asks who is on a list, forgetting a person reaches every table.
_MAIL = {"subscribers", "newsletter", "delivery", "bounces"}
ALLOWED = {
    "(top)": {"(top)", "config"},
    "config": {"(top)", "config"},
    "pictures": {"(top)", "config", "pictures"},
    "content": {"(top)", "config", "pictures", "content", "site.urls"},
    "site": {"(top)", "config", "pictures", "content", "site"},
    **{package: _BELOW_MAIL | _MAIL for package in _MAIL},
    "job": _BELOW_MAIL | _MAIL | {"job"},
    "web": _BELOW_MAIL | _MAIL | {"web"},
    "importer": {"(top)", "config", "pictures", "content", "site", "importer"},
    "records": _BELOW_MAIL | _MAIL | {"records"},
    # The studio answers over HTTP as the reader service does (web.http, web.server).
    "studio": _BELOW_MAIL | _MAIL | {"web", "studio"},
    "cli": _BELOW_MAIL | _MAIL | {"job", "web", "importer", "records", "studio", "cli"},
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and (PACKAGE / parts[1]).is_dir() else "(top)"


def test_layers_only_import_downwards():
    wrong = []
    for path in MODULES:
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        source = _package(module)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("blogtool."):
                target = node.module or ""
                allowed = ALLOWED[source]
                if _package(target) not in allowed and ".".join(target.split(".")[1:3]) not in (
                    allowed
                ):
                    wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_command_modules_do_not_import_each_other():
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        if path.name in ("base.py", "__init__.py"):
            continue
        imports = re.findall(r"^from \.(\w+) import", path.read_text("utf-8"), re.MULTILINE)
        assert set(imports) <= {"base"}, f"{path.name} imports {imports}"


def test_a_command_loads_only_its_own_module():
    """``list`` reads the content (with the Markdown reader) but loads no other command, and
    neither the templates, the mail nor the feeds."""
    code = (
        "import sys; from blogtool.cli import cli\n"
        "cli(['--site', sys.argv[1], 'list'], standalone_mode=False)\n"
        "print(sorted(m for m in sys.modules if m.startswith('blogtool.cli.')))\n"
        "print('jinja2' in sys.modules, 'yagmail' in sys.modules, 'feedgen' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO)],
        capture_output=True,
        text=True,
        check=True,
        env={"BLOGTOOL_NOW": NOW.isoformat(), "PATH": "/usr/bin:/bin"},
    ).stdout.splitlines()
    assert out[-2] == "['blogtool.cli.base', 'blogtool.cli.env', 'blogtool.cli.review']"
    assert out[-1] == "False False False"


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["subscribers", "export", "/proc/nope/x.csv"], "/proc/nope"),
        (["build", "-o", "/proc/out"], "/proc/out"),
    ],
)
def test_an_os_error_is_one_line_naming_the_path(run, args, path):
    result = run(*args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}"), result.stderr
    assert "Traceback" not in result.output


def test_env_reads_a_given_environment_not_the_process_one(sample_site, monkeypatch):
    monkeypatch.setenv("BLOGTOOL_SECRET", "the-process-secret-is-not-read")
    env = Env(
        sample_site,
        environ={
            "BLOGTOOL_NOW": "2027-01-07T08:00:00+01:00",
            "BLOGTOOL_SECRET": "a-secret-given-to-this-env-only",
        },
    )
    assert env.now().isoformat() == "2027-01-07T08:00:00+01:00"
    assert env.secret() == b"a-secret-given-to-this-env-only"
    assert Env(sample_site, environ={}).get("BLOGTOOL_SECRET") is None


def test_tests_start_processes_only_through_the_helper_that_stops_them():
    """A process a test starts is stopped whatever the test's outcome (``processes.Started``),
    and a test waits on events, not on a fixed sleep: no other Popen, no time.sleep in tests.
    (``subprocess.run`` ends its process itself, with a timeout.) A waitress server in a thread
    is run and stopped by ``processes.serving_waitress`` only: one closed from another thread
    leaves its loop polling numbers that the next file opened reuses (a test once read a post
    whose first bytes the loop had taken)."""
    helper = REPO / "tests" / "processes.py"
    offenders = [
        f"{_rel(path)}:{n}: {line.strip()}"
        for path in sorted((REPO / "tests").glob("*.py"))
        if path != helper
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(r"\bPopen\(|\btime\.sleep\(|target=[\w.]*server\.run\b", line)
    ]
    assert offenders == []


# Libraries blogtool uses; none of their private names (a leading underscore, or a
# name-mangled __method) may appear in blogtool/, nor a replacement of one of their functions.
LIBRARIES = (
    "markdown", "jinja2", "yaml", "frontmatter", "click", "smtplib", "yagmail", "waitress",
    "PIL", "Image", "feedparser", "feedgen", "babel", "nh3", "css_inline", "icalendar",
    "holidays", "flufl", "imap_tools", "defusedxml", "markdownify", "keyring", "email_validator",
    "multiprocessing", "atexit", "os", "sys", "gc", "threading", "subprocess", "sqlite3",
)  # fmt: skip
_PRIVATE = re.compile(
    rf"\b(?:{'|'.join(LIBRARIES)})(?:\.[A-Za-z]\w*)*\._[A-Za-z]"  # markdown.util._x, os._exit
    r"|\._[A-Z]\w*__[a-z]"  # InlineProcessor._InlineProcessor__applyPattern
    r"|\.__[a-z]\w*[a-z]\b(?<!__)"  # x.__handleInline
    r"|\._(?:help_option|run_exitfuncs|parse|reader)\b"  # private attributes once used here
)


def test_no_private_name_of_a_library_is_used():
    offenders = [
        f"{_rel(path)}:{n}: {line.strip()}"
        for path in MODULES
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if _PRIVATE.search(line.split("#", 1)[0])
    ]
    assert offenders == []
    gone = ("content/quickyaml.py", "site/mdinline.py", "site/quickjinja.py")
    assert [m for m in gone if (PACKAGE / m).exists()] == []


@pytest.mark.parametrize(
    "line",
    [
        "atexit._run_exitfuncs()",
        "os._exit(code)",
        "command._help_option = None",
        "loop = InlineProcessor._InlineProcessor__applyPattern",
        "self.__handleInline(data)",
        "markdown.util._HTML_PLACEHOLDER",
        "env._parse(source, name, filename)",
    ],
)
def test_the_private_name_check_finds_what_it_looks_for(line):
    assert _PRIVATE.search(line)
