"""Shared fixtures: a copy of the sample site per test, a pinned clock, a CLI runner."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import random
import shutil
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from blogtool.cli import cli

REPO = Path(__file__).resolve().parent.parent
STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Saturday 28 November 2026, 09:00 in Stockholm: the sample site has published tips behind this
# moment and scheduled ones ahead of it.
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=STOCKHOLM)

SECRET = "ett-hemligt-varde-for-testerna-1234"

MINIMAL_CONFIG = """\
[site]
title = "Testbloggen"
base_url = "https://blogg.example.se/"

[services.naturkartan]
name = "Växjö Naturkarta"
url = "https://naturkartan.se/sv/vaxjo"
description = "Naturreservat och leder."
"""


# --- Hypothesis: one place for its profiles, a new seed every run ---------------------------------

_PROFILE = {
    "deadline": None,  # a busy machine is slow, not wrong
    "print_blob": True,  # a failure prints the @reproduce_failure line that replays it
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile(
    "test", max_examples=40, **_PROFILE
)  # make test (make fuzz: the long version)
settings.register_profile("fuzz", max_examples=1500, **_PROFILE)  # make fuzz
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "test"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Each run draws new examples from a seed of its own (unless --hypothesis-seed names one),
    shown in the header and again after a failure. The workers of a parallel run inherit it
    through the environment, so they all draw from the same seed."""
    seed = config.getoption("hypothesis_seed", None) or os.environ.get("BLOGTOOL_TEST_SEED")
    seed = seed or str(random.SystemRandom().randrange(2**32))
    os.environ["BLOGTOOL_TEST_SEED"] = config.option.hypothesis_seed = seed


def pytest_report_header(config: pytest.Config) -> str:
    return f"hypothesis seed {config.getoption('hypothesis_seed')}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if exitstatus != 0:
        seed = config.getoption("hypothesis_seed")
        terminalreporter.write_line(
            f"Hypothesis drew from seed {seed}: 'make test SEED={seed}' "
            f"(or pytest --hypothesis-seed={seed}) draws the same examples again."
        )


# The longest tests go first: the workers then share out the rest around them, instead of one
# worker running a long test alone at the end (longest first is how a queue finishes soonest).
LONGEST_FIRST = (
    "tests/test_deployment.py::test_the_deployment_section_followed_literally",
    "tests/test_browser_studio.py",
    "tests/test_browser_web.py::test_every_reader_page",
    "tests/test_english_site.py::test_english_pages_pass_axe",
    "tests/test_browser_theme.py::test_every_page_fits",
    "tests/test_browser_hosts.py::test_no_page_of_the_built_site",
    "tests/test_kill.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        found = [n for n, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)]
        return found[0] if found else len(LONGEST_FIRST)

    items.sort(key=rank)  # (a stable sort: the rest keep their order)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the real clock's override, a real site or a real home directory."""
    for name in (
        "BLOGTOOL_NOW",
        "BLOGTOOL_SITE",
        "BLOGTOOL_SECRET",
        "BLOGTOOL_SMTP_PASSWORD",
        "BLOGTOOL_IMAP_PASSWORD",
        "BLOGTOOL_LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_MESSAGES",
    ):
        monkeypatch.delenv(name, raising=False)
    # The command line speaks English unless a test asks for another language (a command a
    # test ran in Swedish leaves the process speaking it: core code a test calls would too).
    monkeypatch.setenv("LANG", "C.UTF-8")
    from blogtool import i18n

    i18n.use(i18n.FALLBACK)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDITOR", "true")
    yield
    # A build command freezes the site it loaded for the rest of its process (the cyclic
    # collector need not walk it); in the test process, the next test's objects would join.
    gc.unfreeze()


@pytest.fixture(scope="session")
def sample_pictures(tmp_path_factory) -> Path:
    """The sample site's pictures, made once per test session (Pillow takes a while). Each
    sample site starts with a copy of this cache, as a site that has been built before does;
    tests about making pictures use pictures of their own."""
    from blogtool.config import load_config
    from blogtool.content.load import load_site
    from blogtool.pictures import markup, variants

    root = tmp_path_factory.mktemp("pictures") / "site"
    _copy_sample(root)
    config = load_config(root)
    site = load_site(config)
    variants.prepare(config, markup.wanted(config, (*site.items, *site.unready)), jobs=2)
    return config.state_dir / "cache" / "images"


def _copy_sample(root: Path) -> None:
    root.mkdir(parents=True)
    shutil.copy(REPO / "blogtool.toml", root / "blogtool.toml")
    for name in ("posts", "tips", "templates", "media"):
        shutil.copytree(REPO / name, root / name)


@pytest.fixture
def sample_site(tmp_path, sample_pictures) -> Path:
    """A private copy of the repository's sample site."""
    root = tmp_path / "site"
    _copy_sample(root)
    from blogtool.files import private_dir

    cache = private_dir(root / ".blogtool" / "cache")  # private, as blogtool makes it
    shutil.copytree(sample_pictures, cache / "images")
    (cache / "images").chmod(0o700)
    return root


@pytest.fixture
def empty_site(tmp_path) -> Path:
    """A site with one service and no content."""
    root = tmp_path / "empty"
    for name in ("posts", "tips", "templates"):
        (root / name).mkdir(parents=True)
    (root / "blogtool.toml").write_text(MINIMAL_CONFIG, encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but blogtool's own cache (a parse cache, not the user's data)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".blogtool/cache" not in p.as_posix()
    }


class Run:
    def __init__(self, root: Path):
        self.root = root

    def __call__(
        self,
        *args: str,
        now: dt.datetime | None = NOW,
        input: str | None = None,
        lang: str | None = None,
    ) -> Outcome:
        env = {"BLOGTOOL_NOW": now.isoformat()} if now else {}
        if lang is not None:  # the command line's language (English otherwise)
            env["LANG"] = lang
        result = CliRunner().invoke(cli, ["--site", str(self.root), *args], env=env, input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise AssertionError(
                "command raised instead of exiting cleanly:\n"
                + "".join(traceback.format_exception(result.exception))
            )
        return Outcome(result)


class Outcome:
    """A command's Click result whose repr carries its output, so a failed
    ``assert run(...).exit_code == 0`` says why the command failed."""

    def __init__(self, result: Result):
        self.result = result

    def __getattr__(self, name: str):
        return getattr(self.result, name)

    def __repr__(self) -> str:
        return f"<exit {self.result.exit_code}, output:\n{self.result.output}>"


@pytest.fixture
def run(sample_site) -> Run:
    return Run(sample_site)


@pytest.fixture
def run_empty(empty_site) -> Run:
    return Run(empty_site)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def mail_config(port: int) -> str:
    """A [newsletter] and an [smtp] block for a test SMTP server on 127.0.0.1:port."""
    return f"""
[newsletter]
from = "Växjö kommun <nyhetsbrev@vaxjo.example>"
reply_to = "Kommunikationsavdelningen <kommunikation@vaxjo.example>"
unsubscribe_url = "https://blogg.vaxjo.example/avregistrera"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout = 5
max_attempts = 4
retry_delay = 0.01
"""


@pytest.fixture
def port() -> int:
    from .smtp_sink import free_port

    return free_port()


@pytest.fixture
def mail_site(sample_site, port, monkeypatch) -> Path:
    """The sample site sending to a test SMTP server on ``port``, with a token secret."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    with open(sample_site / "blogtool.toml", "a", encoding="utf-8") as fh:
        fh.write(mail_config(port))
    return sample_site


WEB_CONFIG = """
[web]
base_url = "https://blogg.vaxjo.example/nyhetsbrev/"
requests_per_ip = 12
"""


@pytest.fixture
def mrun(mail_site) -> Run:
    """The CLI on the sample site with a test SMTP server's [smtp]."""
    return Run(mail_site)


@pytest.fixture
def web_site(sample_site, monkeypatch) -> Path:
    """The sample site with the reader service under /nyhetsbrev/, and a token secret."""
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + WEB_CONFIG, "utf-8")
    return sample_site


# --- a real browser ---------------------------------------------------------------------------

WAIT_MS = 60_000  # how long a page may take to show what a test waits for, on a busy machine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def serving(public: Path) -> Iterator[str]:
    """A built site served as static files on 127.0.0.1; its base URL."""
    from blogtool.site.serve import make_server

    server = make_server(public, 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def served_site(tmp_path_factory, sample_pictures) -> Iterator[str]:
    """The sample site, built once for the test process and served: for tests that only look
    at it (they must change nothing in it)."""
    root = tmp_path_factory.mktemp("served") / "site"
    _copy_sample(root)
    shutil.copytree(sample_pictures, root / ".blogtool" / "cache" / "images")
    result = Run(root)("build")
    assert result.exit_code == 0, result.stderr
    with serving(root / "public") as url:
        yield url


def visit(page: Any, url: str, name: str) -> None:
    """Open one of a built site's pages as a reader would: it answers (the 404 page with 404),
    everything it loads has loaded, and on the search page the results are shown."""
    response = page.goto(url)
    assert response is not None and response.status == (404 if name == "404" else 200), name
    page.wait_for_load_state("load")
    if name == "search":
        page.wait_for_selector(".pagefind-ui__result", timeout=WAIT_MS)


def serious_violations(axe: Any, page: Any) -> list[str]:
    """What axe-core finds serious or critical on the page, one line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes'][0]['target']}"
        for v in axe.run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's package) driven by Playwright: one for the test process,
    each test in pages and contexts of its own."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
