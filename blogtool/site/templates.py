"""Jinja2 templates: the site's ``templates/`` over the package defaults, autoescaped, strict.

Errors in a template become one message that names the template file and the line.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from email.utils import parseaddr
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import jinja2
import jinja2.ext
import jinja2.lexer
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from blogtool import i18n
from blogtool.config import Config
from blogtool.errors import BlogtoolError
from blogtool.files import check_source, private_dir
from blogtool.i18n import _
from blogtool.site.render import excerpt
from blogtool.site.sharing import og_locale
from blogtool.site.urls import STATIC_DIR, Urls
from blogtool.timeutil import day_month_year, long_date, weekday_name
from blogtool.version import code_digest

PACKAGE = Path(__file__).resolve().parent.parent
PACKAGE_TEMPLATES = PACKAGE / "templates"


class TemplateError(BlogtoolError):
    """A template does not compile or fails while rendering."""


def _display(path: str | None, config: Config) -> str:
    if not path:
        return "<template>"
    p = Path(path)
    default = _("blogtool default template ")
    for root, label in ((config.root, ""), (PACKAGE_TEMPLATES, default)):
        try:
            return label + str(p.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(p)


class _SiteLoader(jinja2.FileSystemLoader):
    """The site's own templates, refusing a file that leads outside the site (a symlink to a
    secret would otherwise be rendered into a page)."""

    def __init__(self, directory: Path, config: Config):
        super().__init__(directory)
        self.config = config

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = Path(self.searchpath[0], *split_template_path(template))
        if path.is_symlink() or path.exists():
            refused = check_source(path, self.config.root)
            if refused is not None:
                raise TemplateError(f"{_display(str(path), self.config)}: {refused}")
        return super().get_source(environment, template)


class TemplateBudget(jinja2.TemplateError):
    """A template string from the config did more work than a line of text needs."""


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with a bound on the size a template string may make with ``*`` and
    ``**`` (Jinja's documented operator intercepting); ``bounded_render`` bounds its steps."""

    intercepted_binops = frozenset({"*", "**"})
    MAX_SIZE = 10_000

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateBudget(f"a power too large ({right})")
        if operator == "*":
            sized = left if isinstance(left, str | list | tuple) else right
            times = right if sized is left else left
            sizes = isinstance(sized, str | list | tuple) and isinstance(times, int)
            if sizes and len(sized) * times > self.MAX_SIZE:
                raise TemplateBudget(f"a value too long ({len(sized) * times:,} long)")
        return super().call_binop(context, operator, left, right)


class FixedTexts(jinja2.ext.Extension):
    """``_("A fixed text")`` translated once, as the template is compiled, instead of at every
    render: a page has a score of them, and each call through the i18n extension's ``_`` costs
    about 7 µs, a fifth of an item page. The text becomes a constant of the compiled template,
    as it would if the template had been written in the site's language. (Jinja's documented
    ``filter_stream``: the tokens ``_ ( "text" )`` become ``( "translated" | safe )``.)

    What it makes is what the i18n extension's new-style ``_`` returns: the translation with
    ``%`` formatting applied (``%%`` is ``%``), as markup where the template escapes, as plain
    text where it does not. A text with a placeholder but no value (an error at render) and a
    template that turns escaping on or off in a block are left to the i18n extension. The
    compiled templates' cache is keyed by the language and blogtool's files, catalogues
    included (``_bytecode_cache``)."""

    def __init__(self, environment: jinja2.Environment):
        super().__init__(environment)
        environment.extend(fixed_translations=None)  # set by ``make_environment``

    def filter_stream(self, stream: jinja2.lexer.TokenStream) -> Iterable[jinja2.lexer.Token]:
        tokens = list(stream)
        translations = getattr(self.environment, "fixed_translations", None)
        if translations is None or any(
            before.type == "block_begin" and token.type == "name" and token.value == "autoescape"
            for before, token in itertools.pairwise(tokens)
        ):
            return tokens
        autoescape = self.environment.autoescape
        markup = autoescape(stream.name) if callable(autoescape) else bool(autoescape)
        made: list[jinja2.lexer.Token] = []
        at = 0
        while at < len(tokens):
            token = tokens[at]
            if (
                token.type == "name"
                and token.value == "_"
                and [t.type for t in tokens[at + 1 : at + 4]] == ["lparen", "string", "rparen"]
                and not (made and made[-1].type == "dot")  # an attribute named _, not ours
            ):
                try:
                    text = translations.gettext(tokens[at + 2].value) % {}
                except (KeyError, ValueError, TypeError):  # (the i18n extension says why)
                    text = None
                if text is not None:
                    line = token.lineno
                    made.append(jinja2.lexer.Token(line, "lparen", "("))
                    made.append(jinja2.lexer.Token(line, "string", text))
                    if markup:
                        made.append(jinja2.lexer.Token(line, "pipe", "|"))
                        made.append(jinja2.lexer.Token(line, "name", "safe"))
                    made.append(jinja2.lexer.Token(line, "rparen", ")"))
                    at += 4
                    continue
            made.append(token)
            at += 1
        return made


MAX_STEPS = 100_000  # lines of a config template's code run: far more than a line of text takes


def bounded_render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """``template`` rendered, stopped with TemplateBudget after MAX_STEPS lines of its code
    (a loop in a loop never ends in a subject line). Counted with ``sys.settrace`` in the
    template's own frames only; whatever tracer was set is put back."""
    import sys

    steps = 0

    def in_template(frame: Any, event: str, arg: Any) -> Any:
        nonlocal steps
        if event == "line":
            steps += 1
            if steps > MAX_STEPS:
                raise TemplateBudget(f"over {MAX_STEPS:,} steps: a loop that does not end?")
        return in_template

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return in_template if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        return template.render(**context)
    finally:
        sys.settrace(previous)


def make_environment(
    config: Config, *, preview: bool = False, sandboxed: bool = False
) -> jinja2.Environment:
    """The one Jinja environment: autoescape always on, undefined variables are errors.
    ``sandboxed`` is for template strings that come from the config (the mail's subject).
    Every item is published to it (``item_status``); a site's pages say otherwise
    (``pages.SiteView``)."""
    loader = jinja2.ChoiceLoader(
        [
            _SiteLoader(config.templates_dir, config),
            jinja2.FileSystemLoader(PACKAGE_TEMPLATES),
        ]
    )
    translations = i18n.reader(config.site.language)
    kind: type[jinja2.Environment] = _BoundedSandbox if sandboxed else jinja2.Environment
    env = kind(
        loader=loader,
        # Escaping is on for every template but plain-text ones (a mail's text part), where
        # an escaped "&amp;" would be a bug, not a defence.
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        bytecode_cache=None if sandboxed else _bytecode_cache(config, translations),
        extensions=["jinja2.ext.i18n", FixedTexts],
    )
    # Every word a reader sees comes from the catalogue of the site's language:
    # {{ _("Skip to content") }}, {{ ngettext("%(num)d tip", "%(num)d tips", n) }}.
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations, newstyle=True
    )
    env.fixed_translations = translations  # type: ignore[attr-defined]  # (FixedTexts)
    lang = config.site.language
    urls = Urls(config)
    env.filters["longdate"] = lambda value: long_date(value, lang)
    env.filters["clock"] = lambda value: value.strftime("%H:%M")
    env.filters["excerpt"] = lambda body, limit=240: excerpt(body, limit)
    env.filters["weekday"] = lambda value: weekday_name(value.weekday(), lang)
    env.filters["and_list"] = lambda values: and_list(values, lang)
    env.filters["mail_address"] = lambda value: parseaddr(value)[1]
    env.filters["day"] = lambda value: day_month_year(value, lang)
    env.filters["decimal"] = lambda value, digits=1: decimal(value, digits, lang)
    web_base = urlsplit(config.web.base_url or "")
    same_host = web_base.netloc == urlsplit(config.site.base_url).netloc

    def web_href(route: str) -> str:
        """A link to a page of the reader service (``web_href("my_data")``): root-relative on
        the site's own host (it then works wherever the site is served), absolute on another."""
        if not config.web.base_url:
            return ""
        return (web_base.path if same_host else config.web.base_url) + config.web_path(route)

    env.globals.update(
        # Pages of the site replace these with the build's made pictures (``pages.SiteView``);
        # elsewhere (the reader service's pages) a logo in SVG still shows.
        picture=partial(_vector_picture, config, urls),
        share_image=lambda item=None: None,
        og_locale=og_locale(config.site.language),
        json_ld=lambda *args: "",
        list_entry=lambda entry: Markup(
            env.get_template("partials/list_entry.html").render(entry=entry)
        ),
        site=config.site,
        tips=config.tips,
        web=config.web,
        accessibility=config.accessibility,
        web_href=web_href,
        mailing_lists=config.lists,
        services=config.services,
        urls=urls,
        links=_links(urls),
        preview=preview,
        item_status=lambda item: "published",
        asset=lambda url: (
            url if url.startswith(("http://", "https://")) else urls.href(url.lstrip("/"))
        ),
    )
    return env


# Templates of other parts of blogtool (the mails, the reader service) and static files.
_NOT_PAGES = ("email/", "web/", "studio/", f"{STATIC_DIR}/")


def compile_pages(env: jinja2.Environment) -> None:
    """Compile every template the site's pages may use, now and once: processes forked later
    share them instead of each compiling its own. A template that fails to compile is left for
    the page that uses it, which reports it with its file and line."""
    for name in env.list_templates(extensions=("html", "xml", "txt")):
        if name.startswith(_NOT_PAGES):
            continue
        try:
            env.get_template(name)
        except Exception:  # (reported where it is used)
            continue


def _vector_picture(
    config: Config, urls: Urls, ref: str | None, alt: str, *args: Any, css: str = "", **kw: Any
) -> Markup:
    from blogtool.pictures.sources import VECTOR, find

    found = find(config, ref, None) if ref else None
    if found is None or Path(found).suffix.lower() not in VECTOR:
        return Markup("")
    cls = Markup(' class="{}"').format(css) if css else ""
    return Markup('<img{} src="{}" alt="{}">').format(cls, urls.href(found), alt)


def _links(urls: Urls) -> SimpleNamespace:
    """The links every page has (the menu, the feeds, the style sheet), worked out once: a
    call from a template costs more than the rest of a small page's work."""
    return SimpleNamespace(
        home=urls.href(urls.home()),
        series=urls.href(urls.series),
        services=urls.href(urls.service_index()),
        tags=urls.href(urls.tag_index()),
        archive=urls.href(urls.archive()),
        search=urls.href(urls.search()),
        accessibility=urls.href(urls.accessibility()),
        feed=urls.href(urls.feed()),
        series_feed=urls.href(urls.feed(series=True)),
        style=urls.href(f"{STATIC_DIR}/style.css"),
        favicon=urls.href(f"{STATIC_DIR}/favicon.svg"),
    )


def _bytecode_cache(
    config: Config, translations: gettext.NullTranslations
) -> jinja2.BytecodeCache | None:
    """Compiled templates, kept between runs in the site's private state folder (Jinja checks
    each against its source); compiling them all again costs a small build more than the
    build. A compiled template holds the translations of its fixed texts, so the names say
    which catalogue (and which blogtool, whose catalogues they are) it was compiled with, and
    those compiled with another are deleted: the folder does not grow with every upgrade."""
    directory = config.state_dir / "cache" / "jinja"
    try:
        private_dir(directory)
    except OSError:
        return None  # a read-only site still builds, only slower
    language = translations.info().get("language", "") or "-"
    key = hashlib.sha256(f"{language}\0{code_digest(config.state_dir)}".encode()).hexdigest()[:16]
    _forget_other_compilations(directory, key)
    return _SparingCache(str(directory), f"{key}-%s.cache")


class _SparingCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates in files, which a page never fails for: a folder
    that cannot be read or written (read-only, full) only means compiling again. (A bytecode
    cache's two methods, overridden as Jinja's documentation describes.)"""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


@functools.cache  # once a process: a build makes several environments
def _forget_other_compilations(directory: Path, key: str) -> None:
    """Delete templates compiled with another language's catalogue or an earlier blogtool."""
    with contextlib.suppress(OSError):  # (a folder that is read-only keeps them)
        for old in directory.glob("*.cache"):
            if not old.name.startswith(f"{key}-"):
                old.unlink(missing_ok=True)


def render(env: jinja2.Environment, name: str, config: Config, **context: Any) -> str:
    """Render ``name``; any template failure becomes a TemplateError naming file and line."""
    try:
        return env.get_template(name).render(**context)
    except Exception as exc:
        raise _template_error(exc, config) from None


class Renderer:
    """``render`` bound to one environment and config (a site's pages, once
    ``pages.SiteView`` has set the globals), each template looked up once."""

    def __init__(self, env: jinja2.Environment, config: Config):
        self.env, self.config = env, config
        self._made: dict[str, jinja2.Template] = {}

    def __call__(self, name: str, **context: Any) -> str:
        try:
            template = self._made.get(name)
            if template is None:
                template = self._made[name] = self.env.get_template(name)
            return template.render(**context)
        except Exception as exc:
            raise _template_error(exc, self.config) from None


def _template_error(exc: Exception, config: Config) -> TemplateError:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(
            _("{display}:{lineno}: template syntax error: {message}").format(
                display=_display(exc.filename, config), lineno=exc.lineno, message=exc.message
            )
        )
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateError(_("template not found: {name}").format(name=exc.name))
    # Undefined variables and errors raised inside a template.
    where = _template_frame(exc, config)
    kind = "undefined variable" if isinstance(exc, jinja2.UndefinedError) else "template error"
    return TemplateError(f"{where}: {kind}: {exc}")


def words(env: jinja2.Environment, config: Config) -> Callable[..., str]:
    """The reader-facing phrases of words.txt as one function: ``word("tag_heading", "natur")``.
    A broken words.txt is a TemplateError naming the file and line, like any template."""
    try:
        module = env.get_template("words.txt").module
    except Exception as exc:
        raise _template_error(exc, config) from None

    def word(name: str, *args: Any) -> str:
        try:
            return str(getattr(module, name)(*args))
        except Exception as exc:
            raise _template_error(exc, config) from None

    return word


def _template_frame(exc: BaseException, config: Config) -> str:
    """The template file and line where ``exc`` was raised (Jinja maps frames to templates)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt")):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return "<template>"
    return f"{_display(found[0], config)}:{found[1]}"


def template_files(config: Config) -> Iterator[Path]:
    """Every file that can affect rendering: the site's templates and the package's."""
    yield from _site_templates(config)
    yield from sorted(p for p in PACKAGE_TEMPLATES.rglob("*") if p.is_file())


def _site_templates(config: Config) -> list[Path]:
    if not config.templates_dir.is_dir():
        return []
    # Only what may be read: a pipe would hang here, and a link outside the site is refused
    # when a page asks for it.
    found = config.templates_dir.rglob("*")
    return sorted(p for p in found if check_source(p, config.root) is None)


def own_html_templates(config: Config) -> bool:
    """Whether the site has templates of its own besides words.txt, static files and hidden
    files (a .gitkeep): then any page may show anything of an item."""
    for path in _site_templates(config):
        rel = path.relative_to(config.templates_dir)
        hidden = any(part.startswith(".") for part in rel.parts)
        if rel.parts[0] != STATIC_DIR and rel.as_posix() != "words.txt" and not hidden:
            return True
    return False


def fingerprint(config: Config, *extra: str) -> str:
    """Changes whenever anything that every page depends on changes: templates, config,
    blogtool itself, build flags."""
    # An upgrade (of blogtool, or of a library that shapes pages) rebuilds everything once.
    h = hashlib.sha256(code_digest(config.state_dir).encode())
    h.update(config.path.read_bytes())
    for path in template_files(config):
        h.update(str(path).encode())
        h.update(path.read_bytes())
    for value in extra:
        h.update(value.encode())
    return h.hexdigest()


def decimal(value: float, digits: int, language: str) -> str:
    """``7,6``: a number as the language writes it (CLDR, through Babel), with ``digits``
    decimals (0: as many as it has, up to three)."""
    from babel.numbers import format_decimal

    pattern = "0." + "0" * digits if digits else "0.###"
    return str(format_decimal(value, format=pattern, locale=_locale(language)))


def and_list(values: Iterable[str], language: str) -> str:
    """ "A, B och C": a list as the language writes one (CLDR, through Babel)."""
    from babel.lists import format_list

    items = [str(v) for v in values]
    if not items:
        return ""
    return str(format_list(items, locale=_locale(language)))


def _locale(language: str) -> Any:
    """Babel's locale of a language tag (sv, sv-FI), English for one it does not know."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale("en")
