"""What a build finds of the last build's pages in the live and the spare release: a page
that is gone from the live release, and a page whose copy in the spare is not the live one;
with the record of the live release's files that the last build left, from the spare alone."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from blogtool.config import load_config
from blogtool.site import releases
from blogtool.site.engine import output_file
from blogtool.site.incremental import lookahead
from blogtool.site.incremental.manifest import load_manifest, manifest_path

from .conftest import Run

POST = "posts/2026-10-15-vi-arbetar-i-floden-inte-i-stupror.md"


@pytest.fixture
def built(run, sample_site):
    """The sample site built three times (a live, a previous and a spare release)."""
    for _ in range(3):
        _change(sample_site)  # (with nothing changed, a build takes the fast way out)
        assert run("build").exit_code == 0
    assert releases.spare_release(sample_site / "public") is not None
    return sample_site


def _change(site) -> None:
    post = site / POST
    post.write_text(post.read_text("utf-8") + f"\nÄndrat {time.time_ns()}.\n", "utf-8")


def test_look_finds_what_lstat_finds(built):
    public = built / "public"
    live, spare = releases.live_release(public), releases.spare_release(public)
    assert live is not None and spare is not None
    (live / "index.html").unlink()
    (spare / "feed.xml").unlink()
    (spare / "feed.xml").write_text("changed by hand", "utf-8")
    pages = load_manifest(manifest_path(load_config(built), public)).pages
    looked = lookahead.look(pages, live, spare)
    assert looked.live == str(live) and looked.spare == str(spare)
    assert looked.missing == {"index.html"}
    different = set()
    for name in (output_file(p) for p in pages if output_file(p) != "index.html"):
        copy = spare / name
        if not copy.is_file() or not os.path.samefile(copy, live / name):
            different.add(name)
    assert looked.differ == different and "feed.xml" in different


def test_with_the_record_only_the_spare_is_looked_at(built):
    """The last build recorded the live release's page files by inode. A spare's file with
    the recorded inode is the live file, even where the live release lost its name for it
    (a page deleted there by hand: the spare's copy is what the build made); a spare's file
    changed by hand is not."""
    public = built / "public"
    live, spare = releases.live_release(public), releases.spare_release(public)
    assert live is not None and spare is not None
    last = load_manifest(manifest_path(load_config(built), public))
    assert last.recorded is not None and last.recorded.release == live.name
    names = {output_file(p) for p in last.pages}
    assert set(last.recorded.files) == names
    assert all(last.recorded.files[n] == (live / n).stat().st_ino for n in names)
    (live / "index.html").unlink()
    (spare / "feed.xml").unlink()
    (spare / "feed.xml").write_text("changed by hand", "utf-8")
    looked = lookahead.look(last.pages, live, spare, last.recorded)
    assert not looked.live_checked and looked.missing == frozenset()
    different = {
        name
        for name in names - {"index.html"}
        if not (spare / name).is_file() or not os.path.samefile(spare / name, live / name)
    }
    assert looked.differ == different and "feed.xml" in different
    assert "index.html" not in looked.differ  # the spare still holds the file the build made
    # A record of another release is no record of this one: both are looked at.
    other = lookahead.Recorded("r-another", last.recorded.device, last.recorded.files)
    assert lookahead.look(last.pages, live, spare, other).missing == {"index.html"}


def test_a_page_taken_from_the_live_release_that_is_gone_there_is_made_again(run, built):
    """A page the spare does not hold as the live file is taken from the live release; when
    it is gone from there (deleted by hand), it is rendered instead, and the site is what a
    build from nothing makes."""
    public = built / "public"
    post = built / POST
    page = public / "vi-arbetar-i-floden-inte-i-stupror" / "index.html"
    assert page.is_file()
    # The post's page was rendered by the last build, so the spare's copy is an older one.
    page.unlink()
    other = next(p for p in (built / "posts").glob("*.md") if p != post)
    other.write_text(other.read_text("utf-8") + "\nEn annan ändring.\n", "utf-8")
    result = run("build")
    assert result.exit_code == 0, result.stderr
    assert page.is_file()
    fresh = built.parent / "fresh"
    shutil.copytree(built, fresh, ignore=shutil.ignore_patterns("public", ".public.*", ".blogtool"))
    assert Run(fresh)("build").exit_code == 0
    assert page.read_bytes() == (fresh / "public" / page.relative_to(public)).read_bytes()
