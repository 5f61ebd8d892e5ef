"""What a build finds of the last build's pages in the live and the spare release: a page
that is gone from the live release, and a page whose copy in the spare is not the live one."""

from __future__ import annotations

import os
import time

import pytest

from blogtool.config import load_config
from blogtool.site import releases
from blogtool.site.engine import output_file
from blogtool.site.incremental import lookahead
from blogtool.site.incremental.manifest import load_manifest, manifest_path

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
    pages = load_manifest(manifest_path(load_config(built), public))
    looked = lookahead.look(pages, live, spare)
    assert looked.live == str(live) and looked.spare == str(spare)
    assert looked.missing == {"index.html"}
    different = set()
    for name in (output_file(p) for p in pages if output_file(p) != "index.html"):
        copy = spare / name
        if not copy.is_file() or not os.path.samefile(copy, live / name):
            different.add(name)
    assert looked.differ == different and "feed.xml" in different
