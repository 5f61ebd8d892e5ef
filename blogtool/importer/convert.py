"""One imported entry to Markdown that renders back to the same HTML: WordPress shortcodes
first, images pointed at their copies in the site, HTML to Markdown with markdownify (it is
maintained, built on a real HTML parser, and makes ATX headings, pipe tables and block quotes
that Python-Markdown renders back as they were), a summary, and the Thursday tip split off a
post that ends with one."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from blogtool.config import Config
from blogtool.i18n import _
from blogtool.importer.sources import Entry
from blogtool.slugs import slugify
from blogtool.timeutil import localize

MORE = re.compile(r"<!--\s*more\s*(?:[^>]*)-->", re.I)
_CAPTION = re.compile(r"\[caption([^\]]*)\](.*?)\[/caption\]", re.S | re.I)
_GALLERY = re.compile(r"\[gallery([^\]]*)\]", re.I)
_EMBED = re.compile(r"\[embed[^\]]*\](.*?)\[/embed\]", re.S | re.I)
_VIDEO_LINE = re.compile(
    r"^\s*(?:<p>)?\s*(https?://(?:www\.)?(?:youtube\.com|youtu\.be|vimeo\.com)/\S+?)\s*(?:</p>)?\s*$",
    re.M,
)
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
    return str(converter.convert(html))


def attrs(tag: str) -> dict[str, str]:
    return {
        m.group(1).lower(): htmllib.unescape(m.group(3) or m.group(4) or m.group(5) or "")
        for m in _ATTR.finditer(tag)
    }


def image_urls(entry: Entry, attachments: Mapping[str, tuple[str, str]]) -> list[str]:
    """Every image the entry shows: in its HTML, its galleries and its featured image."""
    urls = [attrs(tag).get("src", "") for tag in _IMG.findall(entry.html)]
    for m in _GALLERY.finditer(entry.html):
        ids = attrs(m.group(1)).get("ids", "")
        urls += [attachments[i.strip()][0] for i in ids.split(",") if i.strip() in attachments]
    if entry.featured:
        urls.append(entry.featured)
    return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]


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

    def figure(m: re.Match[str]) -> str:
        inner = m.group(2)
        img = _IMG.search(inner)
        caption = _IMG.sub("", re.sub(r"</?a\b[^>]*>", "", inner)).strip()
        if img is None:
            return caption
        a = attrs(img.group(0))
        src = local.get(a.get("src", ""), a.get("src", ""))
        alt = a.get("alt", "") or entry.images.get(a.get("src", ""), "")
        figures.append(
            f'<figure>\n<img src="{htmllib.escape(src)}" alt="{htmllib.escape(alt)}">\n'
            f"<figcaption>{htmllib.escape(htmllib.unescape(caption))}</figcaption>\n</figure>"
        )
        if not alt:
            problems.append(
                _('an image without alt text ({src}): marked alt=""; describe it').format(src=src)
            )
        return f"<p>BLOGTOOLFIGURE{len(figures) - 1}END</p>"

    html = _CAPTION.sub(figure, html)

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
        src = a.get("src", "")
        alt = a.get("alt", "") or entry.images.get(src, "")
        return f'<img src="{htmllib.escape(local.get(src, src))}" alt="{htmllib.escape(alt)}">'

    html = _IMG.sub(image, html)
    if "<p" not in html.lower() and "\n\n" in html:  # WordPress stores paragraphs as blank lines
        html = "".join(f"<p>{p}</p>" for p in re.split(r"\n\s*\n", html) if p.strip())
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
        body, tip = _split_tip(body, entry, config, split)
    summary = _summary(entry.excerpt or teaser, body)
    return Converted(body + "\n", summary, problems, tip)


def _plain(html: str) -> str:
    text = re.sub(
        r"</?(p|br|div|li|h[1-6]|ul|ol|blockquote|tr|td|th)\b[^>]*>", " ", html, flags=re.I
    )
    text = re.sub(r"<[^>]+>", "", text)
    return " ".join(htmllib.unescape(text).split())


def _summary(given: str, body: str) -> str:
    from blogtool.site.render import excerpt

    text = _plain(given) if given else ""
    return text[:300].strip() or excerpt(body, 240)


def _split_tip(
    body: str, entry: Entry, config: Config, split: re.Pattern[str]
) -> tuple[str, tuple[str, str, dt.datetime, str | None] | None]:
    """A closing section that begins with a block matching ``split`` becomes a tip on that
    week's series day; the post keeps what comes before it."""
    blocks = re.split(r"\n\s*\n", body)
    start = next((i for i, b in enumerate(blocks) if i and split.search(b.splitlines()[0])), None)
    if start is None or entry.date is None:
        return body, None
    first = blocks[start].splitlines()[0]
    heading = re.sub(r"^#+\s*|[*_]", "", first).strip()
    rest = split.sub("", heading).strip(" :–-")
    title = rest or heading
    section = blocks[start + 1 :] if first.lstrip().startswith("#") else blocks[start:]
    tip_body = "\n\n".join(section).strip()
    service = None
    for key, s in config.services.items():
        if s.url and s.url.rstrip("/") in tip_body:
            service = key
            break
    local = entry.date.astimezone(config.site.timezone)
    day = local.date() + dt.timedelta(days=config.tips.weekday - local.weekday())
    when = localize(dt.datetime.combine(day, config.tips.time), config.site.timezone)
    post_body = "\n\n".join(blocks[:start]).strip()
    return post_body, (title or slugify(entry.title), tip_body, when, service)
