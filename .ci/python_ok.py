"""Exit with one clear line unless this Python is one pyproject.toml admits.

The Makefile runs it with $(PYTHON) before it makes a virtualenv, so that `make demo` on a machine
whose python3 is too old says so, instead of a resolver error from pip or uv. Written for any
Python 3: it must run on the versions it refuses.
"""

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

found = re.search(r'^requires-python = ">=([\d.]+)"$', PYPROJECT.read_text("utf-8"), re.M)
if found is None:
    sys.exit('pyproject.toml: requires-python is not of the form ">=X.Y.Z"')
wanted = tuple(int(n) for n in found.group(1).split("."))
if sys.version_info[: len(wanted)] < wanted:
    running = sys.version.split()[0]
    sys.exit(
        f"blogtool needs Python {found.group(1)} or newer; {sys.executable} is {running}. "
        "Name a newer one: make PYTHON=python3.13 "
        "(Python before 3.11.5 reads Markdown's inline HTML wrongly)."
    )
