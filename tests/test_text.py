"""Slugs and LIX, checked against hand computations."""

from __future__ import annotations

import pytest

from blogtool.content import lix
from blogtool.slugs import slugify


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Från stuprör till flöden", "fran-stupror-till-floden"),
        ("Åka skidor i Äppelbo – Öland?", "aka-skidor-i-appelbo-oland"),
        ("Café & crème brûlée", "cafe-creme-brulee"),
        ("  Dubbla   mellanslag!! ", "dubbla-mellanslag"),
        ("Ærø og Bjørn straße", "aero-og-bjorn-strasse"),
        ("Łódź, Þór och Đakovo", "lodz-thor-och-dakovo"),
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("2027: året då", "2027-aret-da"),
    ],
)
def test_slugify(title, slug):
    assert slugify(title) == slug


def test_lix_matches_a_hand_computation():
    text = (
        "Kommunen arbetar med flöden. Vi samarbetar över gränserna! "
        "Invånarna märker skillnaden: handläggningen går fortare."
    )
    # Words: Kommunen arbetar med flöden | Vi samarbetar över gränserna |
    #        Invånarna märker skillnaden | handläggningen går fortare  -> 14 words
    # Longer than six letters: Kommunen, arbetar, samarbetar, gränserna, Invånarna,
    #        skillnaden, handläggningen, fortare -> 8 long words
    # Sentences end at '.', '!', ':' and '.' -> 4 sentences
    # LIX = 14 / 4 + 100 * 8 / 14 = 3.5 + 57.142857... = 60.642857...
    result = lix.compute(text)
    assert (result.words, result.long_words, result.sentences) == (14, 8, 4)
    assert result.score == pytest.approx(3.5 + 800 / 14)


def test_lix_of_markdown_ignores_markup_and_ends_sentences_at_blocks():
    body = (
        "## Rubrik utan punkt\n\n"
        "Läs mer på [kartan](https://naturkartan.se/sv/vaxjo) i dag.\n\n"
        "```\nkod som inte räknas alls här\n```\n\n"
        "- punkt ett\n- punkt två\n"
    )
    result = lix.of_markdown(body)
    # "Rubrik utan punkt" | "Läs mer på kartan i dag" | "punkt ett" | "punkt två"
    assert result.words == 3 + 6 + 2 + 2
    assert result.sentences == 4
    assert result.long_words == 0


def test_lix_warning_above_the_configured_limit(run, sample_site):
    from .conftest import write

    write(
        sample_site / "posts/byrakratiskt.md",
        "---\ntitle: Byråkratiskt\ndate: 2026-11-01T09:00:00+01:00\n---\n"
        "Kommunfullmäktiges övergripande verksamhetsplanering förutsätter "
        "förvaltningsövergripande samordningsinsatser avseende medborgarperspektivet "
        "inom ramen för budgetprocessens tidsplanering och uppföljningsstrukturer.\n",
    )
    result = run("check")
    assert result.exit_code == 0
    assert "posts/byrakratiskt.md: warning: LIX" in result.stderr
    assert "above the limit 50" in result.stderr
    # Without --verbose only the texts over the limit are named, as problems.
    assert "byrakratiskt" not in result.stdout and "READABILITY" not in result.stdout
    verbose = run("check", "--verbose")
    row = next(line for line in verbose.stdout.splitlines() if "byrakratiskt" in line)
    assert "very hard" in row
    assert sum("posts/" in line or "tips/" in line for line in verbose.stdout.splitlines()) > 10
