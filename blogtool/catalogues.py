"""Keeping the message catalogues current: ``python -m blogtool.catalogues`` (``make i18n``).

1. Extract every marked string (``_``, ``ngettext``, ``N_`` in the code; ``_``/``trans`` in the
   templates) into ``blogtool/locale/blogtool.pot``, as ``babel.cfg`` says where to look.
2. Update each language's ``.po`` from it: new strings arrive empty (to translate), strings no
   longer used go. The English catalogue translates a string to itself, so it is filled in.
3. Compile each ``.po`` into the ``.mo`` that blogtool reads.

``problems()`` is the same comparison without writing: the test suite fails on any of them.
"""

from __future__ import annotations

import copy
import io
import sys
from collections.abc import Iterator
from configparser import RawConfigParser
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from blogtool.i18n import CLICK_DOMAIN, DOMAIN, FALLBACK, LOCALE_DIR, available

ROOT = LOCALE_DIR.parent.parent  # the source tree: babel.cfg sits beside blogtool/


def languages() -> tuple[str, ...]:
    """Every language with a catalogue to keep: a folder in locale/ with its ``.po``."""
    return available(".po")


KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "Nn_": (1, 2),
}


def _method_map() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    parser = RawConfigParser()
    parser.read(ROOT / "babel.cfg", encoding="utf-8")
    methods, options = [], {}
    for section in parser.sections():
        method, pattern = (part.strip() for part in section.split(":", 1))
        methods.append((pattern, method))
        options[pattern] = dict(parser.items(section))
    return methods, options


def extract() -> Catalog:
    """Every marked string in the code and the default templates."""
    methods, options = _method_map()
    template = Catalog(project="blogtool", domain=DOMAIN, charset="utf-8")
    found = extract_from_dir(ROOT, methods, options, KEYWORDS, strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for text in help_texts():
        template.add(text, None, [("blogtool/cli", 0)], auto_comments=["--help"])
    return template


def help_texts() -> list[str]:
    """What --help shows: every command's text and every option's, as Click has them."""
    import inspect

    import click

    from blogtool.cli import cli

    found: list[str] = []

    def walk(command: click.Command, ctx: click.Context) -> None:
        if command.help:
            found.append(inspect.cleandoc(command.help))
        found.extend(p.help for p in command.params if isinstance(p, click.Option) and p.help)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, click.Context(sub, parent=ctx, info_name=name))

    walk(cli, click.Context(cli, info_name="blogtool"))
    return found


def _po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(language: str) -> Catalog:
    path = _po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="blogtool")
    with path.open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def _translated(message: Message) -> bool:
    if isinstance(message.id, tuple):
        return isinstance(message.string, tuple) and all(message.string)
    return bool(message.string)


def _fill_english(catalog: Catalog) -> None:
    for message in catalog:
        if not message.id or _translated(message):
            continue
        if isinstance(message.id, tuple):
            message.string = tuple(message.id)
        else:
            message.string = message.id
        message.flags.discard("fuzzy")


def _compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _messages(mo: bytes) -> dict[object, object]:
    """What a compiled catalogue says, whichever Babel wrote its bytes."""

    def fixed(value: object) -> object:  # plural forms come back as lists
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(fixed(m.id), m.context): fixed(m.string) for m in read_mo(io.BytesIO(mo)) if m.id}


def _click_mo(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{CLICK_DOMAIN}.mo"


CLICK_WORDS_FILE = "blogtool/cli/clickwords.py"  # where Click's own words are marked


def clicks(template: Catalog) -> set[object]:
    """The ids of Click's own words, as extraction found them (in ``CLICK_WORDS_FILE``)."""
    return {
        m.id
        for m in template
        if m.id and any(Path(f).as_posix().endswith(CLICK_WORDS_FILE) for f, _n in m.locations)
    }


def click_words(catalog: Catalog, wanted: set[object]) -> Catalog:
    """The part of a catalogue that is Click's own words, for gettext's "messages" domain."""
    words = Catalog(locale=catalog.locale, domain=CLICK_DOMAIN, project="blogtool")
    for message in catalog:
        if message.id and message.id in wanted:
            words[message.id] = copy.copy(message)
    return words


def update() -> list[str]:
    """Extract, update every catalogue and compile it; returns what still needs a translator."""
    template = extract()
    wanted = clicks(template)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as f:
        write_po(f, template, width=100, no_location=True, omit_header=True)
    todo = []
    for language in languages():
        catalog = _read(language)
        # update() adopts the template's messages; each catalogue gets its own copy
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == FALLBACK:
            _fill_english(catalog)
        path = _po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, no_location=True)
        path.with_suffix(".mo").write_bytes(_compiled(catalog))
        _click_mo(language).write_bytes(_compiled(click_words(catalog, wanted)))
        todo += [f"{language}: {m.id!r}" for m in catalog if m.id and not _translated(m)]
    return todo


def problems() -> Iterator[str]:
    """What is out of step: a marked string a catalogue lacks, an empty or fuzzy entry, an
    entry nothing uses any more, a ``.mo`` that is not the compiled ``.po``."""
    template = extract()
    wanted, of_click = {m.id for m in template if m.id}, clicks(template)
    for language in languages():
        catalog = _read(language)
        have = {m.id for m in catalog if m.id}
        for missing in sorted(map(str, wanted - have)):
            yield f"{language}: missing {missing}"
        for unused in sorted(map(str, have - wanted)):
            yield f"{language}: unused {unused}"
        for message in catalog:
            if message.id and not _translated(message):
                yield f"{language}: empty {message.id!r}"
            if message.id and message.fuzzy:
                yield f"{language}: fuzzy {message.id!r}"
        mo = _po_path(language).with_suffix(".mo")
        if not mo.exists() or _messages(mo.read_bytes()) != _messages(_compiled(catalog)):
            yield f"{language}: {mo.name} is not compiled from {DOMAIN}.po; run make i18n"
        click_mo = _click_mo(language)
        words = _compiled(click_words(catalog, of_click))
        if not click_mo.exists() or _messages(click_mo.read_bytes()) != _messages(words):
            yield f"{language}: {click_mo.name} is not Click's words of {DOMAIN}.po; make i18n"


def main() -> int:
    todo = update()
    for line in todo:
        print(f"to translate: {line}")
    print(f"catalogues updated: {', '.join(languages())}; {len(todo)} strings to translate")
    return 1 if todo else 0


if __name__ == "__main__":
    sys.exit(main())
