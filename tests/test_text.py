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


def test_the_running_text_is_what_python_markdown_reads_as_text():
    """LIX and excerpts read the text from Python-Markdown's own tree, not from patterns of
    their own: an indented code block, a comment, a raw HTML block's tags, a table's pipes and
    a footnote's own text are not prose; a table's cells and raw HTML's words are."""
    from blogtool.content.markdown import prose

    body = (
        "Ett stycke med `kod` i.\n\n"
        "    indenterad kod räknas inte\n\n"
        "<!-- en kommentar räknas inte -->\n\n"
        '<div class="ruta">Text i en ruta.</div>\n\n'
        "| Dag | Tid |\n|---|---|\n| Måndag | Nio |\n\n"
        "Ett påstående.[^1]\n\n"
        "[^1]: En fotnot som inte hör till texten.\n"
    )
    assert prose(body).split("\n\n") == [
        "Ett stycke med i.",
        "Text i en ruta.",
        "Dag Tid",
        "Måndag Nio",
        "Ett påstående.",
    ]
    assert prose(body, keep_code=True).split("\n\n")[0] == "Ett stycke med kod i."
    assert lix.of_markdown(body).words == 4 + 4 + 2 + 2 + 2
    from blogtool.site.render import excerpt

    assert excerpt("    bara kod\n\nFörsta stycket.") == "Första stycket."


def test_a_bogus_marked_section_in_raw_html_is_read_not_a_crash():
    """Python's html.parser (before 3.13) raised AssertionError on '<![' that opens no CDATA
    section; the text of the letter, the links of the page and an import read past it."""
    from blogtool.content.markdown import references
    from blogtool.importer.autop import autop
    from blogtool.newsletter.plaintext import html_to_text

    assert "Läs vidare" in html_to_text(
        "<p>Hej <![i] och <a href='https://a.se/'>Läs vidare</a></p>"
    )
    assert [r.target for r in references("<div><![i] <a href='https://b.se/'>b</a></div>")] == [
        "https://b.se/"
    ]
    assert "stycke" in autop("Ett <![x] stycke.\n\nEtt till.")
