"""Addresses the site had before one of its [urls] words was renamed: every page under an old
word answers there too, build after build, so links in mail, feeds and search engines that
point at the old address keep working.

A page gets a small redirect page at its old address; a made picture (a file, which an old
newsletter shows) is published at its old address as well.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from blogtool.config import Config
from blogtool.files import write_atomic
from blogtool.site.engine import Page
from blogtool.site.pages import SiteView
from blogtool.site.urls import segments

HISTORY = "addresses.json"  # in the site's state folder: the words of every earlier build


def _history(config: Config) -> list[dict[str, Any]]:
    try:
        found = json.loads((config.state_dir / HISTORY).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return [entry for entry in found if isinstance(entry, dict)] if isinstance(found, list) else []


def former(config: Config) -> dict[str, list[str]]:
    """Each [urls] key's earlier words that differ from today's."""
    now = segments(config)
    found: dict[str, list[str]] = {}
    for entry in _history(config):
        for key, word in entry.items():
            if key in now and isinstance(word, str) and word != now[key]:
                found.setdefault(key, [])
                if word not in found[key]:
                    found[key].append(word)
    return found


def remember(config: Config) -> None:
    """After a public build: its words join the history when they are new."""
    history = _history(config)
    now = segments(config)
    if not history or history[-1] != now:
        history.append(now)
        write_atomic(config.state_dir / HISTORY, json.dumps(history).encode(), durable=False)


def moved_pages(view: SiteView, pages: list[Page], earlier: dict[str, list[str]]) -> list[Page]:
    """A page at the old address of every page whose folder was renamed."""
    by_word = {word: key for key, word in segments(view.config).items()}
    moved = []
    for page in pages:
        top, _, rest = page.path.partition("/")
        for old in earlier.get(by_word.get(top, ""), ()):
            old_path = f"{old}/{rest}"
            if not page.path.endswith("/"):  # a picture: the same file at the old address
                moved.append(Page(old_path, page.digest, page.produce, page.heavy))
                continue
            target = view.urls.absolute(page.path)
            produce = partial(view.page, "redirect.html", title=target, target=target)
            moved.append(view.spec(old_path, [target], produce))
    return moved
