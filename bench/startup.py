"""How instant the CLI feels: wall time of `blogtool --help` and `blogtool list` on the sample
site, each run as a fresh process, as a user would. Prints the median of N runs (target: < 0.3 s).

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import installed  # noqa: E402


def measure(args: list[str], runs: int, env: dict[str, str]) -> list[float]:
    exe = shutil.which("blogtool", path=str(Path(sys.executable).parent)) or "blogtool"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, *args], cwd=REPO, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    ns = parser.parse_args()
    env = installed.compiled({**os.environ, "BLOGTOOL_NOW": "2026-11-28T09:00:00+01:00"})
    print(f"{'command':<28} {'median':>8} {'min':>8} {'max':>8}   (s, {ns.runs} runs)")
    for args in (["--help"], ["list"], ["calendar"], ["check"]):
        t = measure(args, ns.runs, env)
        name = "blogtool " + " ".join(args)
        print(f"{name:<28} {statistics.median(t):8.3f} {min(t):8.3f} {max(t):8.3f}")


if __name__ == "__main__":
    main()
