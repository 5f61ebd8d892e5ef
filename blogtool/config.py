"""Site configuration: ``blogtool.toml`` read once into frozen objects.

Every section is described by a small schema, so unknown keys and wrong types are reported with
the file, the line and the key, and every option has one default in one place.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from blogtool.content.slugs import slugify
from blogtool.errors import ConfigError
from blogtool.timeutil import WEEKDAYS, parse_weekday

CONFIG_NAME = "blogtool.toml"


@dataclass(frozen=True)
class SiteConfig:
    title: str
    base_url: str  # always ends with "/"
    language: str
    timezone: ZoneInfo
    author: str

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).hostname or "localhost"


@dataclass(frozen=True)
class TipsConfig:
    title: str
    weekday: int  # Monday == 0, as datetime.weekday()
    time: dt.time
    slug: str

    @property
    def weekday_name(self) -> str:
        return WEEKDAYS[self.weekday]


@dataclass(frozen=True)
class Service:
    key: str
    name: str
    url: str
    description: str
    app_store: str | None = None
    google_play: str | None = None
    image: str | None = None
    image_alt: str | None = None


@dataclass(frozen=True)
class CheckConfig:
    lix_limit: float


@dataclass(frozen=True)
class BuildConfig:
    output: str
    feed_limit: int
    per_page: int


@dataclass(frozen=True)
class NewsletterConfig:
    from_address: str  # "Name <addr>" as it appears in From
    reply_to: str | None
    subject: str  # a Jinja template
    unsubscribe_url: str  # https base of the personal links
    unsubscribe_mailto: str  # address for List-Unsubscribe mailto
    include_posts: bool
    state: str  # SQLite path, relative to the site
    outbox: str  # where .eml files go without [smtp]
    rate: int  # messages per minute; 0 means as fast as the server takes them
    send_time: dt.time | None = None  # None: each tip's own time


@dataclass(frozen=True)
class RunConfig:
    log_file: str | None  # relative to the site, or absolute


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # "ssl", "starttls" or "none"
    user: str | None
    timeout: float
    max_attempts: int
    retry_delay: float


@dataclass(frozen=True)
class Config:
    root: Path
    path: Path
    site: SiteConfig
    tips: TipsConfig
    services: Mapping[str, Service]
    check: CheckConfig
    build: BuildConfig
    newsletter: NewsletterConfig
    smtp: SmtpConfig | None
    run: RunConfig
    posts_dir: Path = field(init=False)
    tips_dir: Path = field(init=False)
    templates_dir: Path = field(init=False)
    state_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "posts_dir", self.root / "posts")
        object.__setattr__(self, "tips_dir", self.root / "tips")
        object.__setattr__(self, "templates_dir", self.root / "templates")
        object.__setattr__(self, "state_dir", self.root / ".blogtool")

    @property
    def output_dir(self) -> Path:
        return (self.root / self.build.output).resolve()

    @property
    def state_path(self) -> Path:
        return (self.root / self.newsletter.state).resolve()

    @property
    def outbox_dir(self) -> Path:
        return (self.root / self.newsletter.outbox).resolve()

    @property
    def log_path(self) -> Path | None:
        return (self.root / self.run.log_file).resolve() if self.run.log_file else None

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration, as plain TOML-compatible values."""
        return {
            "site": {
                "title": self.site.title,
                "base_url": self.site.base_url,
                "language": self.site.language,
                "timezone": self.site.timezone.key,
                "author": self.site.author,
            },
            "tips": {
                "title": self.tips.title,
                "slug": self.tips.slug,
                "weekday": self.tips.weekday_name,
                "time": self.tips.time.strftime("%H:%M"),
            },
            "check": {"lix_limit": self.check.lix_limit},
            "build": {
                "output": self.build.output,
                "feed_limit": self.build.feed_limit,
                "per_page": self.build.per_page,
            },
            "newsletter": {
                "from": self.newsletter.from_address,
                **({"reply_to": self.newsletter.reply_to} if self.newsletter.reply_to else {}),
                "subject": self.newsletter.subject,
                "unsubscribe_url": self.newsletter.unsubscribe_url,
                "unsubscribe_mailto": self.newsletter.unsubscribe_mailto,
                "include_posts": self.newsletter.include_posts,
                "state": self.newsletter.state,
                "outbox": self.newsletter.outbox,
                "rate": self.newsletter.rate,
                **(
                    {"send_time": self.newsletter.send_time.strftime("%H:%M")}
                    if self.newsletter.send_time
                    else {}
                ),
            },
            **({"run": {"log_file": self.run.log_file}} if self.run.log_file else {}),
            **(
                {
                    "smtp": {
                        "host": self.smtp.host,
                        "port": self.smtp.port,
                        "security": self.smtp.security,
                        **({"user": self.smtp.user} if self.smtp.user else {}),
                        "timeout": self.smtp.timeout,
                        "max_attempts": self.smtp.max_attempts,
                        "retry_delay": self.smtp.retry_delay,
                    }
                }
                if self.smtp
                else {}
            ),
            "services": {
                key: {
                    k: v
                    for k, v in {
                        "name": s.name,
                        "url": s.url,
                        "description": s.description,
                        "app_store": s.app_store,
                        "google_play": s.google_play,
                        "image": s.image,
                        "image_alt": s.image_alt,
                    }.items()
                    if v is not None
                }
                for key, s in self.services.items()
            },
        }


# --- schema ------------------------------------------------------------------------------------

_REQUIRED = object()


@dataclass(frozen=True)
class _Field:
    type: type | tuple[type, ...]
    default: Any = _REQUIRED
    convert: Callable[[Any], Any] | None = None  # raises ValueError("expected ...")


def _type_name(value: Any) -> str:
    names = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "a table",
    }
    for t, name in names.items():
        if isinstance(value, t):
            return name
    return type(value).__name__


def _expected_name(t: type | tuple[type, ...]) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    names = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}
    return " or ".join(names.get(x, x.__name__) for x in ts)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an absolute http(s) URL, got {value!r}")
    return value


def _base_url(value: str) -> str:
    _http_url(value)
    return value if value.endswith("/") else value + "/"


def _timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"expected an IANA time zone such as 'Europe/Stockholm', got {value!r}"
        ) from None


def _clock(value: str) -> dt.time:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not m:
        raise ValueError(f"expected a time of day as HH:MM, got {value!r}")
    return dt.time(int(m.group(1)), int(m.group(2)))


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"expected a positive integer, got {value}")
    return value


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty string")
    return value


def _mailbox(value: str) -> str:
    """An address as it may stand in From: "Växjö kommun <nyhetsbrev@vaxjo.se>" or a bare one."""
    from email.utils import parseaddr

    _, addr = parseaddr(value)
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", addr or ""):
        raise ValueError(
            f"expected an email address such as 'Namn <adress@example.se>', got {value!r}"
        )
    return value


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"expected an https:// URL (RFC 8058 requires https), got {value!r}")
    return value


def _security(value: str) -> str:
    if value not in ("ssl", "starttls", "none"):
        raise ValueError(f"expected 'ssl', 'starttls' or 'none', got {value!r}")
    return value


def _port(value: int) -> int:
    if not 0 < value < 65536:
        raise ValueError(f"expected a port number from 1 to 65535, got {value}")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"expected zero or more, got {value}")
    return value


def _relative_dir(value: str) -> str:
    if not value.strip() or Path(value).is_absolute() or ".." in Path(value).parts:
        raise ValueError(f"expected a directory inside the site, got {value!r}")
    return value


_SCHEMA: dict[str, dict[str, _Field]] = {
    "site": {
        "title": _Field(str, _REQUIRED, _nonempty),
        "base_url": _Field(str, _REQUIRED, _base_url),
        "language": _Field(str, "sv"),
        "timezone": _Field(str, "Europe/Stockholm", _timezone),
        "author": _Field(str, ""),
    },
    "tips": {
        "title": _Field(str, "Torsdagstips", _nonempty),
        "slug": _Field(str, None),
        "weekday": _Field(str, "thursday", parse_weekday),
        "time": _Field(str, "08:00", _clock),
    },
    "check": {
        "lix_limit": _Field((int, float), 50),
    },
    "build": {
        "output": _Field(str, "public", _relative_dir),
        "feed_limit": _Field(int, 20, _positive),
        "per_page": _Field(int, 10, _positive),
    },
}

_NEWSLETTER_SCHEMA: dict[str, _Field] = {
    "from": _Field(str, None, _mailbox),
    "reply_to": _Field(str, None, _mailbox),
    "subject": _Field(str, "{{ series }} vecka {{ week }}: {{ headline }}", _nonempty),
    "unsubscribe_url": _Field(str, None, _https_url),
    "unsubscribe_mailto": _Field(str, None, _mailbox),
    "include_posts": _Field(bool, False),
    "state": _Field(str, ".blogtool/state.db", _nonempty),
    "outbox": _Field(str, "outbox", _relative_dir),
    "rate": _Field(int, 0, _non_negative),
    "send_time": _Field(str, None, _clock),
}

_RUN_SCHEMA: dict[str, _Field] = {
    "log_file": _Field(str, None, _nonempty),
}

_SMTP_SCHEMA: dict[str, _Field] = {
    "host": _Field(str, _REQUIRED, _nonempty),
    "port": _Field(int, None, _port),
    "security": _Field(str, "starttls", _security),
    "user": _Field(str, None),
    "timeout": _Field((int, float), 30, _non_negative),
    "max_attempts": _Field(int, 5, _positive),
    "retry_delay": _Field((int, float), 2.0, _non_negative),
}

_SERVICE_SCHEMA: dict[str, _Field] = {
    "name": _Field(str, _REQUIRED, _nonempty),
    "url": _Field(str, _REQUIRED, _http_url),
    "description": _Field(str, _REQUIRED, _nonempty),
    "app_store": _Field(str, None, _http_url),
    "google_play": _Field(str, None, _http_url),
    "image": _Field(str, None),
    "image_alt": _Field(str, None),
}


class _Reader:
    """Checks tables against the schema, remembering every problem."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.problems: list[str] = []

    def line_of(self, section: str, key: str | None) -> int | None:
        """Best-effort line of ``key`` in ``[section]``, else of the table's header.

        tomllib gives no positions, so the file is scanned; a missing key points at its table.
        """
        name = r"\s*\.\s*".join(re.escape(part) for part in section.split("."))
        header = re.compile(r"^\s*\[\s*" + name + r"\s*(\]|\.)")
        in_section = False
        header_line = None
        for number, line in enumerate(self.lines, 1):
            if line.lstrip().startswith("["):
                in_section = bool(header.match(line))
                if in_section and header_line is None:
                    header_line = number
                continue
            if in_section and key and re.match(rf"^\s*{re.escape(key)}\s*=", line):
                return number
        return header_line

    def report(self, section: str, key: str | None, message: str) -> None:
        line = self.line_of(section, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        label = f"[{section}] {key}" if key else f"[{section}]"
        self.problems.append(f"{where}: {label}: {message}")

    def table(self, section: str, raw: Any, schema: dict[str, _Field]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.report(section, None, f"expected a table, got {_type_name(raw)}")
            raw = {}
        out: dict[str, Any] = {}
        for key in raw:
            if key not in schema:
                hint = difflib.get_close_matches(key, schema, n=1)
                known = ", ".join(schema)
                more = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {known}"
                self.report(section, key, f"unknown key{more}")
        for key, spec in schema.items():
            if key not in raw:
                if spec.default is _REQUIRED:
                    self.report(section, key, "missing; this key is required")
                    continue
                value = spec.default
            else:
                value = raw[key]
                types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
                if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                    self.report(
                        section,
                        key,
                        f"expected {_expected_name(spec.type)}, got {_type_name(value)} {value!r}",
                    )
                    continue
            if value is not None and spec.convert is not None:
                try:
                    value = spec.convert(value)
                except ValueError as exc:
                    self.report(section, key, str(exc))
                    continue
            out[key] = value
        return out


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds a blogtool.toml."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_NAME} found in {start} or any parent directory; "
        "run 'blogtool init' to create a site, or pass --site DIR"
    )


def load_config(root: Path) -> Config:
    """Read and validate ``root/blogtool.toml``. Raises ConfigError listing every problem."""
    path = root / CONFIG_NAME
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; run 'blogtool init' to create a site") from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(root, path, text, data)


def parse_config(root: Path, path: Path, text: str, data: dict[str, Any]) -> Config:
    reader = _Reader(path, text)
    known = [*_SCHEMA, "newsletter", "smtp", "run", "services"]
    for section in data:
        if section not in known:
            hint = difflib.get_close_matches(section, known, n=1)
            more = (
                f"; did you mean [{hint[0]}]?" if hint else f"; known sections: {', '.join(known)}"
            )
            reader.report(section, None, f"unknown section{more}")
    if "site" not in data:
        reader.problems.append(f"{path}: [site]: missing; title and base_url are required")
    tables = {
        name: reader.table(name, data.get(name, {}), schema) for name, schema in _SCHEMA.items()
    }

    services: dict[str, Service] = {}
    raw_services = data.get("services", {})
    if not isinstance(raw_services, dict):
        reader.report("services", None, "expected tables such as [services.naturkartan]")
        raw_services = {}
    for key, raw in raw_services.items():
        section = f"services.{key}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", key):
            reader.report(
                section, None, "expected a key of lowercase ASCII letters, digits, - or _"
            )
        values = reader.table(section, raw, _SERVICE_SCHEMA)
        if values.get("image") and not values.get("image_alt"):
            reader.report(section, "image_alt", "missing; an image needs alt text")
        if all(k in values for k in ("name", "url", "description")):
            services[key] = Service(key=key, **values)

    news = reader.table("newsletter", data.get("newsletter", {}), _NEWSLETTER_SCHEMA)
    smtp = reader.table("smtp", data["smtp"], _SMTP_SCHEMA) if "smtp" in data else None
    run = reader.table("run", data.get("run", {}), _RUN_SCHEMA)

    if reader.problems:
        raise ConfigError("\n".join(reader.problems))

    site, tips = tables["site"], tables["tips"]
    domain = urlsplit(site["base_url"]).hostname or "localhost"
    from_address = news["from"] or f"{site['title']} <nyhetsbrev@{domain}>"
    from email.utils import parseaddr

    smtp_config = None
    if smtp is not None:
        default_port = {"ssl": 465, "starttls": 587, "none": 25}[smtp["security"]]
        smtp_config = SmtpConfig(
            host=smtp["host"],
            port=smtp["port"] or default_port,
            security=smtp["security"],
            user=smtp["user"] or None,
            timeout=float(smtp["timeout"]),
            max_attempts=smtp["max_attempts"],
            retry_delay=float(smtp["retry_delay"]),
        )
    return Config(
        root=root,
        path=path,
        site=SiteConfig(**site),
        tips=TipsConfig(
            title=tips["title"],
            weekday=tips["weekday"],
            time=tips["time"],
            slug=tips["slug"] or slugify(tips["title"]),
        ),
        services=MappingProxyType(services),
        check=CheckConfig(lix_limit=float(tables["check"]["lix_limit"])),
        build=BuildConfig(**tables["build"]),
        newsletter=NewsletterConfig(
            from_address=from_address,
            reply_to=news["reply_to"],
            subject=news["subject"],
            unsubscribe_url=news["unsubscribe_url"] or f"https://{domain}/avregistrera",
            unsubscribe_mailto=news["unsubscribe_mailto"]
            or parseaddr(news["reply_to"] or from_address)[1],
            include_posts=news["include_posts"],
            state=news["state"],
            outbox=news["outbox"],
            rate=news["rate"],
            send_time=news["send_time"],
        ),
        smtp=smtp_config,
        run=RunConfig(log_file=run["log_file"]),
    )


def dump_toml(data: dict[str, Any]) -> str:
    """Render the effective configuration as TOML (flat values and nested tables only)."""
    out: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        s = str(v).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'

    def emit(prefix: str, table: dict[str, Any]) -> None:
        flat = {k: v for k, v in table.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (flat or not nested):
            out.append(f"[{prefix}]")
            out.extend(f"{k} = {scalar(v)}" for k, v in flat.items())
            out.append("")
        for k, v in nested.items():
            emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", data)
    return "\n".join(out).rstrip() + "\n"
