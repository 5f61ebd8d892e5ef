"""Every front-matter key a post or a tip may have, declared once.

This table is the one home of the keys: parsing checks each key against it (allowed keys, types,
"did you mean"), the item's digest and the parse cache's key are computed from it, and the
reference (``blogtool fields``, docs/front-matter.md) is printed from it. Adding a key means
adding one row here and using it in a template, as ``item["key"]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blogtool.config import Config
from blogtool.content.kinds import Kind
from blogtool.errors import unknown
from blogtool.i18n import N_, _
from blogtool.slugs import MAX_SLUG, is_valid_slug
from blogtool.timeutil import parse_when


class Invalid(ValueError):
    """A value that does not fit its field; the message says what was expected."""


@dataclass(frozen=True)
class Context:
    """What a field's parser may look at besides the value; ``notes`` collects warnings about
    values it accepted (a time in the spring gap, moved forward)."""

    config: Config
    kind: Kind
    notes: list[tuple[str, str]] = field(default_factory=list)  # (field name, message)


Parser = Callable[[Any, Context], Any]


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # as the reference names it: "text", "date", "true or false", ...
    help: str
    parse: Parser  # the value as written -> the value the item carries; raises Invalid
    required: bool = False
    missing: str = N_("missing; this key is required")  # translated where it is reported
    default: Any = None  # a value, or a function of the context
    kinds: frozenset[Kind] = frozenset(Kind)
    # In the studio's editor: the field's label (translated where it is shown; the key itself
    # when None) and its control. The control follows the type unless given; "" keeps the
    # key out of the editor (set by buttons, or written by blogtool itself).
    label: str | None = None
    control: str | None = None

    @property
    def widget(self) -> str:
        """The editor's control: line, text, datetime, checkbox, list, service or picture
        ("" for none)."""
        if self.control is not None:
            return self.control
        if self.type.startswith("list"):
            return "list"
        return {"date": "datetime", "true or false": "checkbox"}.get(self.type, "line")

    def default_for(self, context: Context) -> Any:
        return self.default(context) if callable(self.default) else self.default

    def applies_to(self, kind: Kind) -> bool:
        return kind in self.kinds


# --- parsers -----------------------------------------------------------------------------------

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlist = _SHOWN.maxdict = _SHOWN.maxtuple = 4
_SHOWN.maxlevel = 2


def shown(value: Any) -> str:
    """A value as a message quotes it: bounded, whatever its size or depth."""
    return _SHOWN.repr(value)


# Characters XML 1.0 forbids: a feed cannot carry them, so no text may hold them.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The controls among them, as bytes of UTF-8 (where a byte below 0x20 is always that character).
_CONTROLS = bytes.maketrans(bytes(c for c in range(32) if c not in b"\t\n\r"), bytes(29))


def not_in_xml(text: str) -> re.Match[str] | None:
    """The first character of ``text`` that XML forbids (``NOT_IN_XML.search``), found a
    quicker way when there is none: the regex scans a post's body in 9.6 us, the text as
    UTF-8 bytes is looked through for a control in 4.4 (a surrogate cannot be encoded, and
    U+FFFE and U+FFFF are looked for as themselves)."""
    try:
        clean = b"\0" not in text.encode("utf-8").translate(_CONTROLS)
    except UnicodeEncodeError:  # a surrogate
        clean = False
    if clean and "\ufffe" not in text and "\uffff" not in text:
        return None
    return NOT_IN_XML.search(text)


def text(value: Any, context: Context) -> str:
    if isinstance(value, str):
        bad = not_in_xml(value)
        if bad:
            raise Invalid(
                _("contains the control character U+{ord:04X}; remove it").format(
                    ord=ord(bad.group())
                )
            )
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise Invalid(
        _("expected text, got {type} {value}").format(type=type(value).__name__, value=shown(value))
    )


def optional_text(value: Any, context: Context) -> str | None:
    return text(value, context) or None


def boolean(value: Any, context: Context) -> bool:
    if not isinstance(value, bool):
        raise Invalid(_("expected true or false, got {value}").format(value=shown(value)))
    return value


def when(value: Any, context: Context) -> dt.datetime:
    config = context.config
    default_time = config.tips.time if context.kind is Kind.TIP else dt.time(0, 0)
    notes: list[str] = []
    try:
        parsed = parse_when(value, config.site.timezone, default_time, notes)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    context.notes.extend(("date", note) for note in notes)
    return parsed


def tags(value: Any, context: Context) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [t.strip() for t in value.split(",")]
    if not isinstance(value, list):
        raise Invalid(_("expected a list of tags, e.g. [natur, friluftsliv]"))
    out: list[str] = []
    for tag in value:
        if not isinstance(tag, str | int) or isinstance(tag, bool) or not str(tag).strip():
            raise Invalid(_("expected each tag to be text, got {tag}").format(tag=shown(tag)))
        if str(tag).strip() not in out:
            out.append(str(tag).strip())
    return tuple(out)


def slug(value: Any, context: Context) -> str:
    given = text(value, context)
    if not is_valid_slug(given):
        raise Invalid(
            _(
                "expected at most {MAX_SLUG} lowercase ASCII letters, digits and "
                "single hyphens, got {given!r}"
            ).format(MAX_SLUG=MAX_SLUG, given=given)
        )
    return given


def service(value: Any, context: Context) -> str:
    key = text(value, context)
    services = list(context.config.services)
    if key not in services:
        if not services:
            raise Invalid(
                _("unknown service {key!r}; blogtool.toml has no [services] yet").format(key=key)
            )
        raise Invalid(
            unknown(_("service {key!r}").format(key=key), key, services)
            + _(" ([services] in blogtool.toml)")
        )
    return key


def paths(value: Any, context: Context) -> tuple[str, ...]:
    """Old addresses on this site ('/2019/05/02/hej/'), each becoming a redirect."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise Invalid(_("expected a list of paths, e.g. [/2019/05/02/gammal-adress/]"))
    out = []
    for entry in value:
        segments = entry.split("/")[1:-1] if isinstance(entry, str) else []
        if (
            not isinstance(entry, str)
            or not entry.startswith("/")
            or any(part in ("", ".", "..") for part in segments)
            or entry.rsplit("/", 1)[-1] in (".", "..")
        ):
            raise Invalid(
                _(
                    "expected each alias to be a clean path starting with / (no '.', '..' or "
                    "empty part), got {entry}"
                ).format(entry=shown(entry))
            )
        # What a URL path or nginx's map file would read otherwise: a query, a fragment, the
        # end of a map line (;), a block, a variable, an escape; and an encoded dot or slash.
        bad = not_in_xml(entry) or re.search(r"[\s\"<>'`;{}#?$\\]|%2[eEfF]", entry)
        if bad:
            raise Invalid(
                _("a path cannot contain {group!r}: {entry}").format(
                    group=bad.group(), entry=shown(entry)
                )
            )
        out.append(entry)
    return tuple(out)


def origin(value: Any, context: Context) -> dict[str, str]:
    """Where an imported item came from: guid, url, and the digest of what was imported."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise Invalid(_("expected keys guid, url and digest, as 'blogtool import' writes them"))
    return {k: text(v, context) for k, v in value.items() if k in ("guid", "url", "digest")}


# --- the table ---------------------------------------------------------------------------------

FIELDS: tuple[Field, ...] = (
    Field(
        "title",
        "text",
        "The headline; the slug is made from it unless slug is set.",
        text,
        required=True,
        missing=N_("missing; every post and tip needs a title"),
        label=N_("Title"),
    ),
    Field(
        "date",
        "date",
        "When it goes out: ISO 8601 (2027-03-04 or 2027-03-04T08:00+01:00). No offset means "
        "the site's zone; a tip dated without a time goes out at [tips] time. A date in the "
        "future means scheduled.",
        when,
        label=N_("Publishes"),
    ),
    Field(
        "draft",
        "true or false",
        "A draft is never published, whatever its date.",
        boolean,
        default=False,
        control="",  # the studio's Schedule and Unschedule buttons set it
    ),
    Field(
        "tags", "list of text", "Topics; each gets a page.", tags, default=(), label=N_("Topics")
    ),
    Field(
        "summary",
        "text",
        "One or two sentences for listings, feeds and the page description; the first "
        "paragraph when empty.",
        text,
        default="",
        label=N_("Summary"),
        control="text",
    ),
    Field(
        "author",
        "text",
        "Who wrote it; [site] author when absent.",
        text,
        default=lambda context: context.config.site.author.strip(),
        label=N_("Author"),
    ),
    Field(
        "slug",
        "slug",
        "The last part of the address; made from the title when absent.",
        slug,
        label=N_("Address"),
    ),
    Field(
        "image",
        "text",
        "An image shown with the item (needs image_alt).",
        optional_text,
        label=N_("Picture"),
        control="picture",
    ),
    Field(
        "image_alt",
        "text",
        "What the image shows, for readers who cannot see it (WCAG 1.1.1).",
        optional_text,
        label=N_("Picture description"),
    ),
    Field(
        "service",
        "service key",
        "The featured service: a key of [services] in blogtool.toml.",
        service,
        kinds=frozenset({Kind.TIP}),
        label=N_("Service"),
        control="service",
    ),
    Field(
        "aliases",
        "list of paths",
        "Old addresses of this item (such as its WordPress URL); each gets a redirect page and "
        "a line in redirects.map for nginx.",
        paths,
        default=(),
        label=N_("Old addresses"),
    ),
    Field(
        "imported_from",
        "guid, url, digest",
        "Written by 'blogtool import': where the item came from, so a new import finds it "
        "again and never overwrites what was edited here.",
        origin,
        control="",
    ),
    Field(
        "placeholder",
        "text",
        "Written by 'blogtool new': fingerprints of the text it put in the body, so check can "
        "tell when that text is still there. Leave it be; it does nothing once you have "
        "written your own.",
        optional_text,
        control="",
    ),
)


def by_name(name: str) -> Field | None:
    return next((f for f in FIELDS if f.name == name), None)


def allowed(kind: Kind) -> list[str]:
    return [f.name for f in FIELDS if f.applies_to(kind)]


def signature() -> str:
    """Changes whenever the table does: part of the parse cache's key."""
    h = hashlib.sha256()
    for f in FIELDS:
        default = "<computed>" if callable(f.default) else repr(f.default)
        kinds = ",".join(sorted(k.value for k in f.kinds))
        h.update(f"{f.name}\x1f{f.type}\x1f{f.required}\x1f{default}\x1f{kinds}\x1e".encode())
    return h.hexdigest()


def _default_text(f: Field) -> str:
    """The default as the reference shows it; a computed one is explained in the help."""
    if callable(f.default):
        return "computed"
    if f.default in (None, "", ()):
        return ""
    if isinstance(f.default, bool):
        return str(f.default).lower()
    return str(f.default)


def reference() -> list[dict[str, Any]]:
    """The table for people and programs (``blogtool fields``)."""
    return [
        {
            "name": f.name,
            "type": f.type,
            "required": f.required,
            "default": None if callable(f.default) else f.default,
            "computed": callable(f.default),
            "kinds": sorted(k.value for k in f.kinds),
            "help": f.help,
        }
        for f in FIELDS
    ]


def markdown_reference() -> str:
    """docs/front-matter.md, from the table."""
    rows = [
        "# Front matter",
        "",
        "Every key a post (`posts/*.md`) or a tip (`tips/*.md`) may have between its `---` lines.",
        "Any other key is an error, so a misspelt `dat:` never publishes a post at once.",
        "This page is printed from the field table by `blogtool fields --markdown`.",
        "",
        "| key | type | required | default | for | what it is |",
        "|---|---|---|---|---|---|",
    ]
    for f in FIELDS:
        text = _default_text(f)
        default = f"`{text}`" if text not in ("", "computed") else text
        kinds = " and ".join(sorted(k.value + "s" for k in f.kinds))
        required = "yes" if f.required else ""
        rows.append(f"| `{f.name}` | {f.type} | {required} | {default} | {kinds} | {f.help} |")
    return "\n".join(rows) + "\n"
