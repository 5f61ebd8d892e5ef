"""Golden outputs of the commands people read most, in Swedish (LANG=sv_SE.UTF-8) and in English
(LANG=C.UTF-8): calendar, list, check, status and newsletter list on the sample site at a pinned
time. Each output is compared whole with tests/golden/, and checked to be in one language.

After an intended change of wording, rewrite the files with BLOGTOOL_UPDATE_GOLDEN=1 and read the
diff before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from blogtool.config import load_config
from blogtool.content.load import load_site

from .conftest import NOW, REPO, Run, write
from .test_english_site import ENGLISH, SWEDISH, swedish_in

GOLDEN = Path(__file__).parent / "golden"
LANGS = {"sv": "sv_SE.UTF-8", "en": "C.UTF-8"}


def _normalised(text: str, site: Path) -> str:
    text = text.replace(str(site), "<site>")
    return re.sub(r"in \d+\.\d\d s", "in <seconds> s", text)


@pytest.fixture
def staged(sample_site, monkeypatch) -> Path:
    """The sample site with a problem and a warning to report, subscribers, one issue built
    and one run done: every command has something to say."""
    monkeypatch.setenv("BLOGTOOL_SECRET", "golden-secret")
    run = Run(sample_site)
    assert run("subscribers", "import", str(REPO / "docs/exempel-prenumeranter.csv")).exit_code == 0
    assert run("newsletter", "build", "--since", "2026-11-01").exit_code == 0
    write(
        sample_site / "posts" / "2026-11-27-trasig.md",
        "---\ntitle: Trasig\ndate: 2026-11-27T10:00:00+01:00\ndraft: true\ntags: [naturr]\n"
        "datum: igår\n---\nText.\n",
    )
    return sample_site


COMMANDS = {
    "calendar": ("calendar", "--weeks", "6"),
    "list": ("list",),
    "check": ("check",),
    "newsletter-list": ("newsletter", "list"),
    "status": ("status",),
}


@pytest.mark.parametrize("lang", sorted(LANGS))
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_golden_output_in_one_language(staged, name, lang):
    run = Run(staged)
    result = run(*COMMANDS[name], now=NOW, lang=LANGS[lang])
    output = _normalised(result.output, staged)
    golden = GOLDEN / f"{name}.{lang}.txt"
    if os.environ.get("BLOGTOOL_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(output, "utf-8")
    assert output == golden.read_text("utf-8")
    # One language: no piece of the other's catalogue in what the command says. The site's own
    # words (titles, the series' name, the subjects it makes) are content, in the site's language.
    site = load_site(load_config(staged))
    for title in sorted((i.title for i in site.items), key=len, reverse=True):
        output = output.replace(title, "<title>")
    output = re.sub(r"Torsdagstips vecka \d+", "<subject>", output).replace(
        "Torsdagstips", "<series>"
    )
    if lang == "sv":
        found = [w for w in ENGLISH if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", output)]
        assert found == []
    else:
        assert swedish_in(output) == []
    assert SWEDISH  # the lists the check leans on are not empty
