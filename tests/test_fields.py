"""The field table is the one home of the front-matter keys: a field added there is accepted,
validated, part of the digest, invalidates the parse cache, reaches the templates and the
reference, with no other edit."""

from __future__ import annotations

import json
import pickle

import pytest

from blogtool.config import load_config
from blogtool.content import fields
from blogtool.content.fields import Field, text
from blogtool.content.load import load_site
from blogtool.content.model import Kind
from blogtool.site.templates import PACKAGE_TEMPLATES

from .conftest import REPO, write

POST = "posts/2026-11-20-ett-ar-med-e-tjanster.md"


@pytest.fixture
def mood_field(monkeypatch):
    """A new key, as a developer would add it: one row in the table."""
    mood = Field("mood", "text", "How the post feels.", text, default="neutral")
    monkeypatch.setattr(fields, "FIELDS", (*fields.FIELDS, mood))
    return mood


def _set_mood(site, value: str) -> None:
    path = site / POST
    raw = path.read_text("utf-8")
    lines = raw.split("\n")
    lines = [line for line in lines if not line.startswith("mood:")]
    lines.insert(1, f"mood: {value}")
    path.write_text("\n".join(lines), "utf-8")


def _show_mood_in_template(site) -> None:
    html = (PACKAGE_TEMPLATES / "item.html").read_text("utf-8")
    html = html.replace("</article>", '<p class="mood">{{ item["mood"] }}</p>\n</article>', 1)
    write(site / "templates" / "item.html", html)


def test_a_new_field_is_accepted_validated_digested_and_invalidates_the_cache(
    sample_site, run, monkeypatch
):
    # A build before the field exists fills the parse cache and the build manifest.
    assert run("build").exit_code == 0
    cache = sample_site / ".blogtool" / "cache" / "content"
    assert list(cache.glob("*.pickle"))

    mood = Field("mood", "text", "How the post feels.", text, default="neutral")
    monkeypatch.setattr(fields, "FIELDS", (*fields.FIELDS, mood))
    _show_mood_in_template(sample_site)

    # Accepted, and the default reaches items that do not set it, even from the old cache.
    _set_mood(sample_site, "glad")
    result = run("build")
    assert result.exit_code == 0, result.stderr
    page = (sample_site / "public" / "ett-ar-med-nya-e-tjanster" / "index.html").read_text("utf-8")
    assert '<p class="mood">glad</p>' in page
    other = (sample_site / "public" / "valkommen-till-kommunbloggen" / "index.html").read_text(
        "utf-8"
    )
    assert '<p class="mood">neutral</p>' in other

    # Validated: the wrong type is one clear error with file, line and key.
    _set_mood(sample_site, "[1, 2]")
    result = run("check")
    assert result.exit_code == 1
    assert f"{POST}:2: error: mood: expected text, got list [1, 2]" in result.stderr

    # "Did you mean" knows it.
    path = sample_site / POST
    path.write_text(path.read_text("utf-8").replace("mood: [1, 2]", "mod: glad"), "utf-8")
    result = run("check")
    assert "mod: unknown key; did you mean 'mood'?" in result.stderr


def test_a_new_field_is_part_of_the_digest(sample_site, mood_field):
    config = load_config(sample_site)
    _set_mood(sample_site, "glad")
    glad = next(i for i in load_site(config).items if str(i.path) == POST)
    _set_mood(sample_site, "ledsen")
    sad = next(i for i in load_site(config).items if str(i.path) == POST)
    assert glad["mood"] == "glad" and sad["mood"] == "ledsen"
    assert glad.digest("published") != sad.digest("published")
    assert glad.body == sad.body and glad.title == sad.title


def test_changing_only_the_new_field_rerenders_that_page(sample_site, run, mood_field):
    _show_mood_in_template(sample_site)
    _set_mood(sample_site, "glad")
    assert run("build").exit_code == 0
    _set_mood(sample_site, "ledsen")
    result = run("build")
    assert result.exit_code == 0
    written = int(result.stdout.split(" written")[0].rsplit(" ", 1)[1])
    assert 1 <= written < 10, result.stdout  # the page and the lists that show it, not all
    page = (sample_site / "public" / "ett-ar-med-nya-e-tjanster" / "index.html").read_text("utf-8")
    assert '<p class="mood">ledsen</p>' in page


def test_a_cache_made_with_another_field_table_is_not_used(sample_site, run, monkeypatch):
    """Belt and braces: even with a matching header, items missing a field are re-parsed."""
    from blogtool.content import load

    assert run("build").exit_code == 0
    cache = sample_site / ".blogtool" / "cache" / "content"
    for shard in cache.glob("*.pickle"):
        header, entries = pickle.loads(shard.read_bytes())
        for _key, item, _problems in entries.values():
            if item is not None:
                item.values.pop("author")  # as an Item pickled before 'author' existed would be
        shard.write_bytes(pickle.dumps((header, entries)))
    config = load_config(sample_site)
    assert load._read_cache(cache, config) == {}
    result = run("build")
    assert result.exit_code == 0, result.stderr


def test_a_state_directory_from_an_older_blogtool_never_crashes_a_build(sample_site, run):
    """Caches and manifests in formats this version did not write are ignored."""
    state = sample_site / ".blogtool"
    write(state / "cache" / "content" / "00.pickle", pickle.dumps(((1, b"old"), {"x": 1})))
    write(state / "builds" / "0123456789abcdef.json", json.dumps({"version": 0}))
    # A pickle naming a class the old flat layout had (blogtool.content.Item).
    write(state / "cache" / "content" / "01.pickle", b"cblogtool.content\nItem\n.")
    write(state / "cache" / "content.pickle", b"the unsharded cache of an older version")
    result = run("build")
    assert result.exit_code == 0, result.stderr
    assert (sample_site / "public" / "index.html").is_file()
    assert not (state / "cache" / "content.pickle").exists()  # the old cache is cleared away


def test_reference_lists_every_field_and_the_docs_agree(run):
    result = run("fields", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [f["name"] for f in listed] == [f.name for f in fields.FIELDS]
    service = next(f for f in listed if f["name"] == "service")
    assert service["kinds"] == ["tip"]
    assert next(f for f in listed if f["name"] == "title")["required"] is True
    markdown = run("fields", "--markdown").stdout
    assert (REPO / "docs" / "front-matter.md").read_text("utf-8") == markdown, (
        "docs/front-matter.md is out of date: make docs"
    )


def test_only_the_kinds_a_field_names_accept_it(sample_site, run):
    write(
        sample_site / "posts" / "med-tjanst.md",
        "---\ntitle: Med tjänst\ndate: 2026-11-01\nservice: naturkartan\nsummary: Kort.\n---\nText.\n",
    )
    result = run("check")
    assert "posts/med-tjanst.md:4: error: service: only tips have a service" in result.stderr
    assert fields.allowed(Kind.POST) == [f.name for f in fields.FIELDS if f.name != "service"]


def test_a_cached_item_is_the_parsed_one(sample_site):
    """What the parse cache keeps of an item (pickled) is the item: every field, its hash,
    and a body as it was read, an undecodable byte too."""
    config = load_config(sample_site)
    for item in load_site(config).items:
        assert item.path == sample_site.joinpath(item.rel).relative_to(sample_site)
        again = pickle.loads(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
        assert again == item and hash(again) == hash(item)
        assert again.rel == item.rel and again.body == item.body
        # The Path is made again when asked, not carried in the pickle.
        assert "path" not in vars(again) and again.path == item.path
    odd = item.__class__(item.kind, item.rel, item.slug, "kaffe \udcff ☕", 1, item.values)
    assert pickle.loads(pickle.dumps(odd)).body == "kaffe \udcff ☕"


def test_the_parse_cache_rewrites_only_the_shards_whose_entries_changed(sample_site, run):
    """A changed file rewrites its shard; a deleted one its own; the others stay as written.
    What the cache then holds is every file as it is now, and nothing of the deleted one."""
    from blogtool.content import load

    assert run("build").exit_code == 0
    cache = sample_site / ".blogtool" / "cache" / "content"
    config = load_config(sample_site)
    before = load._read_cache(cache, config)
    changed, gone = sorted(before)[0], sorted(before)[-1]
    assert load._shard(changed) != load._shard(gone)
    written = {p.name: p.stat().st_ino for p in cache.iterdir()}
    with (sample_site / changed).open("a", encoding="utf-8") as fh:
        fh.write("\nEtt tillägg.\n")
    (sample_site / gone).unlink()
    result = run("build")
    assert result.exit_code == 0, result.stderr
    again = {p.name: p.stat().st_ino for p in cache.iterdir()}
    rewritten = {name for name in written if again.get(name) != written[name]}
    shards = {load._shard(changed), load._shard(gone)}
    assert rewritten == {f"{n:02d}.{kind}" for n in shards for kind in ("pickle", "bodies")}
    after = load._read_cache(cache, config)
    assert sorted(after) == sorted(set(before) - {gone})
    assert after[changed][1].body.endswith("Ett tillägg.\n")
    assert all(after[rel] == before[rel] for rel in after if rel != changed)
    assert load_site(config, cache).items == load_site(config).items
