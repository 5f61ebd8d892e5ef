"""Run blogtool in a benchmark as an installed copy runs: from compiled bytecode.

``pip install`` (and the deployment recipe's install) compiles a package's modules when it
installs them; the development virtualenv's editable install does not. Where the environment
says PYTHONDONTWRITEBYTECODE, every run of an editable install would compile blogtool's modules
again, about 0.1 s of each small command, which no deployed site pays.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "blogtool"


def compiled(env: dict[str, str]) -> dict[str, str]:
    """``env`` for running blogtool, with blogtool's modules compiled beforehand."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(PACKAGE)], check=True)
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
