"""Markdown rendering: the fast inline path gives exactly what Python-Markdown gives."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import markdown
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from markdown.extensions.tables import TableProcessor

from blogtool.content import markdown as mdengine
from blogtool.content.readiness import resolve
from blogtool.site import render

from .conftest import REPO, write

TRICKY = [
    "Vanlig text utan markering. Och en mening till!",
    "Text med *kursiv*, **fet**, _understruken kursiv_ och __fet__.",
    "Kod `x = 1` och ett escape \\*inte kursiv\\*.",
    "En [länk](https://example.se) och en ![bild](a.png) och <https://auto.se>.",
    "Rad med hård radbrytning  \nnästa rad.",
    "Entitet &amp; och &copy; och en naken & i text.",
    'Inline <b>html</b> och <span class="x">span</span>.',
    "Fotnot[^1] här.\n\n[^1]: Själva fotnoten.",
    "Referens [länk][ref].\n\n[ref]: https://example.se",
    "| a | b |\n|---|---|\n| 1 | *2* |",
    "```python\nprint('<hej>')\n```",
    "> Citat med **fet** text\n> på två rader.",
    "- punkt *ett*\n- punkt två\n\n1. ett\n2. två",
    "Utropstecken! Frågor? Kolon: slut.",
    "Ordet under_score_inne och 2 * 3 = 6.",
    "## Rubrik med eget id {#egen}\n\nStycke med klass\n{: .viktig }",
    "[Länk](x){: .k} och ![bild](b.png){: .bred} i en mening; *kursiv*{: #id } till sist",
    "- punkt med klass\n{: .k }\n- punkt [länk](y){: .l}",
    "Rubrik\n======\n\nUnderrubrik\n---\n\n* * *\n\n> citat",
    '<div class="ruta">\n*inte* markdown\n</div>\n\nEfter **fet**.\n\n<!-- kommentar -->\n\nText.',
    # what Python-Markdown's whitespace step changes, which the quick way must leave to it
    "Stycke ett\n   \nStycke två",
    "Sista raden har bara blanksteg\n   ",
    "Tabb\tinne\n\n\tkod efter tabb",
    "Windowsrader\r\nmed CR\r\n\r\n    kod",
    "Gammal Mac\rrad",
    # a rule among words with hyphens; a reference definition; escapes turned back
    "En e-tjänst - och en till.\n\n- - -\n\n_ _ _\n\nSlut.",
    "[a]: https://a.se\n\nSe [a] och [b].\n\n[b]: https://b.se",
    "Inte \\*kursiv\\* och inte \\[länk\\] och \\`kod\\`.",
    # blocks that start with a letter but are not (only) a paragraph: what follows on a line
    # of its own turns them into something else
    "Stycke\n# Rubrik direkt under",
    "Stycke\n> citat direkt under",
    "Stycke\nUnderstruken\n---",
    "Stycke\n===",
    "Stycke\n* * *\nefter regeln",
    "Stycke\n[id]: https://id.se\n\nLänk till [id].",
    "Stycke med fotnot[^1]\n[^1]: Fotnoten direkt under.",
    "a | b\n--|--\n1 | 2",
    "a | b\n:-|:-\n1 | 2",
    "Ärende\n    indraget är fortsättning",
]


def stock() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["tables", "fenced_code", "footnotes", "sane_lists", "attr_list"],
        extension_configs={"footnotes": {"BACKLINK_TITLE": "Tillbaka till texten"}},
        output_format="html",
    )


def normalise_headings(html: str) -> str:
    """Drop heading ids and levels, which blogtool sets on purpose (see the next test); an id
    may come after other attributes ('{: .k}' gives a class first)."""
    html = re.sub(r'(<h[1-6]\b[^>]*?) id="[^"]*"', r"\1", html)
    return re.sub(r"<(/?)h[1-6]\b", r"<\1h", html)


SAMPLE_BODIES = [
    p.read_text("utf-8").split("---\n", 2)[2] for p in sorted((REPO / "posts").glob("*.md"))
]


@pytest.mark.parametrize("text", TRICKY + SAMPLE_BODIES)
def test_bodies_render_as_python_markdown_does(text):
    """blogtool's converter is Python-Markdown with its own extensions and blogtool's
    heading ids and levels; nothing else differs."""
    ours = mdengine.to_html(text, "Tillbaka till texten")
    assert normalise_headings(ours) == normalise_headings(stock().convert(text))


# Pieces of every inline pattern and block, what ends or joins them, and plain words between.
PIECES = [
    "ord",
    " ",
    "\n",
    "\n\n",
    "å",
    "*",
    "**",
    "_",
    "__",
    "`",
    "``",
    "```\n",
    "~~~",
    "\\",
    "\\*",
    "[",
    "]",
    "(",
    ")",
    "!",
    "[a](b)",
    "![i](p.png)",
    "[r]",
    "[r][]",
    "\n\n[r]: https://r.se\n",
    "[^1]",
    "\n\n[^1]: not\n",
    "<",
    ">",
    "<b>",
    "</b>",
    "<https://x.se>",
    "<a@b.se>",
    "&",
    "&amp;",
    "&#39;",
    "&x;",
    ";",
    "  \n",
    "#",
    "- ",
    "|",
    "{#id}",
    ":",
    # and of the block processors and attr_list
    "> ",
    "\n=",
    "\n-",
    "---",
    "***",
    "_ _ _",
    "## ",
    "{: .k}",
    "| a | b |\n|---|---|\n",
    "<div>",
    "</div>",
    "<!-- c -->",
    # and of the whitespace step
    "\t",
    "\r\n",
    "\r",
    "   \n",
    "]:",
    "- - -",
    # and of the blocks a paragraph is told from: list items, indented lines, a table row
    "1. ",
    "* ",
    "+ ",
    "\n    ",
    ":-|:-",
    "[^x]:",
    # and of what makes a link more than plain: a title, an address in <>, spaces, quotes
    "](",
    '[t](u "ti")',
    "[t](<u v>)",
    "[t]( u )",
    "'",
    '"',
    "[t](u(v))",
    # and of the bracket patterns read within a window (nested texts, references, pictures)
    "[[a]](b)",
    "![[i]](p.png)",
    "[a][r]",
    "![i][r]",
    "![r]",
    "[[r]]",
    "]]",
    "[[",
]
MARKUP = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(MARKUP)
@example("<div><![i][r]")  # html.parser (Python < 3.13) raised AssertionError on these
@example("<div><![[i]](p.png)")
def test_random_markup_renders_as_python_markdown_does(text):
    """Random markup of every inline pattern's and block's pieces (plain and other links
    among them, which blogtool reads in one step) renders as Python-Markdown does; but for
    the one difference markdown.py names: an address that no ')' after it closes."""
    assume(all(")" in text[m.end() :] for m in re.finditer(r"\]\(", text)))
    ours = mdengine.to_html(text, "Tillbaka till texten")
    assert normalise_headings(ours) == normalise_headings(stock().convert(text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="\\`![a \n", max_size=40), st.integers(0, 40))
@example("\\\\`", 0)  # an even run of backslashes before a '`'
@example("a\\\\\\`x`", 0)  # an odd run: no match at any of them
@example("![a][b] [c]", 3)  # a search starting after the '!' still sees it
def test_the_patterns_that_open_with_their_character_match_as_the_stock_ones(text, start):
    """The link and code-span patterns blogtool registers, written to open with the character
    they look for, match where, and what, Python-Markdown's own do, from any start."""
    pairs = [
        (markdown.inlinepatterns.LINK_RE, mdengine.LINK_AT_BRACKET),
        (markdown.inlinepatterns.BACKTICK_RE, mdengine.BACKTICK_AT_MARK),
    ]
    for theirs, ours in pairs:
        found = [
            [(m.span(), m.groups()) for m in re.compile(p, re.DOTALL).finditer(text, start)]
            for p in (theirs, ours)
        ]
        assert found[0] == found[1], (theirs, ours)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" \n>=-_*a`~[]^:<&|", max_size=30))
@example("   ---")
@example("ord\n  * * *")
@example("    ---")  # indented four: code, not a rule
@example("Rubrik\n===")
@example("ord\n\n> citat")
@example("```\nkod\n```")
@example("~~~\nkod\n~~~\n")
@example("[id]: https://id.se")
@example("ord\n  [^1]: not")
@example("a <b>c</b> &amp;")
@example("<div>\nx\n</div>")
@example("<!-- c -->\n")
@example("a | b\n--|--")
@example("| a\n|-")
def test_the_block_processors_that_look_first_do_what_the_stock_ones_do(block):
    """The processors blogtool registers, which try their pattern only where what it needs is
    there, do what Python-Markdown's own do: the quote, setext heading and rule processors take
    the blocks the stock ones take; the link definition and footnote processors decline only
    blocks the stock ones would give back untouched; the fence and raw HTML steps give the
    lines the stock ones give."""
    parser = markdown.Markdown(extensions=["footnotes"]).parser
    for ours, theirs in [
        (mdengine._Quotes, markdown.blockprocessors.BlockQuoteProcessor),
        (mdengine._SetextHeadings, markdown.blockprocessors.SetextHeaderProcessor),
        (mdengine._Rules, markdown.blockprocessors.HRProcessor),
    ]:
        assert ours(parser).test(None, block) == theirs(parser).test(None, block), ours
    rows = [kind(parser, {}) for kind in (mdengine._TableRows, TableProcessor)]
    assert rows[0].test(None, block) == rows[1].test(None, block)
    footnotes = markdown.extensions.footnotes.FootnoteExtension()
    footnotes.parser = parser
    for ours, theirs in [
        (
            mdengine._LinkDefinitions(parser),
            markdown.blockprocessors.ReferenceProcessor(parser),
        ),
        (
            mdengine._FootnoteDefinitions(footnotes),
            markdown.extensions.footnotes.FootnoteBlockProcessor(footnotes),
        ),
    ]:
        assert theirs.test(None, block)  # (the stock ones try every block)
        if not ours.test(None, block):
            blocks = [block]
            assert theirs.run(ET.Element("div"), blocks) is False, ours
            assert blocks == [block]
    lines = block.split("\n")
    for ours, theirs, config in [
        (mdengine._Fences, markdown.extensions.fenced_code.FencedBlockPreprocessor, ({},)),
        (mdengine._HtmlBlocks, markdown.preprocessors.HtmlBlockPreprocessor, ()),
    ]:
        ran = [kind(markdown.Markdown(), *config).run(list(lines)) for kind in (ours, theirs)]
        assert ran[0] == ran[1], ours


def _without_plain_texts() -> markdown.Markdown:
    md = mdengine._converter()
    mdengine._converters.md = None  # (a new one for the next caller; this one is changed)
    md.treeprocessors.deregister("plain_texts")
    return md


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*PIECES, "Vanlig mening.", "rad\nrad", "\x02", "\x03"])).map("".join)
)
def test_texts_kept_from_the_inline_step_render_as_if_it_had_read_them(text):
    """A text with none of the characters an inline pattern needs is kept from the inline
    step; the HTML is the same as when every text goes through it."""
    without = _without_plain_texts()
    assert mdengine._convert(text, False)[0] == without.convert(text)


def test_only_texts_no_inline_pattern_can_match_are_kept_from_the_inline_step():
    root = ET.fromstring("<div><p>Vanlig text.</p><p>En [länk](x)</p><p>rad  \nbryts</p></div>")
    root.append(ET.Element("p"))
    root[-1].text = "\x02wzxhzdk:0\x03"  # a raw HTML block's placeholder
    root[0].tail = "å ä ö"
    md = mdengine._converter()
    md.treeprocessors["plain_texts"].run(root)
    kept = [isinstance(t, markdown.util.AtomicString) for t in (p.text for p in root)]
    assert kept == [True, False, False, False]
    assert isinstance(root[0].tail, markdown.util.AtomicString)


def test_an_inline_pattern_it_does_not_know_keeps_every_text_in_the_inline_step():
    """Another extension's pattern may need any character: with one registered, no text is
    kept from the inline step (here '~~' strikes through)."""
    md = _without_plain_texts()
    md.treeprocessors.register(mdengine._PlainTexts(md), "plain_texts", 20.5)
    assert md.convert("Ett ord") == "<p>Ett ord</p>"
    md.reset()
    strike = markdown.inlinepatterns.SimpleTagInlineProcessor(r"()~~(.+?)~~", "del")
    md.inlinePatterns.register(strike, "del", 65)
    assert md.convert("Ett ~~struket~~ ord") == "<p>Ett <del>struket</del> ord</p>"


def test_headings_are_shifted_below_h1_and_get_unique_ids():
    html = mdengine.to_html("# Första\n\n## Andra\n\n# Första\n\n## Egen {#egen}\n")
    assert html.splitlines() == [
        '<h2 id="forsta">Första</h2>',
        '<h3 id="andra">Andra</h3>',
        '<h2 id="forsta-1">Första</h2>',
        '<h3 id="egen">Egen</h3>',
    ]


def test_many_headings_of_one_text_get_the_next_free_number_each():
    """A number already taken, by an earlier heading's own words ("A 1" is a-1) or by an id
    written out, is skipped, and the count goes on from there for the next heading."""
    text = "## A\n\n## A\n\n## A 1\n\n## A\n\n## Egen {#a-3}\n\n## A\n\n## A\n"
    ids = re.findall(r'id="([^"]*)"', mdengine.to_html(text))
    assert ids == ["a", "a-1", "a-1-1", "a-2", "a-3", "a-4", "a-5"]


def test_sanitize_removes_active_content_and_absolutize_fixes_links():
    html = (
        '<p onclick="x()">Hej <a href="/arkiv/" onmouseover="y()">arkiv</a> '
        '<a href="javascript:alert(1)">farlig</a> <a href="#fn:1">fotnot</a></p>'
        '<script>alert(1)</script><iframe src="https://x"></iframe><style>p{}</style>'
        '<img src="bild.png" alt="Karta">'
    )
    out = render.portable(html, "https://blogg.example.se/inlagg/")
    assert "onclick" not in out and "onmouseover" not in out and "javascript:" not in out
    assert "<script" not in out and "<iframe" not in out and "<style" not in out
    assert 'href="https://blogg.example.se/arkiv/"' in out
    assert 'src="https://blogg.example.se/inlagg/bild.png"' in out
    assert 'href="https://blogg.example.se/inlagg/#fn:1"' in out
    assert 'alt="Karta"' in out


def test_excerpt_cuts_at_a_word():
    body = "Första stycket är ganska långt " * 20 + "\n\nAndra stycket."
    text = render.excerpt(body, limit=60)
    assert text.endswith("…") and len(text) <= 61 and "Andra" not in text
    assert render.excerpt("Kort.\n\nMer.") == "Kort."


# --- finding links to the site's own files ------------------------------------------------------

LINK_PIECES = [
    "ord",
    " ",
    "\n",
    "!",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    "`",
    "```\n",
    "~~~\n",
    "\\",
    '"t"',
    "[a](b.md)",
    "![i](p.png)",
    "[x](https://e.se)",
    "[d]: ../static/k.pdf",
    "]:",
    "   ",
    '<a href="c.md">',
    "<img src='q.jpg'>",
    "#",
    "/abs",
    "[^1]: not",
]


def test_local_links_are_what_python_markdown_reads_as_links():
    """Links and pictures come from Python-Markdown's own reading: not from code (fenced,
    indented, inline) or an HTML comment; a reference link by its definition; raw HTML too."""
    from blogtool.content.readiness import local_links

    body = (
        "Se [karta](karta.md) och ![bild](b.png).\n\n`[kod](x.md)`\n\n"
        "    [indraget](y.md)\n\n```\n[inhägnat](w.md)\n```\n\n<!-- [kommentar](z.md) -->\n\n"
        'Läs [mer][d].\n\n[d]: ../static/k.pdf\n\n<p><a href="html.md">html</a></p>\n\n'
        "[extern](https://e.se), [ankare](#a), [roten](/x/) och <info@vaxjo.se>.\n"
    )
    found = list(local_links(body))
    assert [(target, image) for _offset, target, image in found] == [
        ("karta.md", False), ("b.png", True), ("../static/k.pdf", False), ("html.md", False),
    ]  # fmt: skip
    # Each where it is written: the line a problem names.
    assert [body.count("\n", 0, offset) + 1 for offset, _t, _i in found] == [1, 1, 15, 17]


def test_a_link_in_code_or_a_comment_is_not_checked(run, sample_site):
    """Only a link a reader can follow must lead somewhere: one shown as code, or in an
    HTML comment, is text; a real one to a missing file is still an error."""
    write(
        sample_site / "posts" / "2026-11-02-kod.md",
        "---\ntitle: Kod\ndate: 2026-11-02T10:00\nsummary: Om kod.\n---\n"
        "Så här länkar du:\n\n    [text](finns-inte.md)\n\n<!-- [gammal](borta.md) -->\n\n"
        "`![bild](saknas.png)`\n",
    )
    result = run("check")
    assert "finns-inte.md" not in result.stderr and "borta.md" not in result.stderr
    assert "saknas.png" not in result.stderr
    assert result.exit_code == 0, result.stderr
    post = sample_site / "posts" / "2026-11-02-kod.md"
    post.write_text(post.read_text("utf-8") + "\nMen [den här](saknas-pa-riktigt.md).\n", "utf-8")
    result = run("check")
    assert result.exit_code == 1
    assert "posts/2026-11-02-kod.md:14: error: link 'saknas-pa-riktigt.md'" in result.stderr


HTML_PIECES = [
    "<p>",
    "</p>",
    "ord ",
    '<a href="a.md">',
    '<a href="../posts/a.md#del">',
    "</a>",
    '<img src="../static/k.png">',
    '<img src="https://e.se/x.png">',
    '<a href="#fn:1">',
    '<a xhref="a.md">',
    'data-src="a.md"',
    '<a href="b.md?x=1">',
    'title="a.md"',
    '="',
    '"',
    "href=",
    "src=",
    " ",
    "=",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=25).map("".join))
def test_link_sources_rewrites_what_the_plain_pattern_finds(html):
    """Links to source files and static files become their addresses, found from '="'; the
    plain pattern ("href" or "src", then '="') finds the same ones."""
    source = Path("posts/x.md")
    targets = {"posts/a.md": "/a/", "posts/b.md": "/b/"}

    def href(path: str) -> str:
        return "/site/" + path

    plain = re.compile(r'\b(href|src)="(?![a-zA-Z][a-zA-Z0-9+.-]*:|[#/?])([^"]+)"')

    def fix(m: re.Match[str]) -> str:
        url = m.group(2)
        path = resolve(source, unescape(url))
        target = targets.get(path) or (href(path) if path.startswith("static/") else None)
        if target is None:
            return m.group(0)
        fragment = "#" + url.split("#", 1)[1] if "#" in url else ""
        return f'{m.group(1)}="{target}{fragment}"'

    assert render.link_sources(html, source, targets, href) == plain.sub(fix, html)


def test_an_address_that_no_parenthesis_closes_is_text():
    """The one way blogtool's bracket patterns differ from Python-Markdown's (which reads on
    to the end of the paragraph, then makes a link of part of it): kept as text."""
    assert mdengine.to_html("[x](a'b(c") == "<p>[x](a'b(c</p>"
    assert mdengine.to_html("[x](a'b(c)") == stock().convert("[x](a'b(c)")
