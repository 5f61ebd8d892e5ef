"""Languages: the catalogues are complete, nothing user-visible escapes them, and the command line
and the site choose their languages separately."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from blogtool import catalogues, i18n

from .conftest import REPO

PACKAGE = REPO / "blogtool"


def test_every_marked_string_is_in_both_catalogues_translated_and_compiled():
    assert list(catalogues.problems()) == []


def test_the_catalogue_check_finds_a_missing_and_an_empty_entry(tmp_path, monkeypatch):
    # The check above must be able to fail: drop one Swedish entry and empty another.
    from babel.messages.pofile import read_po, write_po

    locale = tmp_path / "locale"
    for lang in catalogues.languages():
        folder = locale / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        for suffix in (".po", ".mo"):
            name = f"blogtool{suffix}"
            (folder / name).write_bytes(
                (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / name).read_bytes()
            )
    po = locale / "sv" / "LC_MESSAGES" / "blogtool.po"
    catalog = read_po(po.open("rb"), locale="sv")
    del catalog["(nothing matches)"]
    catalog["-- empty --"].string = ""
    with po.open("wb") as f:
        write_po(f, catalog)
    monkeypatch.setattr(catalogues, "LOCALE_DIR", locale)
    found = list(catalogues.problems())
    assert "sv: missing (nothing matches)" in found
    assert "sv: empty '-- empty --'" in found
    assert "sv: blogtool.mo is not compiled from blogtool.po; run make i18n" in found


# Calls whose text a person reads: the message must be marked for the catalogue (or be built
# from values that are), never a bare literal.
SHOWN = {"echo", "secho", "info", "warning", "error", "fail"}


def _bare_text(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", node.value))
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return bool(re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", text))
    return False


def _unmarked(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        shown = []
        if (name in SHOWN and len(node.args) == 1) or (
            name.endswith("Error") and name not in ("RuntimeError", "TypeError") and node.args
        ):  # more is a logger's "%s" format: for logs
            shown.append(node.args[0])
        elif name == "Problem" and len(node.args) >= 2:
            shown.append(node.args[1])
        found += [f"{path.relative_to(REPO)}:{arg.lineno}" for arg in shown if _bare_text(arg)]
    return found


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
def test_no_message_a_person_reads_is_a_bare_literal(folder):
    modules = sorted((PACKAGE / folder).glob("*.py"))
    assert len(modules) > 1  # the package's modules, not an empty folder
    unmarked = [line for p in modules for line in _unmarked(p)]
    assert unmarked == []


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "sv_SE.UTF-8"}, "sv"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),  # no German catalogue: English
        ({"LANG": "en_GB.UTF-8", "LC_MESSAGES": "sv_FI.UTF-8"}, "sv"),
        ({"LANG": "sv_SE.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),
        ({"LANG": "sv_SE.UTF-8", "BLOGTOOL_LANG": "en"}, "en"),
        ({"LANG": "C.UTF-8", "BLOGTOOL_LANG": "sv"}, "sv"),
        ({"LANGUAGE": "sv:en", "LANG": "C.UTF-8"}, "sv"),
        ({"LANGUAGE": "de:sv", "LANG": "C.UTF-8"}, "sv"),  # the first one we have
    ],
)
def test_the_command_line_language_comes_from_the_environment(environ, expected):
    assert i18n.language_from(environ) == expected


def test_plurals_are_right_in_both_languages():
    sv, en = i18n.reader("sv"), i18n.reader("en")
    assert [sv.ngettext("{n} draft", "{n} drafts", n).format(n=n) for n in (1, 2)] == [
        "1 utkast",
        "2 utkast",
    ]
    assert [en.ngettext("{n} draft", "{n} drafts", n).format(n=n) for n in (1, 2)] == [
        "1 draft",
        "2 drafts",
    ]
    assert sv.ngettext("{n} item", "{n} items", 3).format(n=3) == "3 texter"


def test_help_and_usage_errors_speak_the_users_language(run):
    # English first: Click words a command's --help option once a process, in the language
    # of that moment, and the Swedish help below must not inherit it.
    assert "Show this message and exit." in run("calendar", "--help").output
    swedish = run("calendar", "--help", lang="sv_SE.UTF-8").output
    assert swedish.startswith("Användning: cli calendar [OPTIONS]")
    assert "Planen för seriens kommande veckodagar" in swedish and "Exempel:" in swedish
    assert "Visa det här meddelandet och avsluta." in swedish and "Flaggor:" in swedish
    # The same process, another language: the help is English again, nothing left over.
    english = run("calendar", "--help").output
    assert english.startswith("Usage: cli calendar [OPTIONS]")
    assert "The plan of the coming series weekdays" in english and "Example:" in english
    assert "Exempel" not in english and "Flaggor" not in english
    assert "Show this message and exit." in english and "Visa det här" not in english
    wrong = run("list", "--bogus", lang="sv_SE.UTF-8")
    assert wrong.exit_code == 2
    assert "Fel: Ingen flagga heter '--bogus'." in wrong.stderr
    assert "Prova 'cli list --help' för hjälp." in wrong.stderr
    unknown = run("kalender", lang="sv_SE.UTF-8")
    assert "Inget kommando heter 'kalender'." in unknown.stderr
    overview = run("--help", lang="sv_SE.UTF-8").output
    assert "Kommandon:" in overview and "Bygg den statiska webbplatsen" in overview


# Names that are the same in every language.
BRANDS = {"App Store", "Google Play", "RSS", "Atom", "LIX"}


def _untranslated_text(name: str) -> list[str]:
    """Words a default template writes out itself instead of asking the catalogue: text
    between tags, and the attributes a person reads or hears."""
    import jinja2
    from jinja2 import nodes

    env = jinja2.Environment(extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    source = (PACKAGE / "templates" / name).read_text("utf-8")
    # The template's own text, with "\0" where an expression or a tag's logic stands.
    text = "\0".join(d.data for d in env.parse(source).find_all(nodes.TemplateData))
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S)
    said = re.findall(r'(?:alt|title|aria-label|placeholder)="([^"\0]*)"', text)
    text = re.sub(r"<[^>]*>|&\w+;", " ", text)  # tags (with their attributes), entities
    found = []
    for words in [*said, *text.split("\0")]:
        for brand in BRANDS:
            words = words.replace(brand, "")
        if re.search(r"[A-Za-zÅÄÖåäö]{2,}", words):
            found.append(f"{name}: {words.strip()[:60]!r}")
    return found


@pytest.mark.parametrize(
    "name",
    sorted(
        str(p.relative_to(PACKAGE / "templates"))
        for p in (PACKAGE / "templates").rglob("*")
        if p.suffix in (".html", ".txt", ".xml")
    ),
)
def test_default_templates_take_every_word_from_the_catalogue(name):
    assert _untranslated_text(name) == []


def test_the_template_check_finds_a_word_written_out(tmp_path, monkeypatch):
    assert _untranslated_text("404.html") == []
    fake = tmp_path / "blogtool"
    (fake / "templates").mkdir(parents=True)
    (fake / "templates" / "x.html").write_text('<p>Hej</p><img alt="En sjö">', "utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert len(_untranslated_text("x.html")) == 2


def test_holidays_and_series_defaults_follow_the_language(tmp_path):
    from blogtool.config import load_config

    def config(text: str):
        (tmp_path / "blogtool.toml").write_text(
            '[site]\ntitle = "T"\nbase_url = "https://t.example/"\n' + text, "utf-8"
        )
        return load_config(tmp_path)

    sv, en = config('language = "sv"\n'), config('language = "en"\n')
    assert (sv.tips.holidays, sv.tips.title, sv.urls.tag) == ("SE", "Torsdagstips", "tagg")
    assert (en.tips.holidays, en.tips.title, en.urls.tag) == ("GB", "Thursday tips", "tag")
    assert config('language = "sv-FI"\n').tips.holidays == "FI"
    assert config('language = "en"\n[tips]\nholidays = ""\n').tips.holidays == ""
    assert config('language = "en"\n[urls]\ntag = "topics"\n').urls.tag == "topics"
    assert en.newsletter.unsubscribe_url == "https://t.example/unsubscribe"


def test_blogtool_lang_also_sets_the_language_of_clicks_own_words():
    """The real command: BLOGTOOL_LANG over a C locale speaks Swedish, Click's words too, and
    Click's words come from gettext's own domain bound to our catalogue, with nothing of the
    standard library replaced."""
    import gettext
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "BLOGTOOL_LANG": "sv"}
    shown = subprocess.run(
        [sys.executable, "-m", "blogtool", "list", "--bogus"], capture_output=True, text=True,
        env=env,
    )  # fmt: skip
    assert shown.returncode == 2
    assert "Fel: Ingen flagga heter '--bogus'." in shown.stderr, shown.stderr
    assert gettext.dgettext.__module__ == "gettext" and gettext.dngettext.__module__ == "gettext"


# Templates that call ``_`` every way a template may: each renders as Jinja's i18n extension
# renders it, whether its fixed texts are translated as it is compiled (``FixedTexts``) or not.
_CALLS = {
    "page.html": (
        '<a>{{ _("Skip to content") }}</a><b>{{ _("Search") | upper }}</b>'
        '{{ _("Search").lower() }}|{{ _("A & <b>bold</b> 100%% sure") }}'
        '|{{ _("Search") ~ "<i>" }}|{{ _("RSS for %(series)s", series="<T>") }}'
        '|{% set word = _("Home") %}{{ word }}|{{ ns._("Home") }}|{{ _("Skip to content") | e }}'
    ),
    "mail.txt": '{{ _("Search") ~ "<i>" }} {{ _("A & b") + "<c>" }} {{ _("A & b") | e }}',
    "turned.html": (
        '{% autoescape false %}{{ _("A & b") + "<i>" }}{% endautoescape %}{{ _("A & b") }}'
    ),
}


def _environments():
    import jinja2

    from blogtool.site.templates import FixedTexts

    translations = i18n.reader("sv")
    made = []
    for extensions in (["jinja2.ext.i18n"], ["jinja2.ext.i18n", FixedTexts]):
        env = jinja2.Environment(
            loader=jinja2.DictLoader(_CALLS),
            autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
            extensions=extensions,
        )
        env.install_gettext_translations(translations, newstyle=True)
        env.fixed_translations = translations
        made.append(env)
    return made


class _Namespace:
    def _(self, text: str) -> str:  # an attribute called ``_``: not the catalogue's
        return f"<{text}>"


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_fixed_texts_translated_as_templates_compile_render_as_the_i18n_extension(name):
    stock, fixed = _environments()
    expected = stock.get_template(name).render(ns=_Namespace())
    assert fixed.get_template(name).render(ns=_Namespace()) == expected
    if name == "page.html":
        # (A translation is markup: the catalogue's text is trusted, the values are escaped.)
        assert expected.startswith("<a>Hoppa till innehållet</a><b>SÖK</b>sök|A & <b>bold")
        assert "100% sure|Sök&lt;i&gt;|RSS för &lt;T&gt;|Start|&lt;Home&gt;|" in expected


def test_a_fixed_text_is_a_constant_of_the_compiled_template():
    """Translated once: rendering calls no ``_`` for a fixed text, only for one with values
    (the page templates' score of fixed texts each cost a call through the extension)."""
    _stock, fixed = _environments()
    template = fixed.get_template("page.html")

    def refused(*args, **kwargs):
        raise AssertionError(f"_ called at render for {args}")

    fixed.globals["_"] = refused
    with pytest.raises(AssertionError, match="RSS for"):
        template.render(ns=_Namespace())
    fixed.globals["gettext"] = fixed.globals["_"] = lambda text, **values: text % values
    assert "Hoppa till innehållet" in template.render(ns=_Namespace())


def test_a_fixed_text_with_a_placeholder_and_no_value_fails_as_the_i18n_extension_fails():
    stock, fixed = _environments()
    for env in (stock, fixed):
        template = env.from_string('{{ _("RSS for %(series)s") }}')
        with pytest.raises(KeyError, match="series"):
            template.render()


def test_the_sites_templates_translate_their_fixed_texts_as_they_compile(sample_site):
    """The environment every page, mail and reader page renders with has ``FixedTexts``."""
    from blogtool.config import load_config
    from blogtool.site.templates import make_environment

    env = make_environment(load_config(sample_site))
    template = env.from_string('<a>{{ _("Skip to content") }}</a>')

    def refused(*args, **kwargs):
        raise AssertionError(f"_ called at render for {args}")

    env.globals["_"] = refused
    assert template.render() == "<a>Hoppa till innehållet</a>"
