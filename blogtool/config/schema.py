"""How a configuration key is declared, and the checks its values go through.

A key is declared once, as a field of its section's dataclass in ``model.py``: its TOML type,
default, converter and documentation travel together in the field's metadata. Loading, the
effective configuration (``blogtool config``) and the reference (docs/configuration.md) all
read that one declaration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from blogtool.files import loopback
from blogtool.i18n import N_, _
from blogtool.timeutil import NAMES

REQUIRED: Any = object()


@dataclasses.dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]  # what TOML must give
    default: Any
    doc: str
    convert: Callable[[Any], Any] | None  # raises ValueError("expected ...")
    dump: Callable[[Any], Any] | None  # the loaded value back to TOML
    toml: str | None  # the TOML name, when it differs from the attribute's


def key(
    type: type | tuple[type, ...],
    default: Any = REQUIRED,
    doc: str = "",
    *,
    convert: Callable[[Any], Any] | None = None,
    dump: Callable[[Any], Any] | None = None,
    toml: str | None = None,
) -> Any:
    """Declare a configuration key as a dataclass field."""
    return dataclasses.field(metadata={"key": Key(type, default, doc, convert, dump, toml)})


def word_key(doc: str) -> Any:
    """Declare an [urls] word: a default from the site's language, checked as one word of an
    address."""
    return key(str, None, doc, convert=address_word)


def keys(section: type) -> list[tuple[str, str, Key]]:
    """(attribute, TOML name, declaration) of every key of a section's dataclass."""
    found = []
    for f in dataclasses.fields(section):
        declared = f.metadata.get("key")
        if declared is not None:
            found.append((f.name, declared.toml or f.name, declared))
    return found


def type_name(value: Any) -> str:
    names = {
        str: N_("a string"),
        bool: N_("a boolean"),
        int: N_("an integer"),
        float: N_("a number"),
        list: N_("an array"),
        dict: N_("a table"),
    }
    for t, name in names.items():
        if isinstance(value, t):
            return _(name)
    return type(value).__name__


def expected_name(t: type | tuple[type, ...]) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    names = {
        str: N_("a string"),
        bool: N_("true or false"),
        int: N_("an integer"),
        float: N_("a number"),
        dt.date: N_("a date"),
        dict: N_("a table"),
    }
    return _(" or ").join(_(names[x]) if x in names else x.__name__ for x in ts)


# What no URL has (RFC 3986) and what would end an attribute, a tag or a header it is put in.
_NOT_IN_URL = re.compile(r"[\s\"'<>\\^`{|}\x00-\x1f\x7f]")


def _clean_url(value: str) -> None:
    bad = _NOT_IN_URL.search(value)
    if bad:
        raise ValueError(
            _("a URL cannot contain {char!r} (write it %-encoded), got {value!r}").format(
                char=bad.group(), value=value
            )
        )


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(_("expected an absolute http(s) URL, got {value!r}").format(value=value))
    _clean_url(value)
    return value


def _no_query(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(
            _("expected a base URL without ?query or #fragment, got {value!r}").format(value=value)
        )


def https_base(value: str) -> str:
    """An https URL that ends in '/' (one is added)."""
    https_url(value)
    _no_query(value)
    return value if value.endswith("/") else value + "/"


def web_base(value: str) -> str:
    """[web] base_url: an https base URL; or, for a trial on one's own machine, http on
    127.0.0.1, localhost or [::1] (refused for any other host: readers' addresses and links
    never cross a network unencrypted)."""
    parts = urlsplit(value)
    if parts.scheme == "http" and loopback(parts.hostname or ""):
        _clean_url(value)
        _no_query(value)
        return value if value.endswith("/") else value + "/"
    if parts.scheme == "http":
        raise ValueError(
            _(
                "expected an https:// URL (http only for a trial on this machine: "
                "http://127.0.0.1:PORT/ or http://localhost:PORT/), got {value!r}"
            ).format(value=value)
        )
    return https_base(value)


def verp_pattern(value: str) -> str:
    if value.count("{token}") != 1 or "@" not in value.split("{token}")[1]:
        raise ValueError(
            _(
                "expected an address with {{token}} in its local part, such as "
                "'bounces+{{token}}@blogg.example.se', got {value!r}"
            ).format(value=value)
        )
    return value


def one_of(*choices: str) -> Callable[[str], str]:
    """A check that a value is one of ``choices``."""

    def check(value: str) -> str:
        if value not in choices:
            listed = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
            raise ValueError(
                _("expected {listed}, got {value!r}").format(listed=listed, value=value)
            )
        return value

    return check


def base_url(value: str) -> str:
    http_url(value)
    _no_query(value)
    return value if value.endswith("/") else value + "/"


def timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            _("expected an IANA time zone such as 'Europe/Stockholm', got {value!r}").format(
                value=value
            )
        ) from None


def clock(value: str) -> dt.time:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not m:
        raise ValueError(_("expected a time of day as HH:MM, got {value!r}").format(value=value))
    return dt.time(int(m.group(1)), int(m.group(2)))


def positive(value: int) -> int:
    if value < 1:
        raise ValueError(_("expected a positive integer, got {value}").format(value=value))
    return value


def nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError(_("expected a non-empty string"))
    return value


def mailbox(value: str) -> str:
    """An address as it may stand in From: "Växjö kommun <nyhetsbrev@vaxjo.se>" or a bare one."""
    from email.utils import parseaddr

    _name, addr = parseaddr(value)
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", addr or ""):
        raise ValueError(
            _("expected an email address such as 'Namn <adress@example.se>', got {value!r}").format(
                value=value
            )
        )
    return value


def https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(
            _("expected an https:// URL (RFC 8058 requires https), got {value!r}").format(
                value=value
            )
        )
    _clean_url(value)
    return value


security = one_of("ssl", "starttls", "none")


def port(value: int) -> int:
    if not 0 < value < 65536:
        raise ValueError(
            _("expected a port number from 1 to 65535, got {value}").format(value=value)
        )
    return value


def non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(_("expected zero or more, got {value}").format(value=value))
    return value


def relative_dir(value: str) -> str:
    if not _inside_site(value):
        raise ValueError(
            _("expected a directory inside the site, got {value!r}").format(value=value)
        )
    return value


def relative_file(value: str) -> str:
    if not _inside_site(value) or value.endswith("/"):
        raise ValueError(
            _("expected a file inside the site, such as 'logg/run.log', got {value!r}").format(
                value=value
            )
        )
    return value


def _inside_site(value: str) -> bool:
    """A relative path that cannot climb out of the site: every value that becomes a path."""
    path = Path(value)
    return bool(value.strip()) and not path.is_absolute() and ".." not in path.parts


def address_word(value: str) -> str:
    """One word of an address (the series' folder, an [urls] word): lowercase ASCII letters,
    digits and single hyphens."""
    from blogtool.slugs import is_valid_slug

    if not is_valid_slug(value):
        raise ValueError(
            _("expected lowercase ASCII letters, digits and single hyphens, got {value!r}").format(
                value=value
            )
        )
    return value


def duration(value: str) -> dt.timedelta:
    """'24h', '90m', '2d', '1d 12h' -> a timedelta."""
    parts = re.findall(r"(\d+)\s*([dhm])", value)
    if not parts or re.sub(r"\d+\s*[dhm]|\s", "", value):
        raise ValueError(
            _("expected a duration such as '24h', '90m' or '1d 12h', got {value!r}").format(
                value=value
            )
        )
    unit = {"d": "days", "h": "hours", "m": "minutes"}
    return sum((dt.timedelta(**{unit[u]: int(n)}) for n, u in parts), dt.timedelta())


def duration_text(value: dt.timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h" if not minutes else f"{hours}h {minutes}m" if hours else f"{minutes}m"


def mailboxes(value: list[object]) -> tuple[str, ...]:
    out = []
    for entry in value:
        if not isinstance(entry, str):
            raise ValueError(
                _("expected a list of addresses, got {entry!r} in it").format(entry=entry)
            )
        out.append(mailbox(entry))
    return tuple(out)


def sentences(value: list[object]) -> tuple[str, ...]:
    """A list of texts, each one non-empty (the statement's shortcomings, for one)."""
    out = []
    for entry in value:
        if not isinstance(entry, str) or not entry.strip():
            raise ValueError(
                _("expected a list of non-empty strings, got {entry!r} in it").format(entry=entry)
            )
        out.append(entry.strip())
    return tuple(out)


def day(value: str | dt.date) -> dt.date:
    """A calendar day: a TOML date (2026-11-02) or the same as a string."""
    if isinstance(value, dt.datetime):
        raise ValueError(
            _("expected a date such as 2026-11-02, got a date and time {value}").format(
                value=value.isoformat()
            )
        )
    if isinstance(value, dt.date):
        return value
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(_("expected a date such as 2026-11-02, got {value!r}").format(value=value))


def day_text(value: dt.date) -> str:
    return value.isoformat()


def clock_text(value: dt.time) -> str:
    return value.strftime("%H:%M")


def positive_float(value: float) -> float:
    if value <= 0:
        raise ValueError(_("expected a number above zero, got {value}").format(value=value))
    return float(value)


def non_negative_int(value: int) -> int:
    return int(non_negative(value))


def non_negative_float(value: float) -> float:
    return float(non_negative(value))


def language(value: str) -> str:
    """A language tag Babel knows (sv, en, sv-FI): it names the site's locale."""
    if value in NAMES:  # languages blogtool carries CLDR's names of: no need to load Babel
        return value
    from babel import Locale, UnknownLocaleError

    if re.fullmatch(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*", value):
        try:
            Locale.parse(value.replace("-", "_"))
            return value
        except (UnknownLocaleError, ValueError):
            pass
    raise ValueError(
        _("expected a language such as 'sv' or 'en', got {value!r}").format(value=value)
    )


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def hosts(value: list[object]) -> tuple[str, ...]:
    """Host names such as "www.youtube-nocookie.com" (no scheme, path or port)."""
    found = []
    for entry in value:
        name = entry.strip().lower().rstrip(".") if isinstance(entry, str) else ""
        if not _HOST.fullmatch(name):
            raise ValueError(
                _("expected host names such as 'karta.vaxjo.se', got {entry!r} in it").format(
                    entry=entry
                )
            )
        found.append(name)
    return tuple(dict.fromkeys(found))


def widths(value: list[object]) -> tuple[int, ...]:
    found = []
    for entry in value:
        if not isinstance(entry, int) or isinstance(entry, bool) or not 16 <= entry <= 8000:
            raise ValueError(
                _("expected widths in pixels (16-8000), got {entry!r} in it").format(entry=entry)
            )
        found.append(entry)
    if not found:
        raise ValueError(_("expected at least one width"))
    return tuple(sorted(set(found)))


def percent_quality(value: int) -> int:
    if not 1 <= value <= 95:
        raise ValueError(_("expected a quality from 1 to 95, got {value}").format(value=value))
    return value


def country(value: str) -> str:
    """A country code of the holidays package ('SE'), or '' for none."""
    code = value.strip().upper()
    if code and not re.fullmatch(r"[A-Z]{2,3}", code):
        raise ValueError(
            _("expected a country code such as 'SE' or 'GB', or \"\", got {value!r}").format(
                value=value
            )
        )
    return code
