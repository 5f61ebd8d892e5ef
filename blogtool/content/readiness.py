"""Whether a post or tip is fit to go out: the checks ``check`` reports, ``schedule`` applies
and ``build``/``run`` enforce before anything is published or mailed.

Drafts are not checked (they are allowed to be unfinished). Everything else, scheduled or
published, must have been written by a person (not still the text ``new`` put there), say what
it is about, point only at files that exist and, for a tip, at a service readers can open.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from blogtool.config import Config
from blogtool.content import markdown
from blogtool.content.model import Item, Kind
from blogtool.errors import Problem
from blogtool.i18n import _
from blogtool.pictures import sources

PLACEHOLDER_FIELD = "placeholder"

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # an address with a scheme leaves the site


def fingerprint(paragraph: str) -> str:
    """A short hash of a paragraph, whitespace normalised: what ``new`` records of the text it
    writes, so the check never has to know the wording (or its language)."""
    return hashlib.sha256(" ".join(paragraph.split()).encode("utf-8")).hexdigest()[:16]


def placeholder_value(body: str) -> str:
    """The front-matter value ``new`` writes beside ``body``: one fingerprint per paragraph."""
    return " ".join(fingerprint(p) for _, p in _paragraphs(body))


def _paragraphs(body: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each blank-line separated paragraph."""
    for m in re.finditer(r"(?:^[ \t]*\S.*(?:\n|$))+", body, re.MULTILINE):
        yield m.start(), m.group(0)


def local_links(body: str) -> Iterator[tuple[int, str, bool]]:
    """(offset, target, is_image) of every link or picture that names a file of the site: no
    scheme, not an anchor, not a root-relative site path; as Python-Markdown reads the body, so
    code and HTML comments hold none."""
    return local(markdown.references(body))


def local(references: Iterable[markdown.Reference]) -> Iterator[tuple[int, str, bool]]:
    """Those of ``references`` that name a file of the site, as ``local_links`` gives them."""
    for ref in sorted(references, key=lambda r: r.offset):
        target = ref.target
        if not target or _SCHEME.match(target) or target.startswith(("#", "/", "?")):
            continue
        yield ref.offset, target, ref.image


def resolve(source: Path | str, target: str) -> str:
    """The site-relative path a relative link in ``source`` (a Path, or its text as
    ``Item.rel`` gives it) points at ('' if it leaves the site)."""
    path = target.split("#", 1)[0].split("?", 1)[0]
    from urllib.parse import unquote

    folder = posixpath.dirname(source) if isinstance(source, str) else source.parent.as_posix()
    joined = posixpath.normpath(posixpath.join(folder, unquote(path)))
    return "" if joined.startswith("../") or joined == ".." else joined


def problems(items: Iterable[Item], config: Config) -> list[Problem]:
    """Every reason a scheduled or published item may not go out yet."""
    found: list[Problem] = []
    for item in items:
        values = item.values
        if values["draft"] or values["date"] is None:
            continue
        found += of_item(item, config)
    return found


def of_item(item: Item, config: Config) -> list[Problem]:
    """What would keep ``item`` from going out, whatever its status (the studio shows a
    draft's too, as it is written). (Each check is asked only of an item it can find
    something in: a build asks every item, and most have a summary, no placeholder, no
    picture and no link.)"""
    values = item.values
    found = _placeholder(item) if values.get(PLACEHOLDER_FIELD) else []
    if not str(values["summary"]).strip():
        found += _summary(item)
    if item.links != ():  # (None: not worked out yet)
        found += _links(item, config)
    if values["image"]:
        found += sources.check(
            config,
            values["image"],
            item.path,
            source=item.path,
            key="image",
            line=item.lines.get("image"),
        )
    if item.kind is Kind.TIP and values.get("service"):
        found += _service(item, config)
    return found


def _line(item: Item, offset: int) -> int:
    return item.body_line + item.body.count("\n", 0, offset)


def _placeholder(item: Item) -> list[Problem]:
    recorded = set(str(item.values.get(PLACEHOLDER_FIELD) or "").split())
    if not recorded:
        return []
    return [
        Problem(
            item.path,
            _(
                "still the text 'blogtool new' wrote here; replace it with your own before it "
                "goes out"
            ),
            line=_line(item, offset),
        )
        for offset, paragraph in _paragraphs(item.body)
        if fingerprint(paragraph) in recorded
    ]


def _summary(item: Item) -> list[Problem]:
    if item.summary.strip():
        return []
    tip = item.kind is Kind.TIP
    return [
        Problem(
            item.path,
            _(
                "empty; write one or two sentences (the newsletter's preview line, the feed "
                "and the page description use it)"
            )
            + ("" if tip else _("; the first paragraph is used until then")),
            key="summary",
            line=item.lines.get("summary"),
            severity="error" if tip else "warning",
        )
    ]


def _links(item: Item, config: Config) -> list[Problem]:
    found = []
    links = item.links if item.links is not None else tuple(local_links(item.body))
    for offset, target, image in links:
        if image:
            # (The line only for a problem: counting it reads the body, which an item from
            # the parse cache otherwise never decodes.)
            found += [
                replace(problem, line=_line(item, offset))
                for problem in sources.check(
                    config, target, item.path, source=item.path, key=None, line=None
                )
            ]
            continue
        path = resolve(item.path, target)
        if not path:
            message = _("link {target!r} points outside the site").format(target=target)
        elif (config.root / path).is_file():
            continue
        else:
            message = _("link {target!r}: there is no file {path}").format(target=target, path=path)
        found.append(Problem(item.path, message, line=_line(item, offset)))
    return found


def _service(item: Item, config: Config) -> list[Problem]:
    service = config.services.get(item.service or "")
    if service is None or service.url:
        return []
    return [
        Problem(
            item.path,
            _(
                "the service {key!r} has no url in blogtool.toml ([services.{key}] "
                "url); the tip's button would lead nowhere"
            ).format(key=service.key),
            key="service",
            line=item.lines.get("service"),
        )
    ]


def tag_typos(items: Iterable[Item]) -> list[Problem]:
    """A warning for a tag only one item uses when another tag, used more, is spelt nearly
    the same ('naturkarta' beside 'naturkartan'): a typo splits a topic page in two."""
    from collections import Counter
    from itertools import chain

    items = list(items)
    uses = Counter(chain.from_iterable(item.values["tags"] for item in items))
    single = {tag for tag, n in uses.items() if n == 1}
    if not single:
        return []
    import difflib

    common = [tag for tag, n in uses.items() if n > 1]
    found = []
    for item in items:
        for tag in item.values["tags"]:
            if tag not in single:
                continue
            near = difflib.get_close_matches(tag, [t for t in common if t != tag], n=1, cutoff=0.8)
            if near:
                found.append(
                    Problem(
                        item.path,
                        _(
                            "the tag {tag!r} is used only here; did you mean {near!r} ({uses} "
                            "items)?"
                        ).format(tag=tag, near=near[0], uses=uses[near[0]]),
                        key="tags",
                        line=item.lines.get("tags"),
                        severity="warning",
                    )
                )
    return found
