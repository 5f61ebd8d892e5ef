"""The lookahead: a child process that looks at the live and the spare release while a big
site loads. Its answer equals what the build would find itself, the build then asks the file
system nothing more, and without an answer the build looks for itself."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from blogtool.config import load_config
from blogtool.site import lookahead, releases
from blogtool.site.engine import load_manifest, output_file
from blogtool.site.output import manifest_path

from .conftest import Run
from .test_kill import _tree

POST = "posts/2026-10-15-vi-arbetar-i-floden-inte-i-stupror.md"


@pytest.fixture
def built(run, sample_site, monkeypatch):
    """The sample site built three times (a live, a previous and a spare release), every
    build of it with a lookahead as on a big site."""
    monkeypatch.setattr("blogtool.site.output.LOOKAHEAD_FROM", 0)
    for _ in range(3):
        _change(sample_site)  # (with nothing changed, a build takes the fast way out)
        assert run("build").exit_code == 0
    assert releases.spare_release(sample_site / "public") is not None
    return sample_site


def _change(site) -> None:
    post = site / POST
    post.write_text(post.read_text("utf-8") + f"\nÄndrat {time.time_ns()}.\n", "utf-8")


def _fresh(site, name: str) -> dict[str, str]:
    fresh = site.parent / name
    shutil.copytree(site, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool"))
    assert Run(fresh)("build").exit_code == 0
    return _tree(fresh / "public")


def _look(site) -> lookahead.Looked | None:
    config = load_config(site)
    output = config.output_dir
    ahead = lookahead.start(
        manifest_path(config, output), releases.live_release(output), releases.spare_release(output)
    )
    assert ahead is not None
    return ahead.result()


def test_the_child_finds_what_lstat_finds(built):
    public = built / "public"
    live, spare = releases.live_release(public), releases.spare_release(public)
    assert live is not None and spare is not None
    (live / "index.html").unlink()
    (spare / "feed.xml").unlink()
    (spare / "feed.xml").write_text("changed by hand", "utf-8")
    looked = _look(built)
    assert looked is not None
    assert looked.live == str(live) and looked.spare == str(spare)
    assert looked.missing == {"index.html"}
    different = set()
    pages = load_manifest(manifest_path(load_config(built), public))
    for name in (output_file(p) for p in pages if output_file(p) != "index.html"):
        copy = spare / name
        if not copy.is_file() or not os.path.samefile(copy, live / name):
            different.add(name)
    assert looked.differ == different and "feed.xml" in different
    assert lookahead.look(pages, live, spare) == looked  # the build's own look, in-process


def test_with_an_answer_the_build_asks_the_file_system_nothing_more(built, run, monkeypatch):
    """The child looks (in its own process); the build process does not look again."""
    looking = lookahead.look
    parent, looked_here = os.getpid(), []

    def counting(*args):
        if os.getpid() == parent:
            looked_here.append(args)
        return looking(*args)

    monkeypatch.setattr(lookahead, "look", counting)
    for _ in range(2):
        _change(built)
        result = run("build")
        assert result.exit_code == 0, result.output
    assert looked_here == []
    assert _tree(built / "public") == _fresh(built, "fresh")


def test_without_an_answer_the_build_looks_for_itself(built, run, monkeypatch):
    looking = lookahead.look
    parent = os.getpid()

    def failing_in_the_child(*args):
        if os.getpid() != parent:
            raise OSError("the child fails")
        return looking(*args)

    monkeypatch.setattr(lookahead, "look", failing_in_the_child)
    assert _look(built) is None
    (built / "public" / "index.html").unlink()
    _change(built)
    assert run("build").exit_code == 0
    assert _tree(built / "public") == _fresh(built, "fresh")


def test_close_ends_a_child_still_writing_its_answer(built, monkeypatch):
    """A build that stops early (bad content) closes the lookahead; a child whose answer
    does not fit in the pipe must not be left waiting."""
    big = lookahead.Looked("x" * 2_000_000, None, frozenset(), frozenset())
    monkeypatch.setattr(lookahead, "look", lambda *_a: big)
    config = load_config(built)
    output = config.output_dir
    ahead = lookahead.start(manifest_path(config, output), releases.live_release(output), None)
    assert ahead is not None
    pid = ahead._pid
    started = time.monotonic()
    ahead.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped, not a zombie
