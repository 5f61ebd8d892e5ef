"""Moving in: a hand-written WordPress export in Swedish (with its images on a local HTTP
server), feeds from three different generators, and every way an import must refuse."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import frontmatter
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blogtool.content.markdown import to_html

from .conftest import Run, snapshot, write

HERE = Path(__file__).resolve().parent / "import"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000200ee0a8e0b0000000049454e44ae426082"
)


def _jpeg(colour: str) -> bytes:
    """A real photo-sized JPEG: the imported images are made into web pictures on build."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 420), colour).save(out, "JPEG", quality=70)
    return out.getvalue()


JPEG = _jpeg("steelblue")


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # (a line on stderr for each request otherwise)


@contextlib.contextmanager
def serving(root: Path) -> Iterator[str]:
    """The files below ``root`` over HTTP on 127.0.0.1, at the address given, until the end."""
    handler = functools.partial(_QuietFiles, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def uploads_server(tmp_path):
    """The old site's images over HTTP on 127.0.0.1 (trummen.png is gone: a 404)."""
    root = tmp_path / "gamla-sajten"
    write(root / "wp-content/uploads/2019/05/stadshuset.jpg", JPEG)
    write(root / "wp-content/uploads/2021/06/helgasjon.jpg", _jpeg("seagreen"))
    with serving(root) as base:
        yield base


@pytest.fixture
def export(tmp_path, uploads_server) -> Path:
    path = tmp_path / "export.xml"
    path.write_text(
        (HERE / "export.xml").read_text("utf-8").replace("{BASE}", uploads_server), "utf-8"
    )
    return path


def imported(run: Run, export: Path, *extra: str):
    return run(
        "import", "wordpress", str(export), "--pages", "sidor",
        "--split-tips", "veckans torsdagstips", *extra,
    )  # fmt: skip


def test_a_wordpress_export_comes_in_whole(run, sample_site, export):
    result = imported(run, export)
    assert result.exit_code == 0, result.stderr
    assert (
        "4 posts, 2 drafts, 1 page, 1 tip, 2 images (1 failed), 4 redirects, 5 problems; "
        "skipped: 1 evenemang" in result.stdout
    )
    assert "files: 8 new, 0 updated, 0 unchanged, 0 skipped (edited locally)" in result.stdout
    problems = result.stderr
    assert "evenemang" in problems and "--post-type evenemang" in problems
    assert "109: (no title): no title; skipped" in problems
    assert "unknown shortcode [contact-form-7] left as it was" in problems
    assert "trummen.png could not be fetched (HTTP 404); its link is kept" in problems
    assert "Kalle" not in (sample_site / "posts/2019-05-02-valkommen-till-vaxjo.md").read_text(
        "utf-8"
    )

    # Three posts' front matter.
    first = frontmatter.load(sample_site / "posts/2019-05-02-valkommen-till-vaxjo.md")
    assert first.metadata["title"] == "Välkommen till Växjö"
    assert first.metadata["date"] == "2019-05-02T09:30+02:00"  # the GMT date, in Stockholm
    assert first.metadata["author"] == "Kommundirektören"  # the name shown, not the login
    assert first.metadata["tags"] == ["Miljö & klimat", "Växjö"]
    assert first.metadata["summary"] == "Det här är den första texten i bloggen, och den är lång."
    assert first.metadata["aliases"] == ["/2019/05/02/valkommen-till-vaxjo/"]
    assert first.metadata["image"] == "/static/bilder/2019/05/stadshuset.jpg"
    assert first.metadata["image_alt"] == "Stadshuset i vårsol"
    assert "draft" not in first.metadata
    draft = frontmatter.load(sample_site / "posts/2026-10-20-budgeten-i-korthet.md")
    assert draft.metadata["draft"] is True and draft.metadata["date"] == "2026-10-20T14:00+02:00"
    scheduled = frontmatter.load(sample_site / "posts/2027-01-07-nasta-ar-i-stadshuset.md")
    assert (
        scheduled.metadata["date"] == "2027-01-07T10:00+01:00" and "draft" not in scheduled.metadata
    )
    assert scheduled.metadata["summary"] == "Planerna för nästa år, i korthet."
    assert (
        frontmatter.load(sample_site / "posts/2020-03-01-intern-planering.md").metadata["draft"]
        is True
    )
    assert (sample_site / "sidor/2019-04-01-om-bloggen.md").is_file()

    # The Markdown of the post with every construct, and the HTML it renders back to.
    body = first.content
    assert "## Vad vi gör" in body and "- Vi lyssnar" in body
    assert (
        "[informerar](https://www.vaxjo.se/)" in body and "**första**" in body and "*lång*" in body
    )
    assert "> Ett citat från kommunfullmäktige." in body
    assert "| År | Invånare |" in body and "| 2019 | 94 000 |" in body
    assert '<img src="../static/bilder/2019/05/stadshuset.jpg" alt="Stadshuset i vårsol">' in body
    html = to_html(body)
    for tag in (
        "<h2",
        "<ul>",
        "<strong>",
        "<em>",
        "<blockquote>",
        "<table>",
        "<th>",
        "<figure>",
        "<figcaption>Stadshuset en morgon i maj.</figcaption>",
    ):
        assert tag in html, tag
    assert (sample_site / "static/bilder/2019/05/stadshuset.jpg").read_bytes() == JPEG
    gallery = (sample_site / "posts/2021-06-10-sjoarna-runt-stan.md").read_text("utf-8")
    assert "![Helgasjön en sommarkväll](../static/bilder/2021/06/helgasjon.jpg)" in gallery
    assert "<https://vimeo.com/123456>" in gallery  # [embed] and a bare video URL: links
    assert "<https://www.youtube.com/watch?v=abc123XYZ>" in gallery
    assert '<a href="https://vimeo.com/123456">' in to_html(frontmatter.loads(gallery).content)

    # The Thursday tip split off the post that ended with it.
    tip = frontmatter.load(sample_site / "tips/2022-11-03-hitta-ut-i-naturen.md")
    assert tip.metadata["title"] == "Hitta ut i naturen"
    assert (
        tip.metadata["date"] == "2022-11-03T08:00+01:00"
        and tip.metadata["service"] == "naturkartan"
    )
    post = (sample_site / "posts/2022-11-01-en-vecka-i-november.md").read_text("utf-8")
    assert "torsdagstips" not in post.lower() and "budgetdialog" in post

    # check and build pass, and the old addresses redirect.
    check = run("check")
    assert check.exit_code == 0, check.stderr
    # The picture that could not be fetched is still on the old site: check says so.
    assert re.search(
        r"2021-06-10-sjoarna-runt-stan\.md:\d+: warning: a picture on another host \(127\.0\.0\.1\)",
        check.stderr,
    ), check.stderr
    build = run("build")
    assert build.exit_code == 0, build.stderr
    redirect = (sample_site / "public/2019/05/02/valkommen-till-vaxjo/index.html").read_text(
        "utf-8"
    )
    assert 'http-equiv="refresh"' in redirect and 'content="noindex"' in redirect
    assert 'href="https://blogg.vaxjo.example/valkommen-till-vaxjo/"' in redirect
    mapped = (sample_site / "public/redirects.map").read_text("utf-8")
    assert "/2019/05/02/valkommen-till-vaxjo/ /valkommen-till-vaxjo/;" in mapped
    page = (sample_site / "public/valkommen-till-vaxjo/index.html").read_text("utf-8")
    # The imported picture is made into web pictures like any other; the original stays too.
    made = re.search(r'<img src="/(bilder/[0-9a-f]+/stadshuset-640\.jpg)"', page)
    assert made and (sample_site / "public" / made.group(1)).is_file()
    assert (sample_site / "public/static/bilder/2019/05/stadshuset.jpg").is_file()

    # A second import changes nothing.
    before = snapshot(sample_site)
    again = imported(run, export)
    assert "files: 0 new, 0 updated, 8 unchanged, 0 skipped (edited locally)" in again.stdout
    assert snapshot(sample_site) == before


def test_a_file_edited_after_import_is_never_overwritten(run, sample_site, export):
    assert imported(run, export).exit_code == 0
    path = sample_site / "posts/2021-06-10-sjoarna-runt-stan.md"
    path.write_text(path.read_text("utf-8") + "\nEn rad skriven här.\n", "utf-8")
    edited = path.read_bytes()
    again = imported(run, export)
    assert "skipped (edited locally): posts/2021-06-10-sjoarna-runt-stan.md" in again.stdout
    assert "1 skipped (edited locally)" in again.stdout
    assert path.read_bytes() == edited


def test_dry_run_writes_nothing(run, sample_site, export):
    before = snapshot(sample_site)
    result = imported(run, export, "--dry-run")
    assert result.exit_code == 0
    assert "new: posts/2019-05-02-valkommen-till-vaxjo.md" in result.stdout
    assert "new: tips/2022-11-03-hitta-ut-i-naturen.md" in result.stdout
    assert "dry run: nothing was written" in result.stdout
    assert snapshot(sample_site) == before


def test_images_come_from_the_uploads_folder_when_given(run, sample_site, export, tmp_path):
    uploads = tmp_path / "backup/wp-content/uploads"
    write(uploads / "2021/06/trummen.png", PNG)
    result = imported(run, export, "--uploads", str(uploads))
    assert "3 images (0 failed)" in result.stdout
    assert (sample_site / "static/bilder/2021/06/trummen.png").read_bytes() == PNG


# --- feeds ----------------------------------------------------------------------------------------


def _feedgen(kind: str) -> bytes:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id("https://gammal.example.se/")
    fg.title("Gamla bloggen")
    fg.link(href="https://gammal.example.se/", rel="alternate")
    fg.description("Gamla inlägg")
    fg.language("sv")
    for n, (title, day) in enumerate((("Våren i parken", 3), ("Sommarlov på biblioteket", 20))):
        fe = fg.add_entry()
        fe.id(f"https://gammal.example.se/{n}")
        fe.title(title)
        fe.link(href=f"https://gammal.example.se/2025/0{n + 4}/{n}/")
        fe.author({"name": "Kommundirektören", "email": "direktor@example.se"})
        fe.published(dt.datetime(2025, 4 + n, day, 8, 0, tzinfo=dt.UTC))
        fe.category(term="Natur")
        # feedgen: the summary first (in Atom, description() after content() replaces it).
        fe.description(f"{title} i korthet.")
        fe.content(
            f"<p>{title}: en <strong>hel</strong> text.</p>",
            type="CDATA" if kind == "rss" else "html",
        )
    return fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)


RSS1 = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel rdf:about="https://gammal.example.se/">
    <title>Gamla bloggen</title><link>https://gammal.example.se/</link><description>RSS 1.0</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://gammal.example.se/host/"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://gammal.example.se/host/">
    <title>Hösten i Växjö</title><link>https://gammal.example.se/host/</link>
    <dc:date>2024-10-01T09:00:00+02:00</dc:date><dc:creator>Kommundirektören</dc:creator>
    <dc:subject>Årstider</dc:subject>
    <content:encoded><![CDATA[<p>Löven faller i <em>Linnéparken</em>.</p>]]></content:encoded>
  </item>
</rdf:RDF>
"""


@pytest.mark.parametrize("generator", ["feedgen-rss", "feedgen-atom", "rss1"])
def test_feeds_from_three_generators(run, sample_site, tmp_path, generator):
    source = tmp_path / "feed.xml"
    if generator == "rss1":
        source.write_text(RSS1, "utf-8")
        expected = {
            "posts/2024-10-01-hosten-i-vaxjo.md": ("Hösten i Växjö", "*Linnéparken*", ["Årstider"])
        }
    else:
        source.write_bytes(_feedgen(generator.split("-")[1]))
        expected = {
            "posts/2025-04-03-varen-i-parken.md": ("Våren i parken", "en **hel** text", ["Natur"]),
            "posts/2025-05-20-sommarlov-pa-biblioteket.md": (
                "Sommarlov på biblioteket",
                "en **hel** text",
                ["Natur"],
            ),
        }
    result = run("import", "feed", str(source))
    assert result.exit_code == 0, result.stderr
    for path, (title, text, tags) in expected.items():
        post = frontmatter.load(sample_site / path)
        assert post.metadata["title"] == title and text in post.content
        assert post.metadata["tags"] == tags and post.metadata["author"].startswith(
            "Kommundirektören"
        )
    assert run("check").exit_code == 0
    again = run("import", "feed", str(source))
    assert f"0 new, 0 updated, {len(expected)} unchanged" in again.stdout


def test_many_images_of_one_name_are_numbered_and_come_in_again_unchanged(
    run, sample_site, tmp_path
):
    """A feed whose pictures share one file name (a folder each on the old site, as a CDN
    has them) brings them in as bild.png, bild-2.png, ... bild-120.png: the names grow no
    longer (they once did, -2-3-4..., until a name was too long to write), and a second
    import finds them all where the first put them."""
    count = 120
    root = tmp_path / "cdn"
    for n in range(count):
        write(root / f"m{n}" / "bild.png", PNG)
    source = tmp_path / "feed.xml"
    with serving(root) as base:
        pictures = (f'<p><img src="{base}m{n}/bild.png" alt="Bild {n}"></p>' for n in range(count))
        source.write_text(_feed("".join(pictures)), "utf-8")
        first = run("import", "feed", str(source))
        assert first.exit_code == 0, first.stderr
        again = run("import", "feed", str(source))
        assert again.exit_code == 0, again.stderr
    assert "0 new, 0 updated, 1 unchanged" in again.stdout
    folder = sample_site / "static/bilder/importerat"
    names = ["bild.png", *(f"bild-{n}.png" for n in range(2, count + 1))]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    (post,) = (sample_site / "posts").glob("*farligt*.md")
    shown = re.findall(r"bild(?:-\d+)?\.png", post.read_text("utf-8"))
    assert shown == names  # in the order the feed has them


def test_a_post_that_is_only_an_address_comes_in_without_a_warning(sample_site, tmp_path):
    """A link post (its whole text one address) comes in as that address. As a real process,
    with Python's own warning filters (which show this one): Beautiful Soup's six lines saying
    the HTML "looks more like a URL" do not reach the person importing."""
    import os
    import subprocess

    from .processes import blogtool

    source = tmp_path / "feed.xml"
    source.write_text(
        RSS1.replace(
            "<![CDATA[<p>Löven faller i <em>Linnéparken</em>.</p>]]>",
            "https://www.vaxjo.se/naturkartan",
        ),
        "utf-8",
    )
    done = subprocess.run(
        blogtool("--site", str(sample_site), "import", "feed", str(source)),
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "MarkupResemblesLocatorWarning" not in done.stderr, done.stderr
    assert "looks more like" not in done.stderr, done.stderr
    post = frontmatter.load(sample_site / "posts/2024-10-01-hosten-i-vaxjo.md")
    assert post.content.strip() == "https://www.vaxjo.se/naturkartan"


# --- refusals --------------------------------------------------------------------------------------

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss><channel><wp:wxr_version xmlns:wp="http://wordpress.org/export/1.2/">1.2</wp:wxr_version><title>&lol3;</title></channel></rss>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss><channel><wp:wxr_version xmlns:wp="http://wordpress.org/export/1.2/">1.2</wp:wxr_version><title>&x;</title></channel></rss>
"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("inte xml alls", "not well-formed XML"),
        ("<rss><channel><title>En vanlig RSS</title></channel></rss>", "not a WordPress export"),
        (BOMB, "uses XML entities"),
        (EXTERNAL, "uses XML entities"),
        ("TRUNCATE", "not well-formed XML (truncated?)"),
    ],
    ids=["not-xml", "not-wxr", "entity-bomb", "external-entity", "truncated"],
)
def test_a_bad_export_is_one_line_and_writes_nothing(run, sample_site, tmp_path, content, message):
    path = tmp_path / "bad.xml"
    if content == "TRUNCATE":
        content = (HERE / "export.xml").read_text("utf-8")[:5000]
    path.write_text(content, "utf-8")
    before = snapshot(sample_site)
    result = run("import", "wordpress", str(path))
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "root:" not in result.output  # /etc/passwd was never read
    assert snapshot(sample_site) == before


def test_a_feed_url_that_is_missing_or_html_or_empty_is_refused(
    run, sample_site, uploads_server, tmp_path
):
    before = snapshot(sample_site)
    missing = run("import", "feed", uploads_server + "feed/")
    assert missing.exit_code == 1 and "HTTP 404" in missing.stderr
    page = tmp_path / "sida.html"
    page.write_text("<!DOCTYPE html><html><body><p>Hej</p></body></html>", "utf-8")
    html = run("import", "feed", str(page))
    assert html.exit_code == 1 and "not an RSS or Atom feed" in html.stderr
    empty = tmp_path / "tom.xml"
    empty.write_text('<rss version="2.0"><channel><title>Tom</title></channel></rss>', "utf-8")
    result = run("import", "feed", str(empty))
    assert result.exit_code == 1 and "the feed has no items" in result.stderr
    assert snapshot(sample_site) == before


def test_feed_items_without_a_date_or_title_are_reported_and_the_rest_go_on(
    run, sample_site, tmp_path
):
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<rss version="2.0"><channel><title>T</title><link>https://g.example/</link><description>d</description>'
        "<item><title>Utan datum</title><link>https://g.example/a</link><description>A</description></item>"
        "<item><link>https://g.example/b</link><description>Utan rubrik</description>"
        "<pubDate>Mon, 06 Jan 2025 08:00:00 +0000</pubDate></item>"
        "<item><title>Med allt</title><link>https://g.example/c</link><description>C</description>"
        "<pubDate>Tue, 07 Jan 2025 08:00:00 +0000</pubDate></item></channel></rss>",
        "utf-8",
    )
    result = run("import", "feed", str(feed))
    assert result.exit_code == 0
    assert "Utan datum: no date; skipped" in result.stderr and "no title; skipped" in result.stderr
    assert (sample_site / "posts/2025-01-07-med-allt.md").is_file()


# --- imported HTML is another site's: nothing in it runs ------------------------------------------

HOSTILE = (
    "<p>Så här skriver man &lt;script&gt;alert(1)&lt;/script&gt; i en text.</p>"
    "<script>alert(2)</script>"
    '<iframe src="javascript:alert(3)"></iframe>'
    '<p><a href="javascript:alert(4)">klicka</a> och <a href=" JaVa&#09;Script:alert(5)">här</a></p>'
    '<p><img src="prick.jpg" onerror="alert(6)" alt="bild"> <span onclick="alert(7)">text</span></p>'
    "<p>Kod: <code>&lt;b onclick=x&gt;</code></p>"
    "<pre>&lt;script&gt;visas som kod&lt;/script&gt;</pre>"
    "<p>Tom &amp; Jerry, 3 &lt; 4.</p>"
)


def _wxr(html: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">'
        "<channel><title>Gamla</title><link>https://gamla.example/</link><wp:wxr_version>1.2"
        "</wp:wxr_version><wp:base_site_url>https://gamla.example/</wp:base_site_url><item>"
        "<title>Farligt</title><link>https://gamla.example/2025/01/07/farligt/</link>"
        "<pubDate>Tue, 07 Jan 2025 08:00:00 +0000</pubDate><dc:creator>a</dc:creator>"
        '<guid isPermaLink="false">https://gamla.example/?p=9</guid><description></description>'
        f"<content:encoded><![CDATA[{html}]]></content:encoded>"
        "<excerpt:encoded><![CDATA[Sammanfattning med &lt;script&gt;]]></excerpt:encoded>"
        "<wp:post_id>9</wp:post_id><wp:post_date>2025-01-07 09:00:00</wp:post_date>"
        "<wp:post_date_gmt>2025-01-07 08:00:00</wp:post_date_gmt><wp:post_name>farligt</wp:post_name>"
        "<wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item></channel></rss>"
    )


def _feed(html: str) -> str:
    from xml.sax.saxutils import escape

    return (
        '<rss version="2.0"><channel><title>T</title><link>https://gamla.example/</link>'
        "<description>d</description><item><title>Farligt</title>"
        "<link>https://gamla.example/farligt</link>"
        f"<description>{escape(html)}</description>"
        "<pubDate>Tue, 07 Jan 2025 08:00:00 +0000</pubDate></item></channel></rss>"
    )


def _runs_nothing(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered
    assert "javascript:" not in re.sub(r"\s", "", lowered)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered)


@pytest.mark.parametrize("source", ["wordpress", "feed"])
def test_imported_html_runs_no_script_and_text_that_shows_code_stays_text(
    run, sample_site, tmp_path, source
):
    write(sample_site / "media/prick.jpg", JPEG)
    path = tmp_path / "in.xml"
    path.write_text((_wxr if source == "wordpress" else _feed)(HOSTILE), "utf-8")
    result = run("import", source, str(path))
    assert result.exit_code == 0, result.output
    (post,) = (sample_site / "posts").glob("*farligt.md")
    body = frontmatter.loads(post.read_text("utf-8")).content
    html = to_html(body)
    _runs_nothing(html)
    # What was text stays text: the reader sees '<script>' written, and the code as code.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<code>&lt;b onclick=x&gt;</code>" in html
    assert "&lt;script&gt;visas som kod&lt;/script&gt;" in html
    assert "Tom &amp; Jerry, 3 &lt; 4." in html
    check = run("check")  # the imported post gives no warning about script: it has none
    assert "run code" not in check.stderr and "javascript:" not in check.stderr
    assert run("build").exit_code == 0
    page = next((sample_site / "public").glob("farligt/index.html")).read_text("utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    _runs_nothing(article)


def test_the_owners_own_script_is_published_and_check_warns_about_it(run, sample_site):
    write(
        sample_site / "posts/2026-11-02-egen.md",
        "---\ntitle: Egen kod\ndate: 2026-11-02 10:00\nsummary: Med kod.\n---\n\n"
        'En <span onclick="go()">knapp</span> och [länk](javascript:go()).\n\n'
        "<script>go()</script>\n\n    <script>i ett kodblock</script>\n",
    )
    check = run("check")
    warnings = [line for line in check.stderr.splitlines() if "2026-11-02-egen.md" in line]
    assert any(":7: warning: an event handler (onclick=)" in w for w in warnings)
    assert any(":7: warning: a javascript: address (href=)" in w for w in warnings)
    assert any(":9: warning: a <script> element" in w for w in warnings)
    assert len([w for w in warnings if "run" in w or "javascript" in w]) == 3  # not the code block
    assert run("build").exit_code == 0
    page = (sample_site / "public/egen-kod/index.html").read_text("utf-8")
    assert "<script>go()</script>" in page


# --- exports as WordPress.com and self-hosted WordPress write them --------------------------------


def _paragraphs(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", p).strip() for p in re.findall(r"<p>(.*?)</p>", html, re.S)]


def test_a_wordpress_com_export_keeps_paragraphs_and_splits_its_tip(run, sample_site, tmp_path):
    """Blank-line paragraphs, an <ol>, a [caption] around a files.wordpress.com picture with
    ?w=300, and a closing "Så till veckans torsdagstips: …" paragraph, as WordPress.com
    exports a classic post; the media backup in its YYYY/MM/name layout."""
    media = tmp_path / "media-backup"
    write(media / "2021/10/sjon.jpg", JPEG)
    result = run(
        "import", "wordpress", str(HERE / "wpcom.xml"), "--uploads", str(media),
        "--split-tips", "veckans torsdagstips",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "3 posts, 0 drafts, 0 pages, 1 tip, 1 image (0 failed)" in result.stdout
    # The post that only mentions last week's tip is said to, by name, and left whole.
    assert (
        "post 140: Biblioteket svarar: mentions 'veckans torsdagstips', but no closing "
        "paragraph or heading begins with it; no tip split off" in result.stderr
    )

    post = frontmatter.load(sample_site / "posts/2021-10-26-hostlov-i-vaxjo.md")
    assert post.metadata["author"] == "Monica"  # the display name, not the login
    assert post.metadata["summary"] == (
        "Nu är det höstlov och många av er är lediga. Här är några saker vi har gjort i veckan."
    )
    html = to_html(post.content)
    assert _paragraphs(html) == [
        "Nu är det höstlov och många av er är lediga. Här är några saker vi har gjort i veckan.",
        "I måndags invigde vi den nya lekplatsen i Teleborg. Barnen hade redan hittat dit "
        "innan bandet var klippt.\nTack till alla som kom!",
        "Mer om höstlovet finns på kommunens webbplats.",
    ]
    assert "klippt.<br />\nTack" in html or "klippt.<br>\nTack" in html
    assert html.count("<li>") == 3 and "<ol>" in html
    assert '<img src="../static/bilder/2021/10/sjon.jpg" alt="Helgasjön i oktober">' in html
    assert "<figcaption>Helgasjön en oktobermorgon.</figcaption>" in html
    assert "torsdagstips" not in post.content.lower() and "wordpress.com" not in post.content
    assert "Kalle" not in post.content  # comments are never imported
    assert (sample_site / "static/bilder/2021/10/sjon.jpg").read_bytes() == JPEG

    tip = frontmatter.load(sample_site / "tips/2021-10-28-vaxjo-naturkarta.md")
    assert tip.metadata["title"] == "Växjö Naturkarta"
    assert tip.metadata["date"] == "2021-10-28T08:00+02:00"  # that week's Thursday, 08:00
    assert tip.metadata["service"] == "naturkartan"
    assert "[Växjö Naturkarta](https://naturkartan.se/sv/vaxjo)" in tip.content
    assert "Kronobergs slottsruin" in tip.content

    # A block-editor post: in paragraphs already (WordPress adds no <br> to it: a newline in
    # its source is a space), and its <figure> with a caption is a figure with the copy.
    winter = frontmatter.load(sample_site / "posts/2021-11-09-vinter-vid-sjon.md")
    assert "wordpress.com" not in winter.content and "wp:" not in winter.content
    winter_html = to_html(winter.content)
    assert "<p>Isen har lagt sig på Helgasjön.\nGå inte ut på den än.</p>" in winter_html
    assert "<li>Ta med isdubbar.</li>" in winter_html
    assert (
        '<figure>\n<img src="../static/bilder/2021/10/sjon.jpg" alt="Helgasjön i oktober">\n'
        "<figcaption>Sjön innan isen kom.</figcaption>\n</figure>" in winter_html
    )

    check = run("check")
    assert check.exit_code == 0, check.stderr
    assert "another host" not in check.stderr
    assert run("build").exit_code == 0
    page = (sample_site / "public/hostlov-i-vaxjo/index.html").read_text("utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    assert "<ol>" in article and "Tack till alla som kom!" in article
    assert "<p>Mer om höstlovet finns på kommunens webbplats.</p>" in article

    before = snapshot(sample_site)
    again = run(
        "import", "wordpress", str(HERE / "wpcom.xml"), "--uploads", str(media),
        "--split-tips", "veckans torsdagstips",
    )  # fmt: skip
    assert "files: 0 new, 0 updated, 4 unchanged" in again.stdout
    assert snapshot(sample_site) == before


def test_a_self_hosted_export_with_picture_sizes_and_shared_slugs(run, sample_site, tmp_path):
    """A -300x225 size of a picture (and a link to its full size) comes from the original in
    the backup; two posts and three drafts that share a slug each get a file of their own,
    and a second import changes nothing. Also as WordPress writes them: a title with a
    character reference, the older [caption caption=""] with a picture written from the
    site's root, a password-protected post, one in the trash, a revision and a menu item."""
    uploads = tmp_path / "wp-content/uploads"
    write(uploads / "2020/04/trummen.jpg", JPEG)  # the originals only, as a backup has them
    write(uploads / "2020/10/parken.jpg", _jpeg("gold"))
    result = run("import", "wordpress", str(HERE / "selfhosted.xml"), "--uploads", str(uploads))
    assert result.exit_code == 0, result.stderr
    assert "3 posts, 4 drafts" in result.stdout and "2 images (0 failed)" in result.stdout
    assert "skipped: 1 nav_menu_item, 1 revision, 1 trash" in result.stdout
    assert "files: 7 new, 0 updated, 0 unchanged" in result.stdout
    # WordPress's own bookkeeping is skipped without a word; the protected post is not public.
    assert "revision" not in result.stderr and "nav_menu_item" not in result.stderr
    assert "post 207: Personalfesten: protected by a password" in result.stderr
    new = sorted(line for line in result.stdout.splitlines() if line.startswith("new: "))
    assert len(set(new)) == 7
    posts = {p.name: frontmatter.load(p) for p in (sample_site / "posts").glob("2020-*.md")}
    assert sorted(posts) == [
        "2020-04-01-nyheter-i-korthet.md",
        "2020-05-01-nyheter-i-korthet-2.md",
        "2020-06-01-utkast.md",
        "2020-06-08-utkast-2.md",
        "2020-06-09-utkast-3.md",
        "2020-10-01-host-vinter.md",
        "2020-11-01-personalfesten.md",
    ]
    assert posts["2020-11-01-personalfesten.md"].metadata["draft"] is True
    assert posts["2020-05-01-nyheter-i-korthet-2.md"].content.startswith("Maj månads nyheter.")
    assert "Ett andra utkast." in posts["2020-06-08-utkast-2.md"].content
    first = posts["2020-04-01-nyheter-i-korthet.md"]
    assert first.metadata["author"] == "Kommunikationsavdelningen"
    assert "kommun.example" not in first.content  # neither the picture nor its link
    html = to_html(first.content)
    assert '<a href="../static/bilder/2020/04/trummen.jpg"><img' in html
    assert 'src="../static/bilder/2020/04/trummen.jpg"' in html
    assert (sample_site / "static/bilder/2020/04/trummen.jpg").read_bytes() == JPEG
    assert not list((sample_site / "static/bilder/2020/04").glob("*300x225*"))
    autumn = posts["2020-10-01-host-vinter.md"]
    assert autumn.metadata["title"] == "Höst – vinter"
    assert '<img src="../static/bilder/2020/10/parken.jpg" alt="Stadsparken">' in autumn.content
    assert "<figcaption>Stadsparken i oktober</figcaption>" in autumn.content

    check = run("check")
    assert check.exit_code == 0, check.stderr
    assert run("build").exit_code == 0
    assert (sample_site / "public/nyheter-i-korthet-2/index.html").is_file()
    assert not (sample_site / "public/personalfesten").exists()

    before = snapshot(sample_site)
    again = run("import", "wordpress", str(HERE / "selfhosted.xml"), "--uploads", str(uploads))
    assert "files: 0 new, 0 updated, 7 unchanged" in again.stdout, again.output
    assert snapshot(sample_site) == before
    assert run("check").exit_code == 0


def test_items_that_share_a_guid_each_keep_their_file(run, sample_site, tmp_path):
    """Two items with one guid (an export of merged sites has them) are two files, and a
    re-import matches each to its own."""
    text = (HERE / "selfhosted.xml").read_text("utf-8").replace("?p=202</guid>", "?p=201</guid>")
    path = write(tmp_path / "same-guid.xml", text)
    write(tmp_path / "2020/04/trummen.jpg", JPEG)
    write(tmp_path / "2020/10/parken.jpg", JPEG)
    first = run("import", "wordpress", str(path), "--uploads", str(tmp_path))
    assert "files: 7 new" in first.stdout, first.output
    assert (sample_site / "posts/2020-05-01-nyheter-i-korthet-2.md").is_file()
    again = run("import", "wordpress", str(path), "--uploads", str(tmp_path))
    assert "files: 0 new, 0 updated, 7 unchanged" in again.stdout, again.output


# --- paragraphs as WordPress shows them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("Ett.\n\nTvå\ntre.", "<p>Ett.</p>\n<p>Två<br>tre.</p>"),
        # Block elements are never inside a paragraph, and end the one before them.
        (
            "Före\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\nEfter",
            "<p>Före</p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<p>Efter</p>",
        ),
        # A quote's text is a paragraph; a list item's stays bare unless it has several.
        ("<blockquote>Citat</blockquote>", "<blockquote><p>Citat</p></blockquote>"),
        ("<ol><li>ett\n\ntvå</li></ol>", "<ol><li><p>ett</p>\n<p>två</p></li></ol>"),
        # <pre> is left as written, blank lines and all.
        ("Kod:\n\n<pre>a\n\n  b\n</pre>", "<p>Kod:</p>\n<pre>a\n\n  b\n</pre>"),
        # An existing <br> gets no second one; a paragraph already written is kept.
        ("a<br />\nb\n\n<p>klar</p>", "<p>a<br />b</p>\n<p>klar</p>"),
    ],
)
def test_autop_makes_the_paragraphs_wordpress_shows(stored, shown):
    from blogtool.importer.autop import autop

    assert autop(stored).strip() == shown


def test_block_editor_content_is_left_as_it_is():
    from blogtool.importer.autop import autop

    blocks = "<!-- wp:paragraph -->\n<p>Ett</p>\n<!-- /wp:paragraph -->\n\nlös text\nrad"
    assert autop(blocks) == blocks


_PIECES = st.sampled_from(
    [
        "ord", "Växjö", "&amp;", "\n", "\n\n", " ", "<strong>fet</strong>", '<a href="/x">länk</a>',
        "<ol>\n<li>ett</li>\n<li>två</li>\n</ol>", "<blockquote>citat\n\nmer</blockquote>",
        "<pre>  kod\n\n rad</pre>", "<h2>Rubrik</h2>", "<p>stycke</p>", "<!--more-->",
        '<img src="/b.jpg" alt="b">', "<div>ruta</div>", "<table><tr><td>x</td></tr></table>",
    ]
)  # fmt: skip


@settings(deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_autop_keeps_every_word_and_never_puts_a_block_in_a_paragraph(pieces):
    from blogtool.importer.autop import autop

    stored = "".join(pieces)
    shown = autop(stored)

    def words(html: str) -> list[str]:
        return re.sub(r"<[^>]*>", " ", html).split()

    assert words(shown) == words(stored)
    for pre in re.findall(r"<pre>.*?</pre>", stored, re.S):
        assert pre in shown
    assert not re.search(r"<p>\s*<(?:ol|ul|li|blockquote|pre|h2|p|div|table)\b", shown)
    assert autop(shown) == shown  # what is in paragraphs already stays as it is
