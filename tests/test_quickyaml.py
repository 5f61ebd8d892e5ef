"""Front matter read the quick way (content/quickyaml.py) means what PyYAML reads: the same
keys, values of the same types, the same lines; whatever it is unsure of goes to PyYAML."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from blogtool.content import parse, quickyaml

from .conftest import REPO


def quick(fm: str):
    return quickyaml.read(fm, parse._QUICK)


def pyyaml(fm: str):
    return parse._pyyaml_mapping(fm, parse._Collector(Path("x.md")))


KEYS = ["title", "date", "tags", "summary", "draft", "yes", "on", "null", "True", "_x", "a1"]
SEPARATORS = [": ", ":", ":  ", " : ", ":\t"]
PLAIN = [
    "2026-11-27T21:00:00+01:00", "2026-11-27 21:00:00", "2026-02-30", "2026-11-27", "true",
    "yes", "No", "off", "null", "Null", "~", "12", "012", "0x1F", "1_000", "1:30", "3.5", ".inf",
    "-1", "+1", "a b", "a  b", "a: b", "a:b", "a #b", "a#b", "-a", "- a", "bilder/x.jpg",
    "https://x.se/a?b=c", "a,b", "(a)", "a:", "a ", "å ä", "e-tjänst", "x!", "&a", "*a", "'q'",
    '"q"', "[a]", "{a: b}", "|", ">", "%", "@", "`", "a\x85b", "a\u2028b", "Vad gäller?",
    "Budgeten – vad betyder den?", "?a", "a ?", "a|b", "a[b]", "a{b", "a'b", 'a "b"', "a&b",
    "!a", "a !", "a :b", "a\\b", "%a", "@a", "a:", "a: ", "a #", "a# b", "12 #x", "x,", "a]",
]  # fmt: skip
QUOTED = st.text(
    alphabet=st.sampled_from([*"aåZ0 #:,'[]{}-!&*é", '"', "\\", "\t", "\x01", "\x85", "\ufeff"]),
    max_size=12,
).map(lambda t: f'"{t}"')
WORDS = [
    "a", "b c", "yes", "12", "- a", "a:b", "'q'", '"q"', "", "natur", "e-tjänst", "3.5", "a ",
    "a?", "?a", "a]", "a&b", "a b  c", "a\\b", "a!", "å–ä", "a #b", "a#b", "-a", "a,", "{a}",
]  # fmt: skip
LIST = st.tuples(
    st.lists(st.sampled_from(WORDS), max_size=4), st.sampled_from([", ", ",", " ,", ",  "])
).map(lambda t: "[" + t[1].join(t[0]) + "]")
LINE = st.one_of(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(SEPARATORS),
              st.one_of(st.sampled_from(PLAIN), QUOTED, LIST)).map("".join),
    st.sampled_from(["", "# kommentar", "  indrag: x", "- punkt", "nyckel:", "...", "title: a\r"]),
)  # fmt: skip
# Lines of every kind; and lines that look like the plain shape, which the quick way reads.
FRONT_MATTER = st.one_of(
    st.lists(LINE, max_size=6),
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.one_of(st.sampled_from(PLAIN), QUOTED, LIST)).map(
            ": ".join
        ),
        max_size=4,
    ),
).map(lambda lines: "".join(f"{x}\n" for x in lines))


@settings(max_examples=1000, deadline=None)
@given(FRONT_MATTER)
def test_what_is_read_the_quick_way_is_what_pyyaml_reads(fm):
    read = quick(fm)
    if read is not None:
        assert repr(read) == repr(pyyaml(fm))  # (repr: True is not 1, nor a date its text)


def test_the_usual_front_matter_is_read_the_quick_way():
    """Every sample post and tip, and the shapes 'blogtool new' writes, go the quick way, with
    the values PyYAML gives them."""
    fronts = [
        p.read_text("utf-8").split("---\n", 2)[1]
        for p in sorted([*(REPO / "posts").glob("*.md"), *(REPO / "tips").glob("*.md")])
    ]
    fronts.append(
        'title: "Ny"\ndate: 2026-12-03T08:00:00+01:00\ntags: [natur, friluftsliv]\n'
        'draft: true\nservice: naturkarta\nimage: bilder/x.jpg\nsummary: ""\ntags: []\n'
    )
    quickly = [fm for fm in fronts if quick(fm) is not None]
    assert len(quickly) >= len(fronts) - 2, [fm for fm in fronts if quick(fm) is None]
    for fm in quickly:
        assert repr(quick(fm)) == repr(pyyaml(fm))


def test_what_pyyaml_refuses_or_reads_otherwise_is_left_to_it():
    for fm in [
        "title: a\ntitle b\n",  # not a key
        "title: [a, b\n",  # unclosed
        "title: a: b\n",  # mapping values are not allowed here
        "date: 2026-02-30\n",  # no such day: PyYAML's own text
        "tags: [a, yes]\n",  # a list with a boolean in it: PyYAML's answer is the quick one
        "vikt: 3.5\n",  # a float: left to PyYAML
        "title: a\x01\n",  # not printable
        "",
    ]:
        read = quick(fm)
        assert read is None or repr(read) == repr(pyyaml(fm)), fm
    assert quick("title: a: b\n") is None
    assert quick("vikt: 3.5\n") is None
    assert quick("tags: [a, yes]\n") == ({"tags": ["a", True]}, {"tags": 2})
