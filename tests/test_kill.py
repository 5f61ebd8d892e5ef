"""Kill the build at random moments: the site that is served is always entirely the old one or
entirely the new one, and the next build cleans up whatever the killed one left.

``make test`` kills a 150-post build 15 times and a send 12 times; ``make soak`` sets
BLOGTOOL_SOAK=1 for 100 kills of a 1,500-post build and 50 of a send. A kill lands on an event
(the first served file that changes, the new release begun, a number of messages taken by the
server) or at a random moment; no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from .conftest import MINIMAL_CONFIG, NOW, Run, write
from .processes import Started, blogtool, wait_for

SOAK = os.environ.get("BLOGTOOL_SOAK") == "1"
POSTS = 1500 if SOAK else 150
KILLS = 100 if SOAK else 10


def _site(root: Path, posts: int) -> Path:
    for name in ("posts", "tips", "templates", "media"):
        (root / name).mkdir(parents=True)
    write(root / "blogtool.toml", MINIMAL_CONFIG)
    words = "Kommunen bygger ut cykelvägarna och lyssnar på dem som bor här. " * 12
    for n in range(posts):
        day = 1 + n % 28
        write(
            root / "posts" / f"inlagg-{n:05d}.md",
            f"---\ntitle: Inlägg nummer {n}\ndate: 2026-{1 + n % 10:02d}-{day:02d}T09:00:00+01:00\n"
            f"tags: [amne{n % 7}]\n---\n{words}\n\n## Mer\n\n{words}\n",
        )
    return root


def _tree(public: Path) -> dict[str, str]:
    return {
        p.relative_to(public).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(public.rglob("*"))
        if p.is_file()
    }


def _build(site: Path) -> Started:
    """A build that makes the search index itself, whatever the site's size (--wait): a kill
    may land on the index too, and no index process of an earlier build outlives its kill to
    change the site while the test reads it (make soak's site is big enough for one)."""
    env = {**os.environ, "BLOGTOOL_NOW": NOW.isoformat()}
    return Started(blogtool("--site", str(site), "build", "--wait"), env=env)


def _build_whole(site: Path) -> int:
    with _build(site) as process:
        return process.wait()


def _identity(paths: list[Path]) -> list[tuple[int, int]]:
    found = []
    for path in paths:
        try:
            st = path.stat()
            found.append((st.st_ino, st.st_mtime_ns))
        except OSError:
            found.append((0, 0))
    return found


def _listing(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _kill_when(process: Started, changed: Callable[[], bool]) -> None:
    """SIGKILL the build (its whole process group) the moment ``changed()`` says so, or when it
    has ended by itself."""
    wait_for(lambda: changed() or process.poll() is not None, "the build got there", every=0.001)
    process.kill()


def _set_title(site: Path, title: str) -> None:
    config = MINIMAL_CONFIG.replace('title = "Testbloggen"', f'title = "{title}"')
    write(site / "blogtool.toml", config)


def test_a_killed_build_leaves_the_old_site_or_the_new_one(tmp_path):
    site = _site(tmp_path / "site", POSTS)
    public = site / "public"
    trees = {}
    durations = []
    for title in ("Version B", "Testbloggen"):  # ends on A, the live site
        _set_title(site, title)
        started = time.monotonic()
        assert _build_whole(site) == 0
        durations.append(time.monotonic() - started)
        trees[title] = _tree(public)
    assert trees["Version B"] != trees["Testbloggen"]
    whole = {title: tree for title, tree in trees.items()}
    span = max(durations)

    rng = random.Random(20261129)
    live = "Testbloggen"
    outcomes = {"old": 0, "new": 0}
    # Pages spread over the site, the newest posts among them (a commit moves those first).
    watched = [public / "index.html"]
    watched += [public / f"inlagg-nummer-{i}" / "index.html" for i in (139, 129, 119, 0, 7, 55)]
    releases = site / ".public.releases"
    for n in range(KILLS):
        target = "Version B" if live == "Testbloggen" else "Testbloggen"
        _set_title(site, target)
        before, listed = _identity(watched), _listing(releases)
        with _build(site) as process:
            if n % 3 == 0:  # at the moment of the commit: the first served file that changes
                when = "at the swap"
                _kill_when(process, lambda old=before: _identity(watched) != old)
            elif n % 3 == 1:  # as the new release is begun, long before the swap
                when = "as the release began"
                _kill_when(process, lambda old=listed: _listing(releases) != old)
            else:  # at a random moment: anywhere in the build, or near its end
                delay = rng.uniform(0, span * 1.1) if n % 6 == 2 else rng.uniform(span / 2, span)
                when = f"after {delay:.2f} s"
                process.ended_within(delay)
                process.kill()
        tree = _tree(public)
        found = [title for title, whole_tree in whole.items() if tree == whole_tree]
        assert found, f"kill {n} {when} left a mixed site"
        if n % 3 == 1:
            assert found[0] != target, f"kill {n} {when} published the new site"
        outcomes["new" if found[0] == target else "old"] += 1
        live = found[0]
    # The kills landed both before and after the moment of the swap.
    assert outcomes["old"] and outcomes["new"], outcomes

    assert _build_whole(site) == 0
    leftovers = [
        p.name
        for p in site.iterdir()
        if p.name.startswith(".public.") and p.name not in (".public.releases", ".public.previous")
    ]
    assert leftovers == []
    releases = [p for p in (site / ".public.releases").iterdir() if p.is_dir()]
    assert len(releases) <= 3  # the live one, the previous, one complete spare to reuse


def test_the_previous_release_is_kept_and_rollback_serves_it(run, sample_site):
    public = sample_site / "public"
    assert run("build").exit_code == 0
    first = public.resolve()
    post = next((sample_site / "posts").glob("2026-09-10-*.md"))
    post.write_text(post.read_text("utf-8") + "\nEtt tillägg.\n", "utf-8")
    assert run("build").exit_code == 0
    second = public.resolve()
    assert first != second and first.is_dir()
    assert (sample_site / ".public.previous").resolve() == first
    assert "Ett tillägg." in (public / "valkommen-till-kommunbloggen" / "index.html").read_text()
    # Unchanged pages are the same files (hard links), not copies; the feed carries the text.
    assert (first / "feed.xml").stat().st_ino != (second / "feed.xml").stat().st_ino
    assert (first / "index.html").stat().st_ino == (second / "index.html").stat().st_ino
    assert (first / "404.html").stat().st_ino == (second / "404.html").stat().st_ino

    result = run("build", "--rollback")
    assert result.exit_code == 0, result.stderr
    assert public.resolve() == first
    assert (
        "Ett tillägg." not in (public / "valkommen-till-kommunbloggen" / "index.html").read_text()
    )
    assert (sample_site / ".public.previous").resolve() == second


def test_files_put_into_the_output_by_hand_stay(run, sample_site):
    assert run("build").exit_code == 0
    write(sample_site / "public" / ".well-known" / "security.txt", "Contact: mailto:x@example.se\n")
    post = next((sample_site / "posts").glob("2026-09-10-*.md"))
    post.write_text(post.read_text("utf-8") + "\nÄndrat.\n", "utf-8")
    assert run("build").exit_code == 0
    assert (sample_site / "public" / ".well-known" / "security.txt").is_file()


def test_a_directory_blogtool_did_not_build_is_not_taken_over(run, tmp_path):
    elsewhere = tmp_path / "mina-dokument"
    write(elsewhere / "brev.txt", "Viktigt.\n")
    result = run("build", "--output", str(elsewhere))
    assert result.exit_code == 1
    assert "already holds files blogtool did not write" in result.stderr
    assert (elsewhere / "brev.txt").read_text() == "Viktigt.\n" and not elsewhere.is_symlink()


def test_a_public_folder_from_an_older_blogtool_becomes_a_release(run, sample_site):
    """Before releases, public/ was a plain folder: the first build moves it aside once."""
    public = sample_site / "public"
    write(public / "index.html", "<p>gammal</p>")
    write(public / "gammal-sida" / "index.html", "<p>gammal sida</p>")
    write(sample_site / ".blogtool" / "builds" / "x.json", "{}")
    assert run("build").exit_code == 0
    assert public.is_symlink() and "gammal" not in (public / "index.html").read_text()


SEND_KILLS = 50 if SOAK else 8


def test_a_send_killed_again_and_again_loses_and_doubles_nobody(mail_site, port):
    """SIGKILLs of `newsletter send`, each once the server has taken a random number of
    messages more, with the server now and then taking a message and dropping the connection
    before its reply (a ghost). Every address gets the issue; only deliveries reported as
    uncertain (crashes and ghosts) may get it twice, and only after someone chose
    --resend-uncertain."""
    import sqlite3

    from .conftest import Run
    from .smtp_sink import Faults, Server, Sink
    from .test_mail import SEND_NOW, prepare

    run = Run(mail_site)
    emails = prepare(run, 1500 if SOAK else 300)
    ghost_every = 17
    sink = Sink(Faults(ghost_every=ghost_every))
    env = {**os.environ, "BLOGTOOL_NOW": SEND_NOW.isoformat()}
    rng = random.Random(4711)
    uncertain: set[str] = set()
    interrupted = 0
    db = sqlite3.connect(mail_site / ".blogtool" / "state.db")
    command = blogtool("--site", str(mail_site), "newsletter", "send")
    try:
        with Server(sink, port):
            for n in range(SEND_KILLS):
                taken = sink.data_commands
                # The first kill comes after a ghost: every run meets one, whatever the timing.
                more = ghost_every + 2 if n == 0 else rng.randint(1, 25)
                with Started(command, env=env) as process:
                    wait_for(
                        lambda goal=taken + more: sink.data_commands >= goal,
                        f"the server took {more} messages more",
                        process=process,
                    )
                    process.kill()
                done = db.execute("SELECT completed_at FROM issues WHERE id = 1").fetchone()
                interrupted += done is not None and done[0] is None
                rows = db.execute("SELECT email FROM deliveries WHERE status = 'sending'")
                uncertain |= {r[0] for r in rows.fetchall()}
                doubled = {a for a, k in sink.counts().items() if k > 1}
                assert not doubled, doubled  # nothing is sent twice without a person's say
            assert interrupted == SEND_KILLS  # every kill struck a send that was under way
            assert sink.ghosts, "the run never met a ghost"
            sink.faults.ghost_every = 0  # the server is well again
            result = run("newsletter", "send", "1", "--resend-uncertain", now=SEND_NOW)
            assert result.exit_code == 0, result.output
    finally:
        db.close()
    counts = sink.counts()
    lost = [a for a in emails if counts[a] == 0]
    doubled = {a for a in emails if counts[a] > 1}
    assert lost == []
    assert doubled <= uncertain, doubled - uncertain
    assert set(sink.ghosts) <= uncertain  # every ghost was reported, not silently resent
    states = db_states(mail_site)
    assert set(states.values()) == {"sent"}


def db_states(site: Path) -> dict[str, str]:
    import sqlite3

    with sqlite3.connect(site / ".blogtool" / "state.db") as conn:
        return dict(conn.execute("SELECT email, status FROM deliveries"))


def test_a_reused_release_ends_up_exactly_as_a_fresh_build(run, sample_site, tmp_path):
    """The third build reuses the first build's release: afterwards the site is byte for byte
    what a build from nothing makes, with no file left over from the reused one."""
    post = next((sample_site / "posts").glob("2026-09-10-*.md"))
    original = post.read_text("utf-8")
    assert run("build").exit_code == 0
    post.write_text(original.replace("title: ", "title: Nytt namn - ", 1), "utf-8")  # a new slug
    assert run("build").exit_code == 0
    write(sample_site / "public" / "google1234.html", "verification")
    post.write_text(original + "\nÄnnu en ändring.\n", "utf-8")
    assert run("build").exit_code == 0
    releases = sorted(p for p in (sample_site / ".public.releases").iterdir() if p.is_dir())
    assert len(releases) == 3
    fresh = sample_site.parent / "fresh"
    shutil.copytree(
        sample_site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool")
    )
    assert Run(fresh)("build").exit_code == 0
    assert _tree(fresh / "public") | {
        "google1234.html": hashlib.sha256(b"verification").hexdigest()
    } == _tree(sample_site / "public")
    assert not (sample_site / "public" / "nytt-namn-valkommen-till-kommunbloggen").exists()


def test_every_reused_release_matches_a_fresh_build(run, sample_site):
    """Five builds in a row, each reusing the release from two builds before, through a
    renamed slug, a removed post and an added one."""
    posts = sample_site / "posts"
    post = next(posts.glob("2026-09-10-*.md"))
    original = post.read_text("utf-8")
    steps = [
        lambda: None,
        lambda: post.write_text(original.replace("title: ", "title: Nytt namn - ", 1), "utf-8"),
        lambda: post.write_text(original + "\nÄndrat.\n", "utf-8"),
        lambda: next(posts.glob("2026-10-15-*.md")).unlink(),
        lambda: write(posts / "ny.md", "---\ntitle: Ny\ndate: 2026-11-02\n---\nNy text.\n"),
    ]
    for n, step in enumerate(steps):
        step()
        assert run("build").exit_code == 0, n
        fresh = sample_site.parent / f"fresh-{n}"
        shutil.copytree(
            sample_site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool")
        )
        assert Run(fresh)("build").exit_code == 0
        assert _tree(fresh / "public") == _tree(sample_site / "public"), n


def test_the_build_after_a_rollback_does_not_mix_releases(run, sample_site):
    """The manifest describes the build that was rolled back from; the next build must not
    take pages from the older release as if they were that build's."""
    first_post = next((sample_site / "posts").glob("2026-09-10-*.md"))
    other_post = next((sample_site / "posts").glob("2026-10-15-*.md"))
    assert run("build").exit_code == 0
    first_post.write_text(first_post.read_text("utf-8") + "\nAndra versionen.\n", "utf-8")
    assert run("build").exit_code == 0
    assert run("build", "--rollback").exit_code == 0
    other_post.write_text(other_post.read_text("utf-8") + "\nEn annan ändring.\n", "utf-8")
    assert run("build").exit_code == 0
    fresh = sample_site.parent / "fresh"
    shutil.copytree(
        sample_site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool")
    )
    assert Run(fresh)("build").exit_code == 0
    assert _tree(fresh / "public") == _tree(sample_site / "public")


def test_a_page_deleted_or_replaced_by_hand_is_made_again(run, sample_site):
    """The manifest says a page is up to date; the live release decides: a page deleted from
    it, or a link put where a page was, is rendered again, and a reused release whose copy
    differs from the live file gets the live one."""
    public = sample_site / "public"
    for _ in range(3):  # a live, a previous and a spare release
        assert run("build").exit_code == 0
    (public / "index.html").unlink()
    about = public / "valkommen-till-kommunbloggen" / "index.html"
    about.unlink()
    about.symlink_to(public / "404.html")
    # (With no source changed, a build takes the fast way out without looking at the
    # output; so another post changes.)
    post = next((sample_site / "posts").glob("2026-10-15-*.md"))
    post.write_text(post.read_text("utf-8") + "\nÄndrat.\n", "utf-8")
    assert run("build").exit_code == 0
    assert not about.is_symlink() and (public / "index.html").is_file()
    fresh = sample_site.parent / "fresh"
    shutil.copytree(
        sample_site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool")
    )
    assert Run(fresh)("build").exit_code == 0
    assert _tree(public) == _tree(fresh / "public")
    # The next builds reuse the releases from two builds before; a file changed in them by
    # hand is not the live one, and is replaced by it.
    live = public.resolve()
    for release in (sample_site / ".public.releases").iterdir():
        if release.is_dir() and release.resolve() != live:
            for name in ("feed.xml", "404.html"):  # (404.html is not rendered again)
                page = release / name
                page.unlink()
                page.write_text("changed by hand", "utf-8")
    for n in range(2):
        post.write_text(post.read_text("utf-8") + f"\nÄndrat {n}.\n", "utf-8")
        assert run("build").exit_code == 0
    assert (public / "feed.xml").read_text("utf-8").startswith("<?xml")
    assert "changed by hand" not in (public / "404.html").read_text("utf-8")
    fresh = sample_site.parent / "fresh-2"
    shutil.copytree(
        sample_site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool")
    )
    assert Run(fresh)("build").exit_code == 0
    assert _tree(public) == _tree(fresh / "public")
