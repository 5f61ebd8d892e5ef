"""Build benchmark: blogtool against Hugo and Pelican on the same generated corpus, in one run.

    python bench/build.py --posts 5000 --compare hugo,pelican [--runs 3]

Generates one corpus, converts it for each tool that is installed, and runs the tools in one go,
--runs times each. Reports medians for: a cold build (no previous output, no caches),
a rebuild with nothing changed, a rebuild with one post changed (after two such rebuilds, so
blogtool's releases are as on a site built many times: a live, a previous and a spare one to
reuse), `blogtool run` with nothing to do, a changed template of the site's own (every page
rendered again from each item's kept HTML), and the peak resident memory of the largest
process; then blogtool's ratio to each peer.
Hugo is Debian's `hugo` (the bench target installs it); Pelican is installed into a throwaway
virtualenv under bench/.work/. Neither is a dependency of blogtool. Every build runs as a fresh
process, as cron or a person would run it.

Cold builds take turns: round by round, each tool once, in an order that turns each round, so
that a slower minute of the machine falls on every tool alike. Output is not deleted between
builds but moved into bench/.work/trash, emptied when everything is measured: on ext4 without
a journal, a new file's inode is looked for past every inode deleted in the last minute (more
while those are unwritten), and 12,000 new files right after deleting 12,000 cost seconds of
system time, a penalty that fell on whichever tool came next.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402
import installed  # noqa: E402

WORK = HERE / ".work"
TRASH = WORK / "trash"  # what the runs leave, moved here while measuring, emptied at the end
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


def timed(
    cmd: list[str], cwd: Path, env: dict[str, str], watch: Path | None = None
) -> tuple[float, int, float | None]:
    """Wall time of one fresh process, the peak RSS (KiB) of it or any of its workers, and,
    with ``watch`` (the output link), when the link first pointed somewhere new: when the
    changed pages were live (None if it never changed)."""
    wrapper = (
        "import os, resource, subprocess, sys, time\n"
        "watch = sys.argv[1]\n"
        "def target():\n"
        "    try:\n"
        "        return os.readlink(watch)\n"
        "    except OSError:\n"
        "        return None\n"
        "before = target() if watch else None\n"
        "t = time.perf_counter()\n"
        "child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)\n"
        "live = None\n"
        "while child.poll() is None:\n"
        "    if watch and live is None and target() != before:\n"
        "        live = time.perf_counter() - t\n"
        "    time.sleep(0.002)\n"
        "dt = time.perf_counter() - t\n"
        "if watch and live is None and target() != before:\n"
        "    live = dt\n"
        "assert child.returncode == 0, child.returncode\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, live)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, str(watch or ""), *cmd], cwd=cwd, env=env, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    seconds, rss, live = out.stdout.split()
    return float(seconds), int(rss), None if live == "None" else float(live)


HUGO_CONF = """\
baseURL = "https://bench.example.se/"
languageCode = "sv-se"
defaultContentLanguage = "sv"
title = "Benchbloggen"
timeZone = "Europe/Stockholm"
paginate = 10
disableKinds = ["sitemap"]
[taxonomies]
tag = "tags"
"""
HUGO_LAYOUTS = {
    "_default/baseof.html": (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        "<title>{{ .Title }} – {{ .Site.Title }}</title></head>"
        '<body><main>{{ block "main" . }}{{ end }}</main></body></html>\n'
    ),
    "_default/single.html": (
        '{{ define "main" }}<article><h1>{{ .Title }}</h1>'
        '<time>{{ .Date.Format "2 January 2006 15:04" }}</time>{{ .Content }}'
        '<ul>{{ range .Params.tags }}<li><a href="{{ "tags/" | relURL }}{{ . | urlize }}/">'
        "{{ . }}</a></li>{{ end }}</ul></article>{{ end }}\n"
    ),
    "_default/list.html": (
        '{{ define "main" }}<h1>{{ .Title }}</h1>{{ range .Paginator.Pages }}<article>'
        '<h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2><p>{{ .Params.summary }}</p>'
        "</article>{{ end }}{{ end }}\n"
    ),
}


def prepare_hugo(site: Path) -> Path:
    hugo = site / "hugo"
    (hugo / "hugo.toml").write_text(HUGO_CONF, "utf-8")
    for name, text in HUGO_LAYOUTS.items():
        (hugo / "layouts" / name).parent.mkdir(parents=True, exist_ok=True)
        (hugo / "layouts" / name).write_text(text, "utf-8")
    return hugo


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


SEARCH_LOG = Path(".blogtool/search.log")


def search_followed(site: Path) -> bool:
    """Wait while a search index is owed or being made (in the background); whether one was."""
    pending, lock = site / ".blogtool/search-pending", site / ".blogtool/search.lock"
    waited = False
    while True:
        busy = pending.exists()
        if not busy and lock.exists():
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy = True
            finally:
                os.close(fd)
        if not busy:
            return waited
        waited = True
        time.sleep(0.05)


class Tool:
    """One static site generator: how to build, how to start from nothing, what one source is."""

    def __init__(
        self, name: str, cmd: list[str], cwd: Path, env: dict[str, str], clean: list[Path]
    ):
        self.name, self.cmd, self.cwd, self.env, self.clean_paths = name, cmd, cwd, env, clean
        self.times: dict[str, list[float]] = {}
        self.rss: list[int] = []
        self.index_rss: list[int] = []  # MB, as the background search index's log says

    def clean(self) -> None:
        move_aside(self.clean_paths, self.name)

    def measure(self, label: str, cmd: list[str] | None = None, watch: Path | None = None) -> None:
        started = time.perf_counter()
        seconds, rss, live = timed(cmd or self.cmd, self.cwd, self.env, watch)
        self.times.setdefault(label, []).append(seconds)
        if live is not None:  # when the changed pages were live (the search index follows)
            self.times.setdefault(f"{label}, live", []).append(live)
        self.rss.append(rss)
        if self.name == "blogtool" and search_followed(self.cwd):
            # A big site's search index follows in a process of its own: wait for it (the next
            # build would otherwise share the cores with it), and note when it was done and
            # the peak its log reports.
            self.times.setdefault(f"{label}, index", []).append(time.perf_counter() - started)
            found = re.findall(r"at most (\d+) MB", (self.cwd / SEARCH_LOG).read_text("utf-8"))
            self.index_rss.append(int(found[-1]) if found else 0)


def tools(site: Path, compare: list[str]) -> list[Tool]:
    blogtool = shutil.which("blogtool", path=str(Path(sys.executable).parent)) or "blogtool"
    env = {**os.environ, "BLOGTOOL_NOW": corpus.NOW.isoformat()}
    env["BLOGTOOL_SECRET"] = "bench-secret-for-a-site-without-subscribers"
    env = installed.compiled(env)
    found = [
        # Everything an earlier build left: the live and previous links, every release, the
        # state (manifests, caches), so that "cold" starts from nothing.
        Tool(
            "blogtool",
            [blogtool, "build"],
            site,
            env,
            [
                site / "public",
                site / ".public.previous",
                site / ".public.releases",
                site / ".blogtool",
            ],
        ),
    ]
    for peer in compare:
        if peer == "hugo":
            if shutil.which("hugo") is None:
                print("hugo is not installed (apt-get install hugo); left out", file=sys.stderr)
                continue
            hugo = prepare_hugo(site)
            cmd = ["hugo", "--quiet", "-d", "public"]
            found.append(
                Tool("hugo", cmd, hugo, dict(os.environ), [hugo / "public", hugo / "resources"])
            )
        elif peer == "pelican":
            pelican = ensure_pelican()
            pel = site / "pelican"
            (pel / "pelicanconf.py").write_text(PELICAN_CONF, "utf-8")
            cmd = [str(pelican), "content", "-s", "pelicanconf.py", "-o", "output", "-q"]
            found.append(Tool("pelican", cmd, pel, dict(os.environ), [pel / "output"]))
        else:
            raise SystemExit(f"unknown peer {peer!r}: expected hugo or pelican")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="build benchmark against Hugo and Pelican")
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", default="", help="peers to run too: hugo,pelican")
    parser.add_argument(
        "--no-search", action="store_true",
        help="set [build] search = false: no Pagefind index (the peers make none)",
    )  # fmt: skip
    parser.add_argument(
        "--photos", action="store_true",
        help="instead: builds with a 3 MB photo in every tenth item, against the same site "
        "without them",
    )  # fmt: skip
    ns = parser.parse_args()
    if ns.photos:
        photos_bench(ns.posts, ns.runs)
        return

    site = WORK / f"site-{ns.posts}"
    set_aside(site)
    t = time.perf_counter()
    paths = corpus.generate(site, ns.posts)
    if ns.no_search:
        config = site / "blogtool.toml"
        text = config.read_text("utf-8")
        config.write_text(text.replace("[build]\n", "[build]\nsearch = false\n", 1), "utf-8")
        assert "search = false" in config.read_text("utf-8")
    print(
        f"corpus: {ns.posts} items ({ns.posts // 5} tips) generated in "
        f"{time.perf_counter() - t:.1f} s at {site}"
    )
    victim = paths[len(paths) // 2]
    copies = {"blogtool": victim, "hugo": corpus.hugo_path(site, victim)}
    copies["pelican"] = site / "pelican" / "content" / victim.name
    runners = tools(site, [p for p in ns.compare.split(",") if p])
    for run in range(ns.runs):
        turn = run % len(runners)
        for tool in runners[turn:] + runners[:turn]:
            print(f"cold build {run + 1}/{ns.runs}: {tool.name} ...", file=sys.stderr)
            tool.clean()
            tool.measure("cold")
    for tool in runners:
        print(f"rebuilds: {tool.name} ...", file=sys.stderr)
        for _ in range(ns.runs):
            tool.measure("no change")
        # Two rebuilds first: a site that has been built a few times keeps a spare release
        # for the next build to reuse; right after a cold build there is none yet, and the
        # first two rebuilds make their folders from nothing (reported as "first change").
        for run in range(-2, ns.runs):
            with open(copies[tool.name], "a", encoding="utf-8") as fh:
                fh.write(f"\nEtt tillägg nummer {run}.\n")
            watch = tool.cwd / "public" if tool.name == "blogtool" else None
            tool.measure("first change" if run < 0 else "one change", watch=watch)
        if tool.name == "blogtool":
            tool.measure("warm-up", [*tool.cmd[:-1], "run"])  # the full run that records
            for _ in range(ns.runs):
                tool.measure("run no-op", [*tool.cmd[:-1], "run"])
            # A changed template renders every page again, from the kept HTML of each item.
            default = (HERE.parent / "blogtool" / "templates" / "base.html").read_text("utf-8")
            for run in range(ns.runs):
                own = site / "templates" / "base.html"
                own.parent.mkdir(exist_ok=True)
                own.write_text(default + f"<!-- mall {run} -->\n", "utf-8")
                tool.measure("template change")
    report(site, runners)
    empty_trash()


def move_aside(paths: list[Path], label: str) -> None:
    """Start from nothing: what earlier builds left is moved into the trash, not deleted (see
    the module's text), and the writes are flushed, so none of it lands in the next build."""
    aside = TRASH / f"{label}-{time.monotonic_ns()}"
    aside.mkdir(parents=True)
    for path in paths:
        if path.is_symlink() or path.exists():
            path.rename(aside / path.name)
    os.sync()
    time.sleep(1)


def set_aside(path: Path) -> None:
    """Move ``path`` (an earlier run's site) into the trash, to be deleted after measuring."""
    if path.exists():
        TRASH.mkdir(parents=True, exist_ok=True)
        path.rename(TRASH / f"{path.name}-{time.monotonic_ns()}")


def empty_trash() -> None:
    print("deleting what the builds left ...", file=sys.stderr)
    shutil.rmtree(TRASH, ignore_errors=True)


def photos_bench(posts: int, runs: int) -> None:
    """The same site without and with photos: cold, no change, one photo changed."""
    site = WORK / f"site-{posts}-photos"
    set_aside(site)
    paths = corpus.generate(site, posts)
    [tool] = tools(site, [])
    touched = paths[len(paths) // 3]

    def no_change(label: str) -> None:
        for _ in range(runs):
            tool.measure(f"no change, {label}")
        for _ in range(runs):  # a file's time changes, nothing else: past the fast way out
            os.utime(touched)
            tool.measure(f"touched only, {label}")

    tool.measure("cold")  # without photos, then its no-change builds
    no_change("no photos")
    without = dict(tool.times)
    t = time.perf_counter()
    photos = corpus.add_photos(site, paths)
    size = sum(p.stat().st_size for p in photos) / len(photos) / 1e6
    print(
        f"{len(photos)} photos of {size:.1f} MB on average made in {time.perf_counter() - t:.0f} s"
    )
    tool.times.clear()
    for _ in range(runs):
        tool.clean()
        tool.measure("cold, photos")
    no_change("photos")
    for run in range(runs):
        corpus.photo(photos[len(photos) // 2], 1000 + run)
        tool.measure("one photo changed")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {posts} items; median s (runs)")
    for label, values in {**without, **tool.times}.items():
        runs_text = " ".join(f"{v:.2f}" for v in values)
        print(f"  {label:<26} {median(values):>7.2f}   ({runs_text})")
    for kind in ("no change", "touched only"):
        ratio = median(tool.times[f"{kind}, photos"]) / median(without[f"{kind}, no photos"])
        print(f"{kind}: with photos / without: {ratio:.2f}")
    print(f"peak RSS: {max(tool.rss) / 1024:.0f} MB")
    empty_trash()


def report(site: Path, runners: list[Tool]) -> None:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        "pages written by blogtool's cold build:",
        sum(1 for p in (site / "public").rglob("*") if p.is_file()),
    )
    columns = ["cold", "no change", "one change", "run no-op", "template change"]
    print(f"{'median s (runs)':<12}" + "".join(f"{c:>22}" for c in columns) + f"{'peak MB':>9}")
    for tool in runners:
        cells = []
        for c in columns:
            values = tool.times.get(c)
            cells.append(
                f"{median(values):>7.2f} ({' '.join(f'{v:.2f}' for v in values)})" if values else ""
            )
        line = f"{tool.name:<12}" + "".join(f"{cell:>22}" for cell in cells)
        print(line + f"{max(tool.rss) / 1024:>9.0f}")
    live = runners[0].times.get("one change, live")
    if live:
        shown = " ".join(f"{v:.2f}" for v in live)
        print(
            f"blogtool, one change: the changed pages were live after {median(live):.2f} s",
            f"({shown})",
        )
    for label in columns:
        index = runners[0].times.get(f"{label}, index")
        if index:
            shown = " ".join(f"{v:.2f}" for v in index)
            print(
                f"blogtool, {label}: the search index had followed, in a process of its own, "
                f"{median(index):.2f} s after the command started ({shown})"
            )
    if runners[0].index_rss:
        print(f"blogtool: the search index's process peaked at {max(runners[0].index_rss)} MB")
    for tool in runners:
        first = tool.times.get("first change")
        if first:
            shown = " ".join(f"{v:.2f}" for v in first)
            print(f"{tool.name}: the first two changes after a cold build took {shown} s")
    ours = median(runners[0].times["cold"])
    for peer in runners[1:]:
        theirs = median(peer.times["cold"])
        print(f"cold build, blogtool / {peer.name}: {ours / theirs:.2f} ({theirs / ours:.2f}x)")
        # The cold builds take turns, one of each tool a round: a round's ratio compares
        # builds made minutes apart, which a machine whose speed drifts affects less.
        rounds = [a / b for a, b in zip(runners[0].times["cold"], peer.times["cold"], strict=True)]
        shown = " ".join(f"{r:.2f}" for r in rounds)
        print(f"  round by round: {shown}; median {median(rounds):.2f}")


if __name__ == "__main__":
    main()
