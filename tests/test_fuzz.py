"""Property-based tests over every entry point that takes outside input.

The property, whatever the input: success, or one clean error (a BlogtoolError, exit 1 or 2).
Never a traceback, never a file written outside the site, never a half-written file left
behind, never an address in a message's headers other than its recipient's.

``make test`` runs a modest number of examples, new ones each run from a seed it prints
(``make test SEED=N`` draws the same again); ``make fuzz`` runs many more
(HYPOTHESIS_PROFILE=fuzz). The profiles live in ``conftest.py``.
"""

from __future__ import annotations

import email
import io
import os
import re
import shutil
from email import policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from blogtool.config import load_config
from blogtool.content.fields import FIELDS
from blogtool.content.model import Kind
from blogtool.content.parse import parse_item
from blogtool.errors import BlogtoolError

from .conftest import MINIMAL_CONFIG, NOW, Run, write

# --- strategies ------------------------------------------------------------------------------------

# Text with the characters that break things: controls, separators, quotes, YAML and TOML syntax.
NASTY = st.sampled_from(
    ["\x00", "\x1b", "\x0b", "\r", "\n", "\r\n", "\u2028", "\u202e", "\ufeff", "'", '"', "\\",
     ":", "#", "---", "{{", "}}", "%", "<script>", "&", "..", "/", "\t", "é", "å", "😀", "@"]
)  # fmt: skip
TEXT = st.lists(st.one_of(st.text(max_size=12), NASTY), max_size=8).map("".join)
YAML_SCALAR = st.one_of(
    TEXT.map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    TEXT.filter(lambda s: "\n" not in s and "\r" not in s),
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(["true", "false", "null", "~", "[]", "{}", "[1, 2]", "{a: b}", "-", "|"]),
    st.sampled_from(["&x [lol, lol, lol]", "*x", "&y [*x, *x, *x]", "*y", "!!python/object:os.system"]),
    st.sampled_from(
        ["2026-02-30", "2026-13-01", "2026-03-29 02:30", "2026-11-26T08:00:00+01:00",
         "9999-12-31T23:59:59Z", "0001-01-01", "2026-11-26T25:00", "2026-W48"]
    ),
)  # fmt: skip
KEYS = st.one_of(st.sampled_from([f.name for f in FIELDS]), TEXT.filter(lambda s: s.strip()))


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    lines = [f"{draw(KEYS)}: {draw(YAML_SCALAR)}" for _ in range(draw(st.integers(0, 6)))]
    if draw(st.booleans()):
        lines.insert(0, f"title: {draw(YAML_SCALAR)}")
    return "\n".join(lines)


@st.composite
def content_file(draw: st.DrawFn) -> bytes:
    body = draw(TEXT)
    text = f"---\n{draw(front_matter())}\n---\n{body}\n"
    if draw(st.booleans()):
        text = draw(TEXT) + text  # garbage before the front matter
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=8))  # not always valid UTF-8
    return data


# --- helpers -------------------------------------------------------------------------------------


def _fresh_site(base: Path) -> Path:
    if base.exists():
        shutil.rmtree(base)
    site = base / "site"
    for name in ("posts", "tips", "templates", "media"):
        (site / name).mkdir(parents=True)
    write(site / "blogtool.toml", MINIMAL_CONFIG)
    return site


def _outside(base: Path) -> set[str]:
    """Everything under ``base`` but the site: what a command must never touch."""
    return {str(p) for p in base.rglob("*") if "site" not in p.relative_to(base).parts[:1]}


def _half_written(site: Path) -> list[str]:
    return [p.name for p in site.rglob("*") if p.name.endswith(".tmp") or ".staging-" in p.name]


def _clean(result) -> None:
    """Success, or an error as one or more 'Error:'/problem lines: never a traceback."""
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output


# --- front matter and body -----------------------------------------------------------------------


@given(data=content_file(), kind=st.sampled_from(list(Kind)))
def test_parsing_any_file_gives_an_item_or_problems(sample_site, data, kind):
    config = load_config(sample_site)
    item, problems = parse_item(data, Path("posts/x.md"), kind, config)
    assert item is not None or any(p.is_error for p in problems)
    assert all(str(p).startswith("posts/x.md") for p in problems)


@given(data=content_file())
def test_check_and_build_any_post(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("fuzz-post")
    site = _fresh_site(base)
    (site / "posts" / "x.md").write_bytes(data)
    before = _outside(base)
    run = Run(site)
    for command in ("check", "build", "list"):
        _clean(run(command))
    assert _outside(base) == before
    assert _half_written(site) == []


# --- blogtool.toml ---------------------------------------------------------------------------------

TOML_VALUE = st.one_of(
    TEXT.map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
             .replace("\r", "\\r") + '"'),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False).map(repr).filter(lambda s: "e" not in s or "." in s),
    st.sampled_from(["true", "false", "[]", '["a", 1]', "{}", '{ x = 1 }', "inf", "nan",
                     "2026-11-26T08:00:00+01:00", "08:00:00"]),
)  # fmt: skip
SECTIONS = {
    "site": ["title", "base_url", "language", "timezone", "author", "x"],
    "tips": ["title", "slug", "weekday", "time"],
    "build": ["output", "feed_limit", "per_page"],
    "check": ["lix_limit"],
    "newsletter": ["from", "reply_to", "subject", "unsubscribe_url", "state", "outbox", "rate",
                   "send_time", "unsubscribe_mailto", "include_posts"],
    "smtp": ["host", "port", "security", "user", "timeout", "max_attempts", "retry_delay"],
    "run": ["log_file"],
    "services.naturkartan": ["name", "url", "description", "image", "image_alt", "app_store"],
}  # fmt: skip


@given(
    section=st.sampled_from(sorted(SECTIONS)),
    data=st.data(),
    value=TOML_VALUE,
)
def test_any_config_value_is_accepted_or_one_clear_error(tmp_path_factory, section, data, value):
    base = tmp_path_factory.mktemp("fuzz-config")
    site = _fresh_site(base)
    key = data.draw(st.sampled_from(SECTIONS[section]))
    write(site / "blogtool.toml", MINIMAL_CONFIG + f"\n[{section}]\n{key} = {value}\n")
    before = _outside(base)
    run = Run(site)
    for command in ("check", "config", "build"):
        _clean(run(command))
    assert _outside(base) == before
    assert _half_written(site) == []


@given(text=TEXT)
def test_any_config_text_is_accepted_or_one_clear_error(tmp_path_factory, text):
    base = tmp_path_factory.mktemp("fuzz-toml")
    site = _fresh_site(base)
    (site / "blogtool.toml").write_text(MINIMAL_CONFIG + text, "utf-8", errors="surrogatepass")
    _clean(Run(site)("check"))


# --- CSV rows ------------------------------------------------------------------------------------

CSV_CELL = st.one_of(
    TEXT,
    st.sampled_from(["a@example.se", "b@exämple.se", "bad@", "@x.se", '"q@example.se', "x" * 300]),
)


@given(rows=st.lists(st.lists(CSV_CELL, min_size=0, max_size=3), max_size=8))
def test_any_csv_imports_or_reports_each_row(tmp_path_factory, rows):
    base = tmp_path_factory.mktemp("fuzz-csv")
    site = _fresh_site(base)
    lines = ["email,name", *(",".join(row) for row in rows)]
    path = site / "lista.csv"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    result = Run(site)("subscribers", "import", str(path))
    _clean(result)
    listed = Run(site)("subscribers", "list", "--json")
    _clean(listed)


# --- subscriber names and addresses -----------------------------------------------------------------


@given(name=TEXT, local=st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True))
def test_a_message_has_its_recipient_and_nobody_else(name, local):
    from blogtool.newsletter.compose import to_field

    address = f"{local}@example.se"
    header = to_field(name, address)
    raw = (header + "Subject: x\r\n\r\nbody\r\n").encode("utf-8", "surrogatepass")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in message["To"].addresses] == [address]
    for header_name in ("Cc", "Bcc", "From", "Reply-To"):
        assert message[header_name] is None
    for line in header.split("\r\n")[:-1]:
        assert "\r" not in line and "\n" not in line and len(line) <= 998


@given(address=TEXT, name=TEXT)
def test_adding_any_subscriber_succeeds_or_fails_cleanly(tmp_path_factory, address, name):
    from blogtool import store
    from blogtool.subscribers import people as subscribers

    base = tmp_path_factory.mktemp("fuzz-sub")
    db = store.connect(base / "state.db")
    try:
        outcome, subscriber = subscribers.add(db, address, name, NOW, "fuzz")
        assert subscriber is not None and outcome in ("added", "exists")
        assert "\r" not in subscriber.name and "\n" not in subscriber.name
    except BlogtoolError as exc:
        assert str(exc)
    finally:
        db.close()


# --- the HTTP endpoint -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    from blogtool.web.app import make_app

    site = _fresh_site(tmp_path_factory.mktemp("fuzz-web"))
    return make_app(load_config(site), b"a-secret-for-fuzzing-only-0123", lambda: NOW)


@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "get", ""]),
    path=st.one_of(st.just("/avregistrera"), TEXT.map(lambda s: "/" + s)),
    query=st.one_of(TEXT, st.just("t=1.AAAAAAAAAAAAAAAAAAAAAAAA"), TEXT.map(lambda s: "t=" + s)),
    length=st.one_of(st.none(), st.integers(-5, 10**6).map(str), TEXT),
    body=st.binary(max_size=300),
)
def test_the_endpoint_never_fails_with_a_server_error(web_app, method, path, query, length, body):
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, object] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path.encode("utf-8", "surrogatepass").decode("latin-1"),
        "QUERY_STRING": query.encode("utf-8", "surrogatepass").decode("latin-1"),
        "wsgi.input": io.BytesIO(body),
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)
        assert all("\n" not in v and "\r" not in v for _, v in headers)

    chunks = b"".join(web_app(environ, start_response))
    code = int(statuses[0].split()[0])
    assert 200 <= code < 500
    if method == "HEAD":
        assert chunks == b""


# --- command-line arguments ------------------------------------------------------------------------

ARGUMENT = st.one_of(
    TEXT,
    st.sampled_from(["2026-02-30", "2027-03-28 02:30", "9999-12-31", "-1", "--", "now", "", " "]),
)


@given(
    title=ARGUMENT,
    when=ARGUMENT,
    since=ARGUMENT,
    pinned=ARGUMENT.filter(lambda s: "\x00" not in s),  # no environment can hold a NUL
)
def test_any_command_line_argument_is_accepted_or_refused_cleanly(
    tmp_path_factory, title, when, since, pinned
):
    base = tmp_path_factory.mktemp("fuzz-args")
    site = _fresh_site(base)
    run = Run(site)
    before = _outside(base)
    result = run("new", "post", title)
    _clean(result)
    created = sorted((site / "posts").glob("*.md"))
    if created:
        _clean(run("schedule", str(created[0]), "--at", when, "--force"))
    _clean(run("new", "tip", title, "--service", "naturkartan", "--date", when))
    _clean(run("newsletter", "build", "--since", since))
    _clean(run("subscribers", "add", f"{title}@example.se", "--name", when))
    from click.testing import CliRunner

    from blogtool.cli import cli

    # BLOGTOOL_NOW as anyone might set it.
    pinned_run = CliRunner().invoke(
        cli, ["--site", str(site), "status"], env={"BLOGTOOL_NOW": pinned}
    )
    assert not pinned_run.exception or isinstance(pinned_run.exception, SystemExit), pinned_run
    _clean(pinned_run)
    assert _outside(base) == before
    assert _half_written(site) == []


# --- imported HTML ----------------------------------------------------------------------------------

SCRIPT_VECTORS = st.sampled_from(
    ["<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;",
     "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">x</a>',
     '<a href="&#106;avascript:alert(1)">x</a>', "<a href=' java\tscript:alert(1)'>x</a>",
     '<iframe src="javascript:alert(1)"></iframe>', "<svg onload=alert(1)>", '<p onclick="x">y</p>',
     "&lt;img src=x onerror=alert(1)&gt;", "<code>&lt;script&gt;</code>",
     "<pre>&lt;b onclick=x&gt;</pre>", "[embed]javascript:alert(1)[/embed]",
     '[caption]<img src="javascript:alert(1)" onerror=x alt="a">text[/caption]',
     "<style>@import 'x';</style>", "<!-- <script>alert(1)</script> -->",
     "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
     "[a](javascript:alert(1))", "![a](javascript:alert(1))", "&lt;javascript:alert(1)&gt;",
     "[x]: javascript:alert(1)", '<div style="background:url(javascript:alert(1))">z</div>',
     "<form action=javascript:alert(1)><button>b</button></form>", "<object data=x></object>",
     "&amp;lt;script&amp;gt;", "\n\n    <script>in code</script>\n\n", "`<script>`", "<p>", "</p>",
     "<h1>", "</h1>", "<ul><li>", "</li></ul>", "<a href='https://ok.example/'>", "</a>", "*", "_"]
)  # fmt: skip
IMPORTED_HTML = st.lists(st.one_of(SCRIPT_VECTORS, TEXT), max_size=10).map("".join)


@given(html=IMPORTED_HTML)
def test_imported_html_never_runs_script(sample_site, html):
    """Whatever another site's HTML holds, what blogtool makes of it runs no script, in the
    Markdown written (as ``check`` reads it) and in the page made from that."""
    from blogtool.content import markdown
    from blogtool.importer.convert import convert
    from blogtool.importer.sources import Entry

    entry = Entry("post", "T", "t", "publish", None, "", [], html, "", "g", "https://g.example/")
    converted = convert(entry, load_config(sample_site), {}, {})
    assert markdown.hazards(converted.body) == ()
    tags = _Tags()
    tags.feed(markdown.to_html(converted.body))
    tags.close()
    assert not {"script", "iframe", "object", "embed", "style"} & {t for t, _ in tags.seen}
    for _tag, attrs in tags.seen:
        for name, value in attrs:
            assert not name.startswith("on")
            assert not re.sub(r"[\x00-\x20]", "", value or "").lower().startswith("javascript:")


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes, character references decoded (as a
    browser reads them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))

    handle_startendtag = handle_starttag


# --- aliases --------------------------------------------------------------------------------------

ALIAS_PART = st.one_of(
    st.sampled_from([".", "..", "", "%2e", "%2F", ";", "{", "}", "#", "?", "$", "\\", " ", "\t",
                     "index.html", "feed.xml", "tagg", "~", "ö", "%C3%B6", "a;b", "x=1"]),
    st.text(max_size=6),
)  # fmt: skip
ALIASES = st.lists(ALIAS_PART, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))


@given(alias=ALIASES)
def test_an_alias_is_refused_or_a_clean_path_nginx_can_map(sample_site, alias):
    """An accepted alias has no empty, '.' or '..' part and nothing that ends, comments or
    escapes a line of nginx's map file; so its redirects.map line reads 'key value;'."""
    from blogtool.content.fields import Context, Invalid, paths

    try:
        (accepted,) = paths([alias], Context(load_config(sample_site), Kind.POST))
    except Invalid:
        return
    parts = accepted.split("/")[1:]
    assert all(p not in (".", "..") for p in parts) and "" not in parts[:-1]
    assert re.fullmatch(r"/[^\s;{}#?$\\\"'<>`]*", accepted)
    assert not re.search(r"%2[ef]", accepted, re.I)


# --- time linear in the text ------------------------------------------------------------------------

# Pieces of Markdown and HTML whose repetition made Python-Markdown or Python's HTML parser take
# time growing with the square of the text (unclosed brackets, parentheses, quotes, tags), and
# the emphasis and code that it rebuilds a paragraph for.
PATHOLOGICAL = st.sampled_from(
    ["[", "](", "]", "(", ")", '"', "'", "![", "*a", "_a", "*_", "`a", "<div", "<a b", "a<b ",
     "&#", "[a][", "[a](", "![a](b", "<!--", "\n", "\n\n", "- ", "> ", "|", "x"]
)  # fmt: skip
MAX_KB = 1024 if os.environ.get("BLOGTOOL_SOAK") == "1" else 64  # make soak: up to 1 MB
BUDGET_PER_KB = 0.05  # seconds; what a text has measured is about 1-9 ms a KB


@given(
    unit=st.lists(PATHOLOGICAL, min_size=1, max_size=6).map("".join),
    kb=st.integers(1, MAX_KB),
)
@example(unit="- \n\n\n(\n", kb=64)  # thousands of headings "(": their ids (make soak found it)
def test_checking_any_text_takes_time_linear_in_it(sample_site, unit, kb):
    """A text of any pattern, at any size up to 1 MB, is read (or refused, over the limits)
    in a time budget per kilobyte: a stalled check would hold the site's lock."""
    import time

    body = (unit * (kb * 1024 // len(unit) + 1))[: kb * 1024]
    raw = f"---\ntitle: Lång\ndate: 2026-11-02 10:00\nsummary: Text.\n---\n{body}".encode()
    started = time.process_time()  # (this process's own time: a busy machine does not count)
    parse_item(raw, Path("posts/lang.md"), Kind.POST, load_config(sample_site))
    took = time.process_time() - started
    assert took <= 1.0 + BUDGET_PER_KB * kb, f"{kb} KB of {unit!r}: {took:.2f} s"
