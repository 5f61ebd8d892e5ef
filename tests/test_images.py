"""Pictures with real image files: a phone photo with GPS in its EXIF and a quarter turn, a PNG
with transparency, a broken file. Made into every width in WebP and the original's format,
without metadata, turned the right way, cached, and checked."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, TiffImagePlugin

from .conftest import Run, write

POST = "posts/2026-11-21-vaxeln.md"


def phone_photo(path: Path, size: tuple[int, int] = (1600, 1000)) -> None:
    """1600x1000 as stored, EXIF orientation 6 (shown turned a quarter clockwise: 1000x1600),
    a GPS position and a camera. The stored left half is red: shown, it is the top."""
    im = Image.new("RGB", size, "navy")
    im.paste(Image.new("RGB", (size[0] // 2, size[1]), "red"), (0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to show
    exif[0x010F] = "Telefonmakaren"  # Make
    gps = {
        1: "N",
        2: (TiffImagePlugin.IFDRational(56), TiffImagePlugin.IFDRational(52),
            TiffImagePlugin.IFDRational(41)),
        3: "E",
        4: (TiffImagePlugin.IFDRational(14), TiffImagePlugin.IFDRational(48),
            TiffImagePlugin.IFDRational(32)),
    }  # fmt: skip
    exif[0x8825] = gps
    im.save(path, "JPEG", exif=exif, quality=90)
    with Image.open(path) as check:  # the fixture itself carries what must be removed
        assert check.getexif().get_ifd(0x8825) and check.getexif()[0x0112] == 6


def transparent_png(path: Path) -> None:
    im = Image.new("RGBA", (700, 700), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (350, 700), (20, 140, 60, 255)), (0, 0))
    im.save(path, "PNG")


def post(site: Path, image: str, body: str = "Text.\n", alt: str = "Växeln i kvällsljus") -> None:
    front = "---\ntitle: Växeln\ndate: 2026-11-21T09:00:00+01:00\nsummary: Om växeln.\n"
    if image:
        front += f"image: {image}\nimage_alt: {alt}\n"
    write(site / POST, front + "---\n" + body)


def made_files(site: Path, name: str) -> list[Path]:
    return sorted((site / "public/bilder").glob(f"*/{name}-*"))


def test_a_phone_photo_is_made_in_every_width_turned_and_without_exif(run: Run, sample_site):
    phone_photo(sample_site / "media/vaxeln.jpg")
    post(sample_site, "vaxeln.jpg", "Före.\n\n![Växeln från ovan](vaxeln.jpg)\n")
    result = run("build")
    assert result.exit_code == 0, result.stderr
    assert "1 picture made" in result.stdout  # the sample site's come from the cache
    files = made_files(sample_site, "vaxeln")
    widths = sorted({int(re.search(r"-(\d+)\.", f.name).group(1)) for f in files})
    assert widths == [480, 960, 1000]  # the configured widths and the mail's, never wider
    assert {f.suffix for f in files} == {".webp", ".jpg"}
    for f in files:
        data = f.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            assert not im.getexif(), f  # no EXIF at all: no GPS, no camera, no orientation
            assert "exif" not in im.info and b"Exif\x00\x00" not in data
            w, h = im.size
            assert h > w, (f, im.size)  # turned: a portrait, as the phone showed it
            top = im.convert("RGB").getpixel((w // 2, h // 8))
            bottom = im.convert("RGB").getpixel((w // 2, h - h // 8))
            assert top[0] > 200 and top[2] < 80, top  # the red half is on top
            assert bottom[2] > 100 and bottom[0] < 60, bottom
    page = (sample_site / "public/vaxeln/index.html").read_text("utf-8")
    lead, body = page.count("<picture>"), page.count('loading="lazy"')
    assert lead == 2 and body >= 1  # the lead picture (eager) and the body's (lazy)
    assert 'width="1000" height="1600"' in page and 'fetchpriority="high"' in page
    assert re.search(
        r'srcset="/bilder/\w+/vaxeln-480\.webp 480w, /bilder/\w+/vaxeln-960\.webp', page
    )
    assert 'alt="Växeln från ovan"' in page
    assert re.search(
        r'<meta property="og:image" content="https://blogg\.vaxjo\.example/bilder/', page
    )
    assert '<meta property="og:image:alt" content="Växeln i kvällsljus">' in page


def test_a_big_photo_is_read_at_a_fraction_and_still_turned_right(run: Run, sample_site):
    phone_photo(sample_site / "media/vaxeln.jpg", (6000, 4000))  # shown 4000 wide
    post(sample_site, "vaxeln.jpg")
    assert run("build").exit_code == 0
    files = made_files(sample_site, "vaxeln")
    widths = sorted({int(re.search(r"-(\d+)\.", f.name).group(1)) for f in files})
    assert widths == [480, 960, 1200, 1600]
    for f in files:
        with Image.open(f) as im:
            w, h = im.size
            assert round(h / w, 2) == 1.5 and not im.getexif()
            assert im.convert("RGB").getpixel((w // 2, h // 8))[0] > 200  # red on top


def test_a_transparent_png_stays_transparent(run: Run, sample_site):
    transparent_png(sample_site / "posts/karta.png")
    post(sample_site, "karta.png")
    assert run("build").exit_code == 0
    files = made_files(sample_site, "karta")
    assert {f.suffix for f in files} == {".webp", ".png"}
    for f in files:
        with Image.open(f) as im:
            assert im.mode in ("RGBA", "LA", "P"), (f, im.mode)
            assert im.convert("RGBA").getpixel((im.width - 2, 2))[3] == 0  # still see-through
            assert im.convert("RGBA").getpixel((2, 2))[3] == 255


def test_a_rebuild_with_nothing_changed_makes_no_picture(run: Run, sample_site):
    phone_photo(sample_site / "media/vaxeln.jpg")
    post(sample_site, "vaxeln.jpg")
    first = run("build")
    assert "picture made" in first.stdout
    # A post changes, the picture does not: it comes from the cache.
    write(sample_site / POST, (sample_site / POST).read_text("utf-8") + "\nMer text.\n")
    second = run("build")
    assert second.exit_code == 0 and " made" not in second.stdout
    assert re.search(r": [1-9]\d* written", second.stdout)
    # The picture itself changes: made again, and published under a new name.
    before = {f.name for f in made_files(sample_site, "vaxeln")}
    Image.new("RGB", (900, 600), "green").save(sample_site / "media/vaxeln.jpg", "JPEG")
    third = run("build")
    assert "1 picture made" in third.stdout
    after = {p.parent.name for p in made_files(sample_site, "vaxeln")}
    assert len(after) == 1 and before  # one folder: the old picture is gone from the site


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "image: image 'saknas.jpg': there is no file posts/saknas.jpg or media/saknas.jpg"),
        ("broken", "image: image 'trasig.jpg': Pillow cannot read media/trasig.jpg"),
        ("no-alt", "image_alt: missing; the image needs alt text"),
        ("outside", "image: image 'hemlig.jpg': media/hemlig.jpg leads outside the site (to "),
        ("bomb", "image: image 'bomb.png': Pillow cannot read media/bomb.png (Image size "),
    ],
)  # fmt: skip
def test_check_names_a_picture_that_cannot_go_out(run: Run, sample_site, tmp_path, setup, expected):
    if setup == "missing":
        post(sample_site, "saknas.jpg")
    elif setup == "outside":  # a link to a file elsewhere on the machine is not published
        Image.new("RGB", (900, 600), "red").save(tmp_path / "privat.jpg", "JPEG")
        (sample_site / "media/hemlig.jpg").symlink_to(tmp_path / "privat.jpg")
        post(sample_site, "hemlig.jpg")
    elif setup == "bomb":  # a header that claims 50000 x 50000 pixels
        write(sample_site / "media/bomb.png", png_header(50_000, 50_000))
        post(sample_site, "bomb.png")
    elif setup == "broken":
        write(sample_site / "media/trasig.jpg", b"\xff\xd8\xff\xe0 inte en bild")
        post(sample_site, "trasig.jpg")
    else:
        transparent_png(sample_site / "media/ikon.png")
        post(sample_site, "ikon.png", alt="")
    result = run("check")
    assert result.exit_code == 1
    assert f"{POST}:" in result.stderr and expected in result.stderr, result.stderr
    assert run("build").exit_code == 1  # and the build refuses it
    assert not (sample_site / "public").exists()


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature and header chunk (with its CRC), and its end: what Pillow opens."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_check_warns_about_a_huge_or_tiny_original(run: Run, sample_site):
    config = sample_site / "blogtool.toml"
    config.write_text(config.read_text("utf-8") + "\n[images]\nmax_size = 0.01\n", "utf-8")
    phone_photo(sample_site / "media/vaxeln.jpg")
    Image.new("RGB", (200, 150), "gray").save(sample_site / "media/liten.jpg")
    post(sample_site, "vaxeln.jpg", "![Liten bild](liten.jpg)\n")
    result = run("check")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"image 'vaxeln\.jpg' is \d+ kB, over the 0\.01 MB", result.stderr)
    assert "image 'liten.jpg' is 200 px wide, under the narrowest width (480 px)" in result.stderr


def test_feeds_and_the_newsletter_use_absolute_pictures(run: Run, sample_site, monkeypatch):
    from .conftest import SECRET

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    build = run("build")
    assert build.exit_code == 0
    feed = (sample_site / "public/feed.xml").read_text("utf-8")
    assert re.search(
        r'<enclosure url="https://blogg\.vaxjo\.example/bilder/\w+/sjon-i-vinterljus-960\.jpg" '
        r'length="\d+" type="image/jpeg"/>', feed,
    )  # fmt: skip
    assert 'medium="image"' in feed and 'src="/bilder/' not in feed
    # The nature tip's newsletter: its body picture at the column's width, made at twice that.
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    made = run("newsletter", "build", "--since", "2026-10-20")
    assert made.exit_code == 0, made.stderr
    result = run("newsletter", "preview", "--output", str(sample_site / "brev"))
    assert result.exit_code == 0, result.stderr
    html = (sample_site / "brev/newsletter-1.html").read_text("utf-8")
    assert re.search(
        r'<img src="https://blogg\.vaxjo\.example/bilder/\w+/sjon-i-vinterljus-1200\.jpg" '
        r'width="552" height="368" alt="Sjön i Kronobergs', html,
    )  # fmt: skip
    assert re.search(
        r'<img src="https://blogg\.vaxjo\.example/bilder/\w+/naturkartan-\d+\.png"', html
    )


def test_pictures_published_as_they_are_lose_their_metadata_not_their_pixels(run: Run, sample_site):
    from PIL import PngImagePlugin

    static = sample_site / "static/bilder"
    static.mkdir(parents=True)
    phone_photo(static / "telefon.jpg")
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Anna Andersson, Storgatan 1")
    Image.new("RGB", (64, 64), "teal").save(static / "karta.png", pnginfo=info)
    exif = Image.Exif()
    exif[0x010F] = "Telefonmakaren"
    Image.new("RGB", (64, 64), "olive").save(static / "ikon.webp", exif=exif)
    result = run("build")
    assert result.exit_code == 0, result.stderr
    out = sample_site / "public/static/bilder"
    with Image.open(out / "telefon.jpg") as im, Image.open(static / "telefon.jpg") as original:
        kept = im.getexif()
        assert dict(kept) == {0x0112: 6}  # only the orientation: no GPS, no camera
        assert not kept.get_ifd(0x8825)
        assert im.tobytes() == original.tobytes()  # the same pixels, not re-encoded
    assert b"Telefonmakaren" not in (out / "telefon.jpg").read_bytes()
    assert b"Storgatan" not in (out / "karta.png").read_bytes()
    with Image.open(out / "karta.png") as im:
        assert im.getpixel((1, 1)) == (0, 128, 128) and "Author" not in im.info
    assert b"Telefonmakaren" not in (out / "ikon.webp").read_bytes()
    with Image.open(out / "ikon.webp") as im:
        assert not im.getexif() and im.size == (64, 64)


def test_a_broken_picture_in_static_stops_the_build_by_name(run: Run, sample_site):
    write(sample_site / "static/trasig.jpg", b"inte en bild")
    result = run("build")
    assert result.exit_code != 0
    assert "static/trasig.jpg: not a readable JPG file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scheduled_posts_picture_is_published_with_its_post_and_not_before(run: Run, sample_site):
    """An embargoed picture (a scheduled post's, a draft's) is not in public/ before the post:
    whoever guesses or lists /bilder/ sees nothing early. The preview shows it."""
    import datetime as dt

    from .conftest import NOW

    phone_photo(sample_site / "media/nya-simhallen.jpg")
    phone_photo(sample_site / "media/utkastbild.jpg")
    write(
        sample_site / "posts/2026-12-15-nya-simhallen.md",
        "---\ntitle: Nya simhallen\ndate: 2026-12-15T09:00+01:00\nsummary: Kort.\n"
        "image: nya-simhallen.jpg\nimage_alt: Simhallen från sjön\n---\nText.\n",
    )
    write(
        sample_site / "posts/2026-12-01-utkast-med-bild.md",
        "---\ntitle: Utkast med bild\ndate: 2026-12-01T09:00+01:00\ndraft: true\nsummary: K.\n"
        "---\nText.\n\n![Ett utkasts bild](utkastbild.jpg)\n",
    )
    assert run("build").exit_code == 0
    assert not made_files(sample_site, "nya-simhallen") and not made_files(
        sample_site, "utkastbild"
    )
    published = "".join(
        p.read_text("utf-8", "replace") for p in (sample_site / "public").rglob("*.html")
    )
    assert "nya-simhallen" not in published

    preview = sample_site / ".blogtool/preview"
    assert run("build", "--drafts", "--future", "--output", str(preview)).exit_code == 0
    assert list(preview.rglob("bilder/*/nya-simhallen-*.jpg"))
    assert list(preview.rglob("bilder/*/utkastbild-*.jpg"))

    after = dt.datetime(2026, 12, 15, 9, 5, tzinfo=NOW.tzinfo)
    result = run("build", now=after)
    assert result.exit_code == 0, result.stderr
    assert made_files(sample_site, "nya-simhallen")  # now its page is out, so is it
    assert not made_files(sample_site, "utkastbild")
