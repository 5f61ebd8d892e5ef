"""Print the constraints of the lowest versions blogtool declares it works with.

Each dependency in pyproject.toml is pinned to its lower bound (``click>=8.4`` -> ``click==8.4``);
what those need is left to pip; the test tools keep their versions from constraints.txt.
``make test-lowest`` installs from this and runs the fast tests: a lower bound that no longer
works fails there, not on a user's machine.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    assert found is not None, requirement
    return re.sub(r"[-_.]+", "-", found.group()).lower()


def lowest(root: Path) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"]:
        bound = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)", requirement)
        if bound is None:
            sys.exit(f"pyproject.toml: {requirement!r} has no lower bound (name>=version)")
        pins.append(f"{bound.group(1)}=={bound.group(2)}")
    tools = {_name(r) for r in project["optional-dependencies"]["test"]}
    tested = (root / "constraints.txt").read_text("utf-8").splitlines()
    pins += [line for line in tested if "==" in line and _name(line) in tools]
    return pins


if __name__ == "__main__":
    print("\n".join(lowest(Path(__file__).resolve().parent.parent)))
