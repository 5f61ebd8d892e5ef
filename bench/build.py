"""Build benchmark: blogtool against Pelican on the same generated corpus, in the same run.

    python bench/build.py --posts 5000 [--runs 3] [--no-pelican]

Reports medians of --runs runs for: a cold build (no previous output, no caches), a rebuild with
nothing changed, a rebuild with one post changed, the peak resident memory of the largest
process, and Pelican's cold build of the same corpus with the ratio. Pelican is installed into a
throwaway virtualenv under bench/.work/; it is not a dependency of blogtool. Every build runs as
a fresh process, as cron or a person would run it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

WORK = HERE / ".work"
PELICAN_VENV = WORK / "pelican-venv"
PELICAN_CONF = """\
AUTHOR = "Kommundirektören"
SITENAME = "Benchbloggen"
SITEURL = "https://bench.example.se"
PATH = "content"
TIMEZONE = "Europe/Stockholm"
DEFAULT_LANG = "sv"
DEFAULT_PAGINATION = 10
FEED_ALL_RSS = "feed.xml"
FEED_ALL_ATOM = "atom.xml"
CATEGORY_FEED_RSS = "{slug}/feed.xml"
CATEGORY_FEED_ATOM = "{slug}/atom.xml"
FEED_MAX_ITEMS = 20
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.tables": {},
        "markdown.extensions.fenced_code": {},
        "markdown.extensions.footnotes": {},
        "markdown.extensions.toc": {},
    },
    "output_format": "html5",
}
"""


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall time of one fresh process, and the peak RSS (KiB) of it or any of its workers."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "dt = time.perf_counter() - t\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], cwd=cwd, env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    seconds, rss = out.stdout.split()
    return float(seconds), int(rss)


def ensure_pelican() -> Path:
    python = PELICAN_VENV / "bin" / "python"
    if not python.exists():
        print("installing Pelican into a throwaway virtualenv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PELICAN_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "pelican", "markdown"], check=True
        )
    return PELICAN_VENV / "bin" / "pelican"


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description="blogtool build benchmark against Pelican")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pelican", action="store_true")
    ns = parser.parse_args()

    site = WORK / f"site-{ns.posts}"
    shutil.rmtree(site, ignore_errors=True)
    t = time.perf_counter()
    paths = corpus.generate(site, ns.posts)
    print(
        f"corpus: {ns.posts} items ({ns.posts // 5} tips) generated in "
        f"{time.perf_counter() - t:.1f} s at {site}"
    )

    blogtool = shutil.which("blogtool", path=str(Path(sys.executable).parent)) or "blogtool"
    env = {**os.environ, "BLOGTOOL_NOW": corpus.NOW.isoformat()}
    cmd = [blogtool, "build"]

    def clean() -> None:
        shutil.rmtree(site / "public", ignore_errors=True)
        shutil.rmtree(site / ".blogtool", ignore_errors=True)

    cold, cold_rss = [], []
    for _ in range(ns.runs):
        clean()
        s, rss = timed(cmd, site, env)
        cold.append(s)
        cold_rss.append(rss)
    noop, noop_rss = [], []
    for _ in range(ns.runs):
        s, rss = timed(cmd, site, env)
        noop.append(s)
        noop_rss.append(rss)
    one, one_rss = [], []
    victim = paths[len(paths) // 2]
    for run in range(ns.runs):
        with open(victim, "a", encoding="utf-8") as fh:
            fh.write(f"\nEtt tillägg nummer {run}.\n")
        s, rss = timed(cmd, site, env)
        one.append(s)
        one_rss.append(rss)

    pelican_times: list[float] = []
    pelican_rss: list[int] = []
    if not ns.no_pelican:
        pelican = ensure_pelican()
        pel = site / "pelican"
        (pel / "pelicanconf.py").write_text(PELICAN_CONF, "utf-8")
        for _ in range(ns.runs):
            shutil.rmtree(pel / "output", ignore_errors=True)
            s, rss = timed(
                [str(pelican), "content", "-s", "pelicanconf.py", "-o", "output", "-q"],
                pel,
                dict(os.environ),
            )
            pelican_times.append(s)
            pelican_rss.append(rss)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        "pages written by the cold build:",
        sum(1 for p in (site / "public").rglob("*") if p.is_file()),
    )
    print(f"{'measurement':<34}{'median s':>10}{'runs':>24}{'peak MB':>10}")

    def row(name: str, values: list[float], rss: list[int]) -> None:
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:<34}{median(values):>10.2f}{runs:>24}{max(rss) / 1024:>10.0f}")

    row("blogtool cold build", cold, cold_rss)
    row("blogtool rebuild, nothing changed", noop, noop_rss)
    row("blogtool rebuild, one post changed", one, one_rss)
    if pelican_times:
        row("pelican cold build", pelican_times, pelican_rss)
        ratio = median(cold) / median(pelican_times)
        print(
            f"cold build ratio blogtool / pelican: {ratio:.3f} "
            f"(pelican is {1 / ratio:.1f}x the time of blogtool)"
        )


if __name__ == "__main__":
    main()
