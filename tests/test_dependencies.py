"""The Python and the dependency versions blogtool declares: what it says it runs on, it can be
installed on, and reads Markdown the same way on."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from blogtool.content.markdown import to_html

from .conftest import REPO


def _oldest_python() -> Version:
    """The lowest Python version pyproject.toml admits (``requires-python = ">=X.Y.Z"``)."""
    declared = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    found = re.fullmatch(r">=\s*(\d+\.\d+(?:\.\d+)?)", declared["requires-python"])
    assert found is not None, declared["requires-python"]
    return Version(found.group(1))


def test_every_tested_version_installs_on_the_oldest_python_blogtool_admits():
    """Every version constraints.txt pins (make demo, make test, CI install from it) admits
    the oldest Python that pyproject.toml admits: a newcomer with that Python gets the tested
    set, not a resolver error. (soupsieve 4.1.4 wants 3.11.5; with ">=3.11" declared, Debian
    12's python3, 3.11.2, could not install it.) Read from the metadata the installed copies
    carry, so no package index is asked."""
    oldest = _oldest_python()
    checked, refused = [], []
    for line in (REPO / "constraints.txt").read_text("utf-8").splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        pin = Requirement(line)
        try:
            installed = metadata.distribution(pin.name)
        except metadata.PackageNotFoundError:
            continue  # (a pin this environment does not use, such as uv where pip installed)
        if Version(installed.version) not in pin.specifier:
            continue  # (make test-lowest: the dependencies at their lowest bounds instead)
        wants = installed.metadata.get("Requires-Python")
        if wants and oldest not in SpecifierSet(wants):
            refused.append(f"{line} (Requires-Python {wants})")
        checked.append(pin.name)
    assert len(checked) >= 10, checked  # the test tools at least, in every environment
    assert not refused, f"not installable on Python {oldest}: {refused}"


def test_text_that_only_looks_like_a_tag_stays_text():
    """Why the oldest Python is 3.11.5: Python-Markdown tells inline HTML from text with a
    pattern of possessive quantifiers, which Python's ``re`` matched wrongly before 3.11.5.
    On 3.11.2 the first two came out as raw, unclosed tags; a real tag stays a tag."""
    assert _oldest_python() >= Version("3.11.5")
    assert to_html("Ett <span\n-=> exempel.") == "<p>Ett &lt;span\n-=&gt; exempel.</p>"
    assert to_html("Se <CDATA[ @=> här.") == "<p>Se &lt;CDATA[ @=&gt; här.</p>"
    assert to_html("En <b>fet</b> text.") == "<p>En <b>fet</b> text.</p>"


def test_make_refuses_a_python_too_old_in_one_line(tmp_path):
    """The Makefile's first step (.ci/python_ok.py) before it makes a virtualenv: this Python
    passes; against a pyproject.toml that wants a newer one, one line names both and the way
    out, and the exit status is not 0."""
    import shutil
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, str(REPO / ".ci" / "python_ok.py")], capture_output=True)
    assert ok.returncode == 0 and ok.stderr == b""
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "python_ok.py", tmp_path / ".ci")
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.99.1"\n')
    old = subprocess.run(
        [sys.executable, str(tmp_path / ".ci" / "python_ok.py")], capture_output=True, text=True
    )
    assert old.returncode == 1
    running = sys.version.split()[0]
    assert old.stderr.splitlines() == [
        f"blogtool needs Python 3.99.1 or newer; {sys.executable} is {running}. Name a newer "
        "one: make PYTHON=python3.13 (Python before 3.11.5 reads Markdown's inline HTML wrongly)."
    ]
