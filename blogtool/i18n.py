"""Message catalogues (gettext): the words blogtool says, in the language of whoever reads them.

Two audiences choose their language separately:

- **The command line** speaks the user's language: ``BLOGTOOL_LANG``, else the locale
  (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as gettext reads them), else English.
  The CLI reads it from the environment at start (``language_from``) and sets it (``use``);
  ``_`` and ``ngettext`` here translate into it. Anything else (a test calling the core)
  gets English.
- **Readers** (pages, feeds, mail, the reader service's pages) get ``[site] language``:
  ``reader(language)`` is that catalogue, installed into the site's Jinja environment.

The source strings are English. Catalogues live in ``blogtool/locale/<lang>/LC_MESSAGES/``:
the ``.po`` files are edited (``make i18n`` extracts and updates them) and the ``.mo`` files are
compiled from them and shipped in the package.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

DOMAIN = "blogtool"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
FALLBACK = "en"
#: Where the command line looks for the user's language, first match wins.
LANGUAGE_VARIABLES = ("BLOGTOOL_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def available(suffix: str = ".mo") -> tuple[str, ...]:
    """The languages blogtool has a compiled catalogue for (with ``.po``: one to keep)."""
    found = (p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}{suffix}"))
    return tuple(sorted(found))


def language_of(tag: str) -> str:
    """'sv_SE.UTF-8' -> 'sv', 'en-GB' -> 'en', 'C' -> 'en': the catalogue a locale name picks."""
    name = tag.split(".")[0].split("@")[0].strip()
    if name in ("", "C", "POSIX"):
        return FALLBACK
    return name.replace("-", "_").split("_")[0].lower()


def language_from(environ: Mapping[str, str]) -> str:
    """The command line's language: a catalogue we have, chosen from the environment."""
    for variable in LANGUAGE_VARIABLES:
        value = environ.get(variable)
        if value:  # LANGUAGE may list several ("sv:en"); the first one we have wins
            found = [lang for lang in map(language_of, value.split(":")) if lang in _languages()]
            return found[0] if found else FALLBACK
    return FALLBACK


_cli = [FALLBACK]  # the command line's language, set once by the CLI (``use``)


def use(language: str) -> None:
    """Speak ``language`` on the command line from now on (the CLI calls this at start).

    Click's own words ("Usage:", "Show this message and exit.", "Error: ...") come from the
    standard library's gettext under its default domain, "messages", in the language the locale
    variables name (LANGUAGE, LC_ALL, LC_MESSAGES, LANG). That domain is bound, with gettext's
    own ``bindtextdomain``, to blogtool's catalogues, which hold a ``messages.mo`` of Click's
    words (``cli/clickwords.py``) in each language; ``main`` makes ``BLOGTOOL_LANG`` a locale
    variable gettext reads."""
    _cli[0] = language
    gettext.bindtextdomain(CLICK_DOMAIN, str(LOCALE_DIR))


CLICK_DOMAIN = "messages"  # the standard library's default domain, which Click's words use


def cli_language() -> str:
    """The command line's language ('sv', 'en'): also the locale of the dates it prints."""
    return _cli[0]


@lru_cache(maxsize=1)
def _languages() -> frozenset[str]:
    return frozenset(available())


@lru_cache(maxsize=16)
def reader(language: str) -> gettext.NullTranslations:
    """The catalogue for ``language`` ('sv', 'sv-FI', 'en'), English when there is none."""
    lang = language_of(language)
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])
    except OSError:
        return gettext.NullTranslations()  # the English source strings


def _(message: str) -> str:
    """``message`` in the command line's language."""
    return reader(cli_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message that fits ``n``, in the command line's language."""
    return reader(cli_language()).ngettext(singular, plural, n)


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural for the catalogue, like ``N_``."""
    return singular, plural


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it here (it is translated where
    it is shown)."""
    return message


# Words the command line shows for values that stay English in --json and in the files.
_LABELS = {
    "draft": N_("draft"),
    "scheduled": N_("scheduled"),
    "published": N_("published"),
    "post": N_("post"),
    "tip": N_("tip"),
    "ready": N_("ready"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "queued": N_("queued"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "active": N_("active"),
    "unsubscribed": N_("unsubscribed"),
    "bounced": N_("bounced"),
    "unmatched": N_("unmatched"),
    "forged": N_("forged"),
    # the studio's people, and what its history says they did
    "writer": N_("writer"),
    "publisher": N_("publisher"),
    "create": N_("created it"),
    "save": N_("saved"),
    "schedule": N_("scheduled it"),
    "unschedule": N_("unscheduled it"),
    "publish": N_("published it"),
    "upload": N_("uploaded a picture"),
    "approve": N_("approved the newsletter"),
    "test": N_("sent a test letter"),
}


def label_of(value: str, language: str | None = None) -> str:
    """An item's status or kind, an issue's or a delivery's or a subscriber's state, for
    people on the command line (or in ``language``): 'scheduled' -> 'schemalagd'."""
    if value not in _LABELS:
        return value
    return reader(language or cli_language()).gettext(_LABELS[value])


def items(n: int) -> str:
    """'1 item', '3 items': how many posts and tips, on the command line."""
    return ngettext("{n} item", "{n} items", n).format(n=n)
