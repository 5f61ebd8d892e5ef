"""One imported entry to Markdown that renders back to the same HTML: WordPress shortcodes
first, images pointed at their copies in the site, HTML to Markdown with markdownify (it is
maintained, built on a real HTML parser, and makes ATX headings, pipe tables and block quotes
that Python-Markdown renders back as they were), a summary, and the Thursday tip split off a
post that ends with one."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

from blogtool.config import Config
from blogtool.i18n import _
from blogtool.importer.autop import autop
from blogtool.importer.sources import Entry
from blogtool.timeutil import localize

MORE = re.compile(r"<!--\s*more\s*(?:[^>]*)-->", re.I)
_CAPTION = re.compile(r"\[caption([^\]]*)\](.*?)\[/caption\]", re.S | re.I)
_GALLERY = re.compile(r"\[gallery([^\]]*)\]", re.I)
_EMBED = re.compile(r"\[embed[^\]]*\](.*?)\[/embed\]", re.S | re.I)
_VIDEO_LINE = re.compile(
    r"^\s*(?:<p>)?\s*(https?://(?:www\.)?(?:youtube\.com|youtu\.be|vimeo\.com)/\S+?)\s*(?:</p>)?\s*$",
    re.M,
)
_FIGURE = re.compile(r"<figure\b[^>]*>(.*?)</figure>", re.S | re.I)
_FIGCAPTION = re.compile(r"<figcaption\b[^>]*>(.*?)</figcaption>", re.S | re.I)
_SHORTCODE = re.compile(r"\[(/?)([a-zA-Z_][\w-]*)(\s[^\]]*)?\]")
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_ATTR = re.compile(r'(\w[\w-]*)\s*=\s*("([^"]*)"|\'([^\']*)\'|([^\s>]+))')
_MD_NO_ALT = re.compile(r"!\[\]\(([^)\s]+)\)")


# Only what Python-Markdown would read as markup is escaped: a '<' that could open a tag,
# comment or autolink, an '&' that could open a character reference, every '[' and ']' (text that
# reads "[x](javascript:...)" would be a link), backtick (it could end the code span of a
# '<code>' beside it early) and backslash (it could escape that backtick). 'A & B' and '3 < 4'
# stay as written.
_BACKSLASHED = re.compile(r"[\\`\[\]]")
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY_LIKE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# Beautiful Soup's MarkupResemblesLocatorWarning, by its words (bs4 is markdownify's, not ours)
_LOOKS_LIKE_A_URL = r"The input passed in on this line looks more like a URL"


def _markdown(html: str) -> str:
    """Markdown of (sanitised) HTML. Text is kept as text: a '<' or '&' written in it (the page
    showed ``&lt;script&gt;``) stays a character reference, which Python-Markdown shows as
    written, and never becomes a tag. Code keeps its characters: Markdown shows code as text."""
    from markdownify import MarkdownConverter

    class Converter(MarkdownConverter):  # markdownify's documented way to change its output
        def escape(self, text: str, *context: object) -> str:  # (1.0 added parent_tags)
            text = _BACKSLASHED.sub(r"\\\g<0>", text)
            text = _TAG_LIKE.sub("&lt;", _ENTITY_LIKE.sub("&amp;", text))
            return str(super().escape(text, *context))  # type: ignore[misc]  # (no stub for it)

    converter = Converter(heading_style="ATX", bullets="-", escape_underscores=False)
    with warnings.catch_warnings():
        # A post that is only an address (a link post, an embed) is what it is: Beautiful
        # Soup, which markdownify reads HTML with, would warn on stderr that it looks like a
        # URL to fetch, in six lines, for each one.
        warnings.filterwarnings("ignore", message=_LOOKS_LIKE_A_URL)
        return str(converter.convert(html))


def attrs(tag: str) -> dict[str, str]:
    return {
        m.group(1).lower(): htmllib.unescape(m.group(3) or m.group(4) or m.group(5) or "")
        for m in _ATTR.finditer(tag)
    }


def absolute(src: str, entry: Entry) -> str:
    """``src`` as an address on the old site when it was written from its root
    (``/wp-content/uploads/...``)."""
    if src.startswith("/") and not src.startswith("//") and entry.base:
        return urljoin(entry.base.rstrip("/") + "/", src)
    return src


def image_urls(entry: Entry, attachments: Mapping[str, tuple[str, str]]) -> list[str]:
    """Every image the entry shows: in its HTML, its galleries and its featured image."""
    urls = [absolute(attrs(tag).get("src", ""), entry) for tag in _IMG.findall(entry.html)]
    for m in _GALLERY.finditer(entry.html):
        ids = attrs(m.group(1)).get("ids", "")
        urls += [attachments[i.strip()][0] for i in ids.split(",") if i.strip() in attachments]
    if entry.featured:
        urls.append(entry.featured)
    return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]


_A = re.compile(r"<a\b[^>]*>", re.I)


def links(html: str) -> list[str]:
    """Every link target in the entry's HTML."""
    return [h for tag in _A.findall(html) if (h := attrs(tag).get("href", ""))]


@dataclass
class Converted:
    body: str
    summary: str
    problems: list[str] = field(default_factory=list)
    tip: tuple[str, str, dt.datetime, str | None] | None = None  # title, body, date, service


def convert(
    entry: Entry,
    config: Config,
    local: Mapping[str, str],
    attachments: Mapping[str, tuple[str, str]],
    split: re.Pattern[str] | None = None,
) -> Converted:
    """``local`` maps an image URL to its path in the site (relative to the content file);
    an image that could not be fetched keeps its URL."""
    from blogtool.site.render import sanitize

    problems: list[str] = []
    html = entry.html
    teaser = MORE.split(html, 1)[0] if MORE.search(html) else ""
    html = MORE.sub("", html)
    figures: list[str] = []

    def make_figure(img: str, caption: str) -> str:
        a = attrs(img)
        given = absolute(a.get("src", ""), entry)
        src = local.get(given, given)
        alt = a.get("alt", "") or entry.images.get(given, "")
        text = " ".join(htmllib.unescape(re.sub(r"<[^>]*>", "", caption)).split())
        figures.append(
            f'<figure>\n<img src="{htmllib.escape(src)}" alt="{htmllib.escape(alt)}">\n'
            f"<figcaption>{htmllib.escape(text)}</figcaption>\n</figure>"
        )
        if not alt:
            problems.append(
                _('an image without alt text ({src}): marked alt=""; describe it').format(src=src)
            )
        return f"<p>BLOGTOOLFIGURE{len(figures) - 1}END</p>"

    def caption_shortcode(m: re.Match[str]) -> str:
        inner = m.group(2)
        img = _IMG.search(inner)
        caption = _IMG.sub("", re.sub(r"</?a\b[^>]*>", "", inner)).strip()
        if img is None:
            return caption
        # The older form has the caption as an attribute: [caption caption="..."].
        return make_figure(img.group(0), caption or attrs(m.group(1)).get("caption", ""))

    def block_figure(m: re.Match[str]) -> str:
        """The block editor's picture: <figure><img><figcaption>."""
        inner = m.group(1)
        img, caption = _IMG.search(inner), _FIGCAPTION.search(inner)
        if img is None or caption is None or _IMG.search(inner, img.end()):
            return m.group(0)  # no caption, or a gallery: as it is
        return make_figure(img.group(0), caption.group(1))

    html = _CAPTION.sub(caption_shortcode, html)
    html = _FIGURE.sub(block_figure, html)

    def gallery(m: re.Match[str]) -> str:
        ids = [i.strip() for i in attrs(m.group(1)).get("ids", "").split(",") if i.strip()]
        shown = [attachments[i] for i in ids if i in attachments]
        return "".join(
            f'<p><img src="{htmllib.escape(u)}" alt="{htmllib.escape(a)}"></p>' for u, a in shown
        )

    html = _GALLERY.sub(gallery, html)
    html = _EMBED.sub(
        lambda m: f'<p><a href="{m.group(1).strip()}">{m.group(1).strip()}</a></p>', html
    )
    html = _VIDEO_LINE.sub(lambda m: f'<p><a href="{m.group(1)}">{m.group(1)}</a></p>', html)
    for m in _SHORTCODE.finditer(html):
        if not m.group(1):
            problems.append(_("unknown shortcode [{name}] left as it was").format(name=m.group(2)))

    def image(tag: re.Match[str]) -> str:
        a = attrs(tag.group(0))
        src = absolute(a.get("src", ""), entry)
        alt = a.get("alt", "") or entry.images.get(src, "")
        return f'<img src="{htmllib.escape(local.get(src, src))}" alt="{htmllib.escape(alt)}">'

    html = _IMG.sub(image, html)

    def link(tag: re.Match[str]) -> str:
        href = absolute(attrs(tag.group(0)).get("href", ""), entry)
        if href not in local:
            return tag.group(0)
        return f'<a href="{htmllib.escape(local[href])}">'

    html = _A.sub(link, html)
    if entry.autop:  # WordPress stores paragraphs as blank lines, and adds <p> as it shows them
        html = autop(html)
    # Imported HTML is another site's: what could run script goes before it becomes Markdown.
    body = _markdown(sanitize(html, top_heading=True)).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    for n, html_figure in enumerate(figures):
        body = body.replace(f"BLOGTOOLFIGURE{n}END", sanitize(html_figure))
    for m in _MD_NO_ALT.finditer(body):
        problems.append(
            _('an image without alt text ({src}): marked alt=""; describe it').format(
                src=m.group(1)
            )
        )
    body = _MD_NO_ALT.sub(lambda m: f'<img src="{htmllib.escape(m.group(1))}" alt="">', body)
    tip = None
    if split is not None:
        body, tip, why = _split_tip(body, entry, config, split)
        if why:
            problems.append(why)
    summary = _summary(entry.excerpt, autop(teaser) if entry.autop else teaser, body)
    return Converted(body + "\n", summary, problems, tip)


def _paragraphs(html: str) -> list[str]:
    """The plain text of each paragraph (or other block) of ``html``."""
    text = re.sub(
        r"</?(p|br|div|li|h[1-6]|ul|ol|blockquote|tr|td|th|figure)\b[^>]*>",
        "\n\n",
        html,
        flags=re.I,
    )
    text = re.sub(r"<[^>]+>", "", text)
    return [" ".join(b.split()) for b in re.split(r"\n\s*\n", htmllib.unescape(text)) if b.strip()]


def _summary(excerpt: str, teaser: str, body: str) -> str:
    """The author's own excerpt; else the first paragraph of the text above "more"; else the
    first paragraph of the post. Never two paragraphs run into one."""
    from blogtool.site.render import excerpt as first_paragraph

    given = " ".join(_paragraphs(excerpt))
    if not given and teaser:
        given = next(iter(_paragraphs(teaser)), "")
    if len(given) > 300:
        given = given[:300].rsplit(" ", 1)[0].rstrip(",;:–-") + "…"
    return given or first_paragraph(body, 240)


_MD_LINK = re.compile(r"\[([^\]]*)\]\((\S+?)(?:\s+\"[^\"]*\")?\)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def _first_sentence(block: str) -> str:
    """The first sentence of a Markdown block (a '.' inside a link's URL does not end it)."""
    line = block.strip().splitlines()[0] if block.strip() else ""
    masked = _MD_LINK.sub(lambda m: "x" * len(m.group(0)), line)
    end = _SENTENCE_END.search(masked)
    return line[: end.end()] if end else line


def _plain_md(text: str) -> str:
    """Markdown inline text as plain words: links as their text, no emphasis or heading marks."""
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    return " ".join(re.sub(r"^#+\s*|[*_`]|\\(?=\S)", "", text.strip()).split())


def _service_of(url: str, config: Config) -> str | None:
    for key, service in config.services.items():
        if service.url and url.rstrip("/") == service.url.rstrip("/"):
            return key
    return None


def _split_tip(
    body: str, entry: Entry, config: Config, split: re.Pattern[str]
) -> tuple[str, tuple[str, str, dt.datetime, str | None] | None, str]:
    """A closing section whose first sentence holds ``split`` becomes a tip on that week's
    series day; the post keeps what comes before it. Returns (post body, tip or None, why
    nothing was split: "" when a tip was, or the pattern is nowhere in the text)."""
    blocks = [b for b in re.split(r"\n\s*\n", body) if b.strip()]
    start = next((i for i, b in enumerate(blocks) if i and split.search(_first_sentence(b))), None)
    if start is None:
        if split.search(_plain_md(body)) or split.search(body):
            return (
                body,
                None,
                _(
                    "mentions '{pattern}', but no closing paragraph or heading begins with it; "
                    "no tip split off"
                ).format(pattern=split.pattern),
            )
        return body, None, ""
    if entry.date is None:
        return body, None, _("has no date, so its tip has no week; no tip split off")
    block = blocks[start]
    sentence = _first_sentence(block)
    heading = block.lstrip().startswith("#")
    found = split.search(sentence)
    assert found is not None
    after = sentence[found.end() :]
    section = blocks[start + 1 :] if heading else blocks[start:]
    tip_body = "\n\n".join(section).strip()
    links = [(m.group(1), m.group(2)) for m in _MD_LINK.finditer(tip_body)]
    link_after = _MD_LINK.search(after)
    service = (_service_of(link_after.group(2), config) if link_after else None) or next(
        (k for _t, url in links if (k := _service_of(url, config))), None
    )
    words_after = _plain_md(after).strip(" :–—-!.?")
    if heading and words_after:
        title = words_after
    elif link_after is not None:
        linked = _service_of(link_after.group(2), config)
        title = config.services[linked].name if linked else _plain_md(link_after.group(1))
    elif words_after:
        title = words_after
    elif service is not None:
        title = config.services[service].name
    else:
        title = entry.title.strip()
    local = entry.date.astimezone(config.site.timezone)
    day = local.date() + dt.timedelta(days=config.tips.weekday - local.weekday())
    when = localize(dt.datetime.combine(day, config.tips.time), config.site.timezone)
    post_body = "\n\n".join(blocks[:start]).strip()
    return post_body, (title, tip_body, when, service), ""
