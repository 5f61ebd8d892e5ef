"""Reading one post or tip: bytes -> a validated ``Item`` and every problem found.

The keys and their types come from the field table (``fields.FIELDS``); the rules that span
several keys (a date unless it is a draft, alt text for every image, a slug that can be made,
the series weekday) are the small checks at the end of ``parse_item``.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from frontmatter.default_handlers import YAMLHandler

from blogtool.config import Config
from blogtool.content import fields, lix, markdown
from blogtool.content.fields import Context, Invalid
from blogtool.content.model import Item, Kind
from blogtool.content.readiness import local
from blogtool.errors import Problem, unknown
from blogtool.files import check_source
from blogtool.i18n import _, cli_language
from blogtool.slugs import slugify
from blogtool.timeutil import weekday_name

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """YAML makes dates of unquoted timestamps; one that does not exist (2026-02-30) stays
    text, so the date field reports it with its key and line instead of crashing."""


def _timestamp(loader: _BaseLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


_HANDLER = YAMLHandler()


class _Collector:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def error(self, message: str, key: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, key, line))

    def warning(self, message: str, key: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, key, line, "warning"))


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


def _split(text: str) -> tuple[str, str, int] | None:
    """Front matter, body and the body's first line number; None without front matter.

    python-frontmatter's boundary pattern swallows blank lines after the opening '---', which
    shifts every line number we report, so the split is done here with an exact pattern.
    """
    if not _HANDLER.detect(text):
        return None
    m = _FRONT_MATTER.match(text)
    if m is None:
        return None
    fm = m.group(1)
    return fm, text[m.end() :], 3 + fm.count("\n")


def _first_alias(root: yaml.Node | None) -> yaml.Node | None:
    """A node met twice in the composed graph: where an alias points back at an anchor."""
    seen: set[int] = set()
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if id(node) in seen:
            return node
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            todo.extend(n for pair in node.value for n in pair)
    return None


def _yaml_mapping(fm: str, c: _Collector) -> tuple[Any, dict[str, int]] | None:
    """Parse the front matter, keeping each top-level key's line (1-based, in the file)."""
    loader = _Loader(fm)
    try:
        node = loader.get_single_node()
        alias = _first_alias(node)
        if alias is not None:
            # Aliases let a few lines stand for billions of values; front matter never needs one.
            c.error(
                _("front matter uses a YAML anchor and alias (&name, *name); write the value out"),
                line=alias.start_mark.line + 2,
            )
            return None
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark else None  # YAML counts from 0; '---' is line 1
        if line is not None:  # an error found at the end points at the last front-matter line
            line = min(line, 1 + max(1, fm.count("\n")))
        problem = exc.problem or exc.context or _("could not be parsed")
        c.error(_("front matter is not valid YAML: {problem}").format(problem=problem), line=line)
        return None
    except yaml.YAMLError as exc:
        c.error(_("front matter is not valid YAML: {exc}").format(exc=exc))
        return None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _value in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 2
    return data, lines


def images_without_alt(refs: tuple[markdown.Reference, ...]) -> list[tuple[int, bool]]:
    """(offset, explicit) of the pictures among ``refs`` without alt text; ``explicit`` when an
    HTML picture says ``alt=""`` on purpose (a decorative picture, which WCAG allows)."""
    found = []
    for ref in refs:
        if not ref.image:
            continue
        if ref.html and ref.alt is not None and not ref.alt.strip():
            found.append((ref.offset, True))
        elif not (ref.alt or "").strip():
            found.append((ref.offset, False))
    return sorted(found)


def read_item(
    source: Path,
    rel: Path,
    kind: Kind,
    config: Config,
    plain: bool = False,
    readability: bool = False,
) -> tuple[Item | None, list[Problem]]:
    """Read and validate one file. Returns the item (None if unusable) and every problem.

    ``plain``: the caller listed a regular file, not a link, in a folder inside the site. It is
    then opened without following a link and read only if it is still a regular file, which
    costs no walk up its path (a big site has thousands); anything else is checked in full."""
    raw = _read_plain(source) if plain else None
    if raw is None:
        refused = check_source(source, config.root)
        if refused is not None:
            return None, [Problem(rel, refused)]
        try:
            raw = source.read_bytes()
        except OSError as exc:
            reason = _("cannot be read: {strerror}").format(strerror=exc.strerror)
            return None, [Problem(rel, reason)]
    return parse_item(raw, rel, kind, config, readability)


def _read_plain(source: Path) -> bytes | None:
    """The bytes of ``source`` if it is (still) a regular file and not a link, else None."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:  # plain reads: a file object would ask the system three more things about the file
        size = os.fstat(fd)
        if not stat.S_ISREG(size.st_mode):
            return None
        chunks = []
        while chunk := os.read(fd, max(size.st_size + 1, 4096)):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _front_matter(
    raw: bytes, c: _Collector
) -> tuple[dict[str, Any], dict[str, int], str, int] | None:
    """The front matter as a mapping, each key's line, the body and its first line."""
    if not raw.strip():
        c.error(_("file is empty; expected front matter between '---' lines with at least a title"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        c.error(
            _("not UTF-8 (byte 0x{raw:02X} cannot be decoded); save the file as UTF-8").format(
                raw=raw[exc.start]
            ),
            line=raw[: exc.start].count(b"\n") + 1,
        )
        return None
    split = _split(text.replace("\r\n", "\n") if "\r" in text else text)  # (found quicker)
    if split is None:
        c.error(
            _("no front matter; expected a '---' line, then key: value lines, then '---'"), line=1
        )
        return None
    fm, body, body_line = split
    parsed = _yaml_mapping(fm, c)
    if parsed is None:
        return None
    data, lines = parsed
    if data is None:
        c.error(_("front matter is empty; expected at least a title"), line=2)
        return None
    if not isinstance(data, dict):
        kinds = {list: "a list", str: "a single string"}
        got = kinds.get(type(data), type(data).__name__)  # type: ignore[call-overload]
        c.error(
            _("front matter must be a mapping of keys to values (key: value), got {got}").format(
                got=got
            ),
            line=2,
        )
        return None
    return data, lines, body, body_line


def _unknown_keys(
    data: dict[str, Any], kind: Kind, c: _Collector, lines: dict[str, int]
) -> set[str]:
    """Report keys the table does not allow; return the keys misspellings probably meant."""
    names = fields.allowed(kind)
    hinted: set[str] = set()
    for key in data:
        if key in names:
            continue
        field = fields.by_name(str(key))
        if field is not None:
            only = " and ".join(sorted(k.value + "s" for k in field.kinds))
            msg = f"only {only} have a {field.name}"
        else:
            import difflib  # (only for an error, as in errors.unknown)

            msg = unknown(_("key"), str(key), names)
            hinted.update(difflib.get_close_matches(str(key), names, n=1))
        c.error(msg, key=str(key), line=lines.get(str(key)))
    return hinted


def parse_item(
    raw: bytes, rel: Path, kind: Kind, config: Config, readability: bool = False
) -> tuple[Item | None, list[Problem]]:
    """Validate the bytes of one file; ``rel`` is the path that messages name. With
    ``readability``, the text's LIX counts are kept with the item."""
    c = _Collector(rel)
    found = _front_matter(raw, c)
    if found is None:
        return None, c.problems
    data, lines, body, body_line = found
    hinted = _unknown_keys(data, kind, c, lines)
    context = Context(config, kind)
    values: dict[str, Any] = {}
    for field in fields.FIELDS:
        if not field.applies_to(kind):
            continue
        raw_value = data.get(field.name)
        value = None
        if raw_value is not None:
            try:
                value = field.parse(raw_value, context)
            except Invalid as exc:
                c.error(str(exc), key=field.name, line=lines.get(field.name))
                values[field.name] = field.default_for(context)
                continue
        if value is None or value == "":
            if field.required and field.name not in hinted:
                c.error(_(field.missing), key=field.name, line=lines.get(field.name))
            value = field.default_for(context) if value is None else value
        values[field.name] = value
    for key, note in context.notes:
        c.warning(note, key=key, line=lines.get(key))
    try:
        # (With readability, the one reading also collects the running text LIX counts.)
        refs = markdown.references(body, readability)
        hazards = markdown.hazards(body, readability)
        html: str | None = markdown.html(body, readability)
    except markdown.Unreadable as exc:
        if str(exc) == "too-long":
            message = _(
                "the text is {size} KB; a post or tip may have at most {limit} KB (split it in "
                "parts)"
            ).format(size=len(body) // 1024, limit=markdown.MAX_BODY // 1024)
        elif str(exc) == "brackets":
            message = _(
                "a paragraph with over {limit} '[' starts here; split it with blank lines, or "
                "write \\[ for a '[' that opens no link"
            ).format(limit=markdown.MAX_BRACKETS)
        elif str(exc) == "paragraph":
            message = _(
                "a paragraph of over {limit} KB starts here; split it with blank lines (reading "
                "it would take time growing with its square)"
            ).format(limit=markdown.MAX_PARAGRAPH // 1024)
        else:
            message = _(
                "'<' opens a tag that no '>' closes, over and over from here: reading it would "
                "take minutes; write &lt; for a '<' that is not a tag"
            )
        c.error(message, line=body_line + body.count("\n", 0, exc.offset))
        refs, hazards, html = (), (), None
    except Exception as exc:  # a library's bug on some text: that file's problem, not a crash
        c.error(
            _("Markdown cannot read the text ({type}: {exc})").format(
                type=type(exc).__name__, exc=exc
            ),
            line=body_line,
        )
        refs, hazards, html = (), (), None
    slug = _checks(values, body, body_line, kind, config, c, lines, hinted, refs)
    _warn_of_script(body, body_line, hazards, c, config)
    if any(p.is_error for p in c.problems) or not slug:
        return None, c.problems
    item = Item(kind, rel.as_posix(), slug, body, body_line, values, lines, tuple(local(refs)))
    counted = None
    if readability:  # (the text was just read: its running text is at hand)
        found_lix = lix.of_markdown(body)
        counted = (found_lix.words, found_lix.sentences, found_lix.long_words)
    return replace(
        item,
        readability=counted,
        content_digest=item.content(),
        listed_digest=item.listed(),
        html=html,
    ), c.problems


def _checks(
    values: dict[str, Any],
    body: str,
    body_line: int,
    kind: Kind,
    config: Config,
    c: _Collector,
    lines: dict[str, int],
    hinted: set[str],
    refs: tuple[markdown.Reference, ...],
) -> str | None:
    """The rules that span several keys, and the body's pictures' alt text (``refs``, as the
    Markdown reader found them). Returns the slug, if one can be had."""
    failed = {p.key for p in c.problems if p.is_error}
    date, draft = values.get("date"), values.get("draft")
    if date is None and not draft and not failed & {"date", "draft"} and "date" not in hinted:
        c.error(
            _("missing; a post that is not a draft needs a date (or set draft: true)"),
            key="date",
            line=lines.get("draft"),
        )
    if values.get("image") and not values.get("image_alt"):
        c.error(
            _("missing; the image needs alt text that describes it (WCAG 1.1.1)"),
            key="image_alt",
            line=lines.get("image"),
        )
    bad = fields.not_in_xml(body)
    if bad:
        c.error(
            _("contains the control character U+{ord:04X}; remove it").format(ord=ord(bad.group())),
            line=body_line + body.count("\n", 0, bad.start()),
        )
    for offset, explicit in images_without_alt(refs):
        line = body_line + body.count("\n", 0, offset)
        if explicit:
            c.warning(
                _(
                    'image with alt="": right only if it is decorative; describe what it shows '
                    "(WCAG 1.1.1)"
                ),
                line=line,
            )
        else:
            c.error(_("image without alt text; write ![description](file) (WCAG 1.1.1)"), line=line)
    if kind is Kind.TIP and date is not None and date.weekday() != config.tips.weekday:
        c.warning(
            _("{date} is a {weekday}; the series goes out on {series_day}").format(
                date=date.date().isoformat(),
                weekday=weekday_name(date.weekday(), cli_language()),
                series_day=weekday_name(config.tips.weekday, cli_language()),
            ),
            key="date",
            line=lines.get("date"),
        )
    slug: str | None = values.get("slug")
    title = values.get("title")
    if slug is None and "slug" not in failed and title:
        slug = slugify(title)
        if not slug:
            c.error(
                _("no slug can be made from this title; add a slug: key"),
                key="title",
                line=lines.get("title"),
            )
    return slug


def _warn_of_script(
    body: str,
    body_line: int,
    hazards: tuple[tuple[str, str], ...],
    c: _Collector,
    config: Config,
) -> None:
    """The site's own HTML may run script (it is theirs), or load from another host; check
    says so, with the line."""
    own = urlsplit(config.site.base_url).hostname
    for what, where in hazards:
        if what == markdown.LOADS:
            tag, address = where.split(" ", 1)
            host = markdown.remote(address)
            if host is None or host == own or host in config.site.allow_hosts:
                continue
            if tag == "img":
                message = _(
                    "a picture on another host ({host}): every reader's browser fetches it from "
                    "there, and it goes when that site does; copy it into static/bilder/ and "
                    "link the copy"
                ).format(host=host)
            else:
                message = _(
                    "a <{tag}> loads from another host ({host}): every reader's browser "
                    "fetches it from there and tells that host who reads; list the host in "
                    "[site] allow_hosts if you mean it, or link to it instead"
                ).format(tag=tag, host=host)
            at = body.find(address)
            c.warning(message, line=body_line + (body.count("\n", 0, at) if at >= 0 else 0))
            continue
        message = {
            markdown.SCRIPT: _(
                "a <script> element: the page will run it; remove it unless you "
                "mean the page to run code"
            ),
            markdown.HANDLER: _(
                "an event handler ({name}=): the page will run it; remove it "
                "unless you mean the page to run code"
            ),
            markdown.JAVASCRIPT: _(
                "a javascript: address ({name}=): the page will run it; use an http(s) address"
            ),
        }[what]
        written = {markdown.SCRIPT: "<script", markdown.HANDLER: where}.get(what, "script:")
        found = re.search(re.escape(written), body, re.I)
        line = body_line + (body.count("\n", 0, found.start()) if found else 0)
        c.warning(message.format(name=where), line=line)
