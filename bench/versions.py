"""Build benchmark: this checkout's blogtool against an earlier commit's, turn about, in one run.

    python bench/versions.py --against 5418bd0 [--posts 5000] [--runs 3]

A machine whose speed drifts between runs (a shared virtual machine) makes two separate
benchmark runs hard to compare; taking turns in one run is fair to both. The earlier commit is
checked out into a temporary git worktree and run with the same Python and libraries
(``PYTHONPATH``), each version on its own copy of one generated corpus, without the search
index. Every build is a fresh process. Prints medians of: a cold build, a rebuild with nothing
changed, a rebuild with one tip changed (after two such rebuilds, as in build.py), and `run`
with nothing to do; then the ratio of this checkout to the earlier one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
from build import empty_trash, median, move_aside, set_aside, timed  # noqa: E402

WORK = HERE / ".work"


def prepare(posts: int) -> tuple[Path, Path, Path]:
    """One corpus, copied for each version, and the tip that the one-change builds edit."""
    site = WORK / f"versions-{posts}"
    set_aside(site)
    paths = corpus.generate(site / "old", posts)
    config = site / "old" / "blogtool.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace("[build]\n", "[build]\nsearch = false\n", 1), "utf-8")
    shutil.copytree(site / "old", site / "new", symlinks=True)
    victim = paths[len(paths) // 2].relative_to(site / "old")
    return site / "old", site / "new", victim


def clean(site: Path) -> None:
    """No output, no state: moved aside, as bench/build.py does (deleted when measured)."""
    names = ("public", ".public.previous", ".public.releases", ".blogtool")
    move_aside([site / name for name in names], f"{site.parent.name}-{site.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description="this blogtool against an earlier commit's")
    parser.add_argument("--against", required=True, help="the earlier commit, e.g. 5418bd0")
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    ns = parser.parse_args()

    code = WORK / "versions-code"
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(code)],
                   capture_output=True)  # fmt: skip
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(code), ns.against],
                   check=True, capture_output=True)  # fmt: skip
    try:
        old_site, new_site, victim = prepare(ns.posts)
        print(f"corpus: {ns.posts} items, earlier code {ns.against} at {code}", file=sys.stderr)
        base = {**os.environ, "BLOGTOOL_NOW": corpus.NOW.isoformat(), "LANG": "C.UTF-8",
                "BLOGTOOL_SECRET": "bench-secret-for-a-site-without-subscribers"}  # fmt: skip
        versions = {
            "earlier": (old_site, {**base, "PYTHONPATH": str(code)}),
            "this": (new_site, {**base, "PYTHONPATH": str(REPO)}),
        }
        times: dict[tuple[str, str], list[float]] = {}

        def build(label: str, name: str, *args: str) -> None:
            site, env = versions[name]
            cmd = [sys.executable, "-m", "blogtool", *(args or ("build",))]
            seconds, _rss, _live = timed(cmd, site, env)
            times.setdefault((label, name), []).append(seconds)

        for run in range(ns.runs):  # the first to go turns each round
            for name in sorted(versions, reverse=run % 2 == 1):
                clean(versions[name][0])
                build("cold", name)
        for _ in range(ns.runs):
            for name in versions:
                build("no change", name)
        for run in range(-2, ns.runs):
            for name in versions:
                with open(versions[name][0] / victim, "a", encoding="utf-8") as fh:
                    fh.write(f"\nEtt tillägg nummer {run}.\n")
                build("first change" if run < 0 else "one change", name)
        for name in versions:
            build("warm-up", name, "run")
        for _ in range(ns.runs):
            for name in versions:
                build("run no-op", name, "run")
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(code)],
                       capture_output=True)  # fmt: skip
        empty_trash()

    print(f"median s ({ns.runs} runs, taking turns); {ns.posts} items, no search index")
    print(f"  {'':<12} {'earlier':>9} {'this':>9} {'this/earlier':>13}")
    for label in ("cold", "no change", "one change", "run no-op"):
        old, new = median(times[(label, "earlier")]), median(times[(label, "this")])
        print(f"  {label:<12} {old:>9.2f} {new:>9.2f} {new / old:>13.2f}")


if __name__ == "__main__":
    main()
