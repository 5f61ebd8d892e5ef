"""Reading ``blogtool.toml`` into a frozen ``Config``, reporting every problem at once with the
file, the line and the key. What is allowed comes from the declarations in ``model.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tomllib
from email.utils import parseaddr
from gettext import NullTranslations as Translations
from pathlib import Path
from types import MappingProxyType
from typing import Any

from blogtool import i18n
from blogtool.config import schema
from blogtool.config.mailmodel import (
    BouncesConfig,
    MailingList,
    NewsletterConfig,
    SmtpConfig,
    WebConfig,
)
from blogtool.config.model import (
    OPTIONAL_SECTIONS,
    SECTIONS,
    TABLES,
    AccessibilityConfig,
    BuildConfig,
    CheckConfig,
    Config,
    ImagesConfig,
    RunConfig,
    Service,
    SiteConfig,
    StudioConfig,
    TipsConfig,
    UrlsConfig,
)
from blogtool.errors import ConfigError, Problem, unknown
from blogtool.files import read_regular
from blogtool.i18n import _
from blogtool.slugs import slugify

CONFIG_NAME = "blogtool.toml"


def line_in(lines: list[str], section: str, key: str | None) -> int | None:
    """Best-effort line of ``key`` in ``[section]`` of a TOML file's ``lines``, else of the
    table's header.

    tomllib gives no positions, so the file is scanned; a missing key points at its table.
    """
    name = r"\s*\.\s*".join(re.escape(part) for part in section.split("."))
    header = re.compile(r"^\s*\[\s*" + name + r"\s*(\]|\.)")
    in_section = False
    header_line = None
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("["):
            in_section = bool(header.match(line))
            if in_section and header_line is None:
                header_line = number
            continue
        if in_section and key and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return header_line


def config_lines(config: Config) -> list[str]:
    """The lines of the site's blogtool.toml (none if it cannot be read any more)."""
    try:
        return config.path.read_text("utf-8-sig").splitlines()
    except OSError:
        return []


def config_line(config: Config, section: str, key: str | None) -> int | None:
    """Where ``key`` of ``[section]`` is in the site's blogtool.toml (for a problem found after
    loading, as ``check`` reports them), or None."""
    return line_in(config_lines(config), section, key)


class _Reader:
    """Checks tables against the schema, remembering every problem."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.problems: list[str] = []
        self.found: list[Problem] = []  # the same, for `check`, relative to the site
        # Problems that leave the config unusable; the others fall back to a default or are
        # ignored, so `check` can go on to the content while still reporting them.
        self.fatal = 0

    def line_of(self, section: str, key: str | None) -> int | None:
        return line_in(self.lines, section, key)

    def report(self, section: str, key: str | None, message: str, fatal: bool = False) -> None:
        self.fatal += fatal
        line = self.line_of(section, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        label = f"[{section}] {key}" if key else f"[{section}]"
        self.problems.append(f"{where}: {label}: {message}")
        self.found.append(Problem(Path(self.path.name), message, key=label, line=line))

    def table(self, section: str, raw: Any, declared: type) -> dict[str, Any]:
        """The section's values by attribute name: given, converted, or the default."""
        if not isinstance(raw, dict):
            self.report(
                section,
                None,
                _("expected a table, got {got}").format(got=schema.type_name(raw)),
                True,
            )
            raw = {}
        keys = schema.keys(declared)
        names = [toml for _, toml, _ in keys]
        for name in raw:
            if name not in names:
                self.report(section, name, unknown(_("key"), name, names))
        out: dict[str, Any] = {}
        for attr, name, spec in keys:
            required = spec.default is schema.REQUIRED
            if name in raw:
                value = raw[name]
                types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
                if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                    expected = schema.expected_name(spec.type)
                    got = f"{schema.type_name(value)} {value!r}"
                    self.report(
                        section,
                        name,
                        _("expected {expected}, got {got}").format(expected=expected, got=got),
                        required,
                    )
                    if required:
                        continue
                    value = spec.default
            elif required:
                self.report(section, name, _("missing; this key is required"), True)
                continue
            else:
                value = spec.default
            if value is not None and spec.convert is not None:
                try:
                    value = spec.convert(value)
                except ValueError as exc:
                    self.report(section, name, str(exc), required)
                    if required:
                        continue
                    value = _converted_default(spec)
            out[attr] = value
        return out


def _converted_default(spec: schema.Key) -> Any:
    """The default a bad value falls back to (defaults are valid by construction)."""
    if spec.default is None or spec.convert is None:
        return spec.default
    return spec.convert(spec.default)


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds a blogtool.toml."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise ConfigError(
        _(
            "no {CONFIG_NAME} found in {start} or any parent directory; run "
            "'blogtool init' to create a site, or pass --site DIR"
        ).format(CONFIG_NAME=CONFIG_NAME, start=start)
    )


def load_config(root: Path, lenient: bool = False) -> Config:
    """Read and validate ``root/blogtool.toml``. Raises ConfigError listing every problem.

    ``lenient`` (for ``check``) returns a config whenever it is usable, with what was wrong in
    ``Config.problems``: an unknown key or section is ignored, a bad value takes its default."""
    path = root / CONFIG_NAME
    try:
        raw_bytes = read_regular(path)
    except FileNotFoundError:
        raise ConfigError(
            _("{path}: not found; run 'blogtool init' to create a site").format(path=path)
        ) from None
    except OSError as exc:
        raise ConfigError(
            _("{path}: cannot be read: {strerror}").format(path=path, strerror=exc.strerror)
        ) from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            _("{path}: not UTF-8 (byte {start}); save it as UTF-8").format(
                path=path, start=exc.start
            )
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("{path}: invalid TOML: {exc}").format(path=path, exc=exc)) from None
    return parse_config(root, path, text, data, lenient)


def parse_config(
    root: Path, path: Path, text: str, data: dict[str, Any], lenient: bool = False
) -> Config:
    reader = _Reader(path, text)
    _check_sections(reader, path, data)
    values = {
        name: reader.table(name, data.get(name, {}), section)
        for name, section in SECTIONS.items()
        if name not in OPTIONAL_SECTIONS or name in data
    }
    services = _services(reader, data.get("services", {}))
    if reader.fatal or (reader.problems and not lenient):
        raise ConfigError("\n".join(reader.problems))
    site = SiteConfig(
        **{
            **values["site"],
            "organisation": values["site"]["organisation"]
            or values["site"]["author"]
            or values["site"]["title"],
        }
    )
    words = i18n.reader(site.language)
    values["tips"] = _tips(values["tips"], site.language, words)
    values["urls"] = _urls(values["urls"], words)
    lists = _lists(reader, data.get("lists"), values["tips"], words)
    _check_places(reader, root, values)
    if reader.problems and not lenient:
        raise ConfigError("\n".join(reader.problems))
    return Config(
        root=root,
        path=path,
        site=site,
        tips=TipsConfig(**{**values["tips"], "slug": _series_slug(values["tips"])}),
        services=MappingProxyType(services),
        check=CheckConfig(**values["check"]),
        build=BuildConfig(**values["build"]),
        images=ImagesConfig(**values["images"]),
        newsletter=_newsletter(site, values["newsletter"], values["web"], values["urls"], words),
        smtp=_smtp(values["smtp"]) if "smtp" in values else None,
        run=RunConfig(**values["run"]),
        urls=UrlsConfig(**values["urls"]),
        web=WebConfig(**values["web"]),
        bounces=_bounces(values["bounces"]),
        accessibility=AccessibilityConfig(**values["accessibility"]),
        studio=StudioConfig(**values["studio"]),
        lists=MappingProxyType(lists),
        problems=tuple(reader.found),
    )


def _check_places(reader: _Reader, root: Path, values: dict[str, dict[str, Any]]) -> None:
    """Where the output goes is inside the site, through no link that leads out of it; what
    holds personal data (the state, the outbox, the run's log) is not inside the output, which
    is published."""
    output = values["build"]["output"]
    parent = (root / output).parent
    with contextlib.suppress(OSError, RuntimeError):
        real = parent.resolve()
        if not real.is_relative_to(root.resolve()):
            reader.report(
                "build",
                "output",
                _(
                    "{output} leads outside the site (to {real}); expected a folder inside it"
                ).format(output=output, real=real / Path(output).name),
            )
    published = Path(os.path.normpath(output)).parts
    for section, key in (("newsletter", "state"), ("newsletter", "outbox"), ("run", "log_file")):
        value = values.get(section, {}).get(key)
        if value and Path(os.path.normpath(value)).parts[: len(published)] == published:
            reader.report(
                section,
                key,
                _(
                    "{value} is inside [build] output ({output}), which is published; it holds "
                    "personal data"
                ).format(value=value, output=output),
            )


def _check_sections(reader: _Reader, path: Path, data: dict[str, Any]) -> None:
    known = [*SECTIONS, *TABLES]
    for section in data:
        if section not in known:
            reader.report(section, None, unknown(_("section"), section, known, "[{}]"))
    if "site" not in data:
        reader.problems.append(
            _("{path}: [site]: missing; title and base_url are required").format(path=path)
        )
        reader.fatal += 1


def _named_table(reader: _Reader, table: str, name: str) -> str:
    """``[table.name]``'s section label; a name that cannot be a key is reported."""
    section = f"{table}.{name}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        reader.report(section, None, _("expected a key of lowercase ASCII letters, digits, - or _"))
    return section


def _services(reader: _Reader, raw_services: Any) -> dict[str, Service]:
    services: dict[str, Service] = {}
    if not isinstance(raw_services, dict):
        reader.report("services", None, _("expected tables such as [services.naturkartan]"))
        return services
    for name, raw in raw_services.items():
        section = _named_table(reader, "services", name)
        fatal = reader.fatal
        values = reader.table(section, raw, Service)
        # A broken service table is left out, not fatal: the tips that name it say so.
        reader.fatal = fatal
        if values.get("image") and not values.get("image_alt"):
            reader.report(section, "image_alt", _("missing; an image needs alt text"))
        if all(k in values for k in ("name", "description")):
            services[name] = Service(key=name, **values)
    return services


def _tips(tips: dict[str, Any], language: str, words: Translations) -> dict[str, Any]:
    """The series' name and the holidays' country, when not given, from the site's language."""
    title = tips["title"] or words.gettext("Thursday tips")
    country = tips["holidays"]
    if country is None:
        region = language.replace("_", "-").split("-")[1:]
        # The country whose holidays a site in this language keeps, unless the tag says.
        country = region[0].upper() if region else words.pgettext("holidays", "GB")
    return {**tips, "title": title, "holidays": country}


def _urls(urls: dict[str, Any], words: Translations) -> dict[str, Any]:
    """Each address word not given, in the site's language."""
    defaults = {
        "tag": words.pgettext("url", "tag"),
        "archive": words.pgettext("url", "archive"),
        "service": words.pgettext("url", "service"),
        "page": words.pgettext("url", "page"),
        "search": words.pgettext("url", "search"),
        "pictures": words.pgettext("url", "images"),
        "subscribe": words.pgettext("url", "subscribe"),
        "confirm": words.pgettext("url", "confirm"),
        "unsubscribe": words.pgettext("url", "unsubscribe"),
        "preferences": words.pgettext("url", "settings"),
        "my_data": words.pgettext("url", "my-data"),
        "erase": words.pgettext("url", "erase"),
        "accessibility": words.pgettext("url", "accessibility"),
    }
    return {key: urls.get(key) or default for key, default in defaults.items()}


def _lists(
    reader: _Reader, raw_lists: Any, tips: dict[str, Any], words: Translations
) -> dict[str, MailingList]:
    """[lists.KEY], or the two every site has without them: the series' weekly issue (under
    the series' address, so today's subscribers, all on it, keep getting it) and the blog."""
    if raw_lists is None:
        series = _series_slug(tips)
        blog = words.pgettext("list", "blog")
        weekly = words.gettext("{series} every week").format(series=tips["title"])
        letters = {
            series: MailingList(series, weekly, "", "tips", "each", None),
            blog: MailingList(blog, words.gettext("New blog posts"), "", "posts", "each", None),
        }
        if tips.get("enabled") is False:  # no series: the blog's letter is the only one
            del letters[series]
        return letters
    found: dict[str, MailingList] = {}
    if not isinstance(raw_lists, dict):
        reader.report("lists", None, _("expected tables such as [lists.torsdagstips]"), True)
        return found
    for name, raw in raw_lists.items():
        section = _named_table(reader, "lists", name)
        values = reader.table(section, raw, MailingList)
        if "name" in values:
            found[name] = MailingList(key=name, **values)
    if not found:
        reader.report("lists", None, _("expected at least one list"), True)
    return found


def _bounces(values: dict[str, Any]) -> BouncesConfig:
    port = values["port"] or (993 if values["security"] == "ssl" else 143)
    return BouncesConfig(**{**values, "port": port})


def _series_slug(tips: dict[str, Any]) -> str:
    return str(tips["slug"] or slugify(tips["title"]))


def _newsletter(
    site: SiteConfig,
    news: dict[str, Any],
    web: dict[str, Any],
    urls: dict[str, Any],
    words: Translations,
) -> NewsletterConfig:
    """The derived defaults: From, the unsubscribe address (the reader service's, when there
    is one) and mailbox."""
    mailbox = words.pgettext("address", "newsletter")
    sender = news["from_address"] or f"{site.title} <{mailbox}@{site.domain}>"
    leave = urls["unsubscribe"]
    if web.get("base_url") and not news["unsubscribe_url"]:
        news = {**news, "unsubscribe_url": web["base_url"] + leave}
    return NewsletterConfig(
        **{
            **news,
            "from_address": sender,
            "subject": news["subject"]
            or words.gettext("{{ series }} week {{ week }}: {{ title }}"),
            "unsubscribe_url": news["unsubscribe_url"] or f"https://{site.domain}/{leave}",
            "unsubscribe_mailto": news["unsubscribe_mailto"]
            or parseaddr(news["reply_to"] or sender)[1],
        }
    )


def _smtp(smtp: dict[str, Any]) -> SmtpConfig:
    default_port = {"ssl": 465, "starttls": 587, "none": 25}[smtp["security"]]
    return SmtpConfig(
        **{**smtp, "port": smtp["port"] or default_port, "user": smtp["user"] or None}
    )


def default_addresses(config: Config) -> list[Config]:
    """``config`` with the default [urls] of each language blogtool has: where a reader's old
    link may point after a rename."""
    return [
        dataclasses.replace(config, urls=UrlsConfig(**_urls({}, i18n.reader(language))))
        for language in i18n.available()
    ]
