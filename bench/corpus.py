"""Generate a Swedish-looking corpus of N posts, in blogtool's format, Pelican's and Hugo's.

Front matter as in blogtool's content model; bodies of 400-900 words with headings, lists, links
and quotes; every fifth item a tip (on its own Thursday, at 08:00) that features a service.
The same seed gives the same corpus.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=STOCKHOLM)

WORDS = [
    "kommun",
    "invånare",
    "förvaltning",
    "samverkan",
    "flöde",
    "tjänst",
    "medborgare",
    "skola",
    "förskola",
    "omsorg",
    "äldreboende",
    "bibliotek",
    "natur",
    "friluftsliv",
    "cykelväg",
    "gata",
    "park",
    "stadsdel",
    "bostad",
    "bygglov",
    "företag",
    "näringsliv",
    "kultur",
    "idrott",
    "förening",
    "ungdom",
    "trygghet",
    "miljö",
    "klimat",
    "energi",
    "avfall",
    "vatten",
    "avlopp",
    "kollektivtrafik",
    "buss",
    "tåg",
    "sjö",
    "skog",
    "reservat",
    "vandringsled",
    "utegym",
    "badplats",
    "digital",
    "e-tjänst",
    "ärende",
    "handläggning",
    "beslut",
    "budget",
    "ekonomi",
    "investering",
    "planering",
    "och",
    "att",
    "det",
    "som",
    "en",
    "på",
    "är",
    "för",
    "med",
    "till",
    "av",
    "om",
    "inte",
    "har",
    "vi",
    "ni",
    "de",
    "kan",
    "ska",
    "vill",
    "när",
    "så",
    "men",
    "eller",
    "också",
    "bara",
    "mycket",
    "många",
    "alla",
    "varje",
    "ny",
    "nya",
    "bra",
    "stor",
    "liten",
    "viktig",
    "enkel",
    "arbetar",
    "bygger",
    "planerar",
    "förbättrar",
    "öppnar",
    "samlar",
    "hjälper",
    "visar",
    "berättar",
    "tycker",
]
TAGS = [
    "natur",
    "friluftsliv",
    "skola",
    "omsorg",
    "kultur",
    "idrott",
    "trafik",
    "miljö",
    "klimat",
    "bygglov",
    "e-tjänster",
    "ekonomi",
    "föreningar",
    "bibliotek",
    "trygghet",
    "samverkan",
    "digitalisering",
    "bostäder",
    "näringsliv",
    "vatten",
]
SERVICES = ("naturkartan", "biblioteket", "felanmalan", "avfall", "etjanster")

CONFIG = """\
[site]
title = "Benchbloggen"
base_url = "https://bench.example.se/"
author = "Kommundirektören"

[build]
per_page = 10
feed_limit = 20
"""
SERVICE_BLOCK = """
[services.{key}]
name = "Tjänsten {key}"
url = "https://www.example.se/{key}"
description = "En tjänst från kommunen som heter {key}."
"""


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + rng.choice(".....!?")


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))


def body(rng: random.Random) -> str:
    target = rng.randint(400, 900)
    parts: list[str] = []
    words = 0
    while words < target:
        kind = rng.random()
        if kind < 0.12:
            block = "## " + _sentence(rng).rstrip(".!?")
        elif kind < 0.22:
            block = "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 5)))
        elif kind < 0.28:
            block = "> " + _sentence(rng)
        else:
            block = _paragraph(rng)
            if rng.random() < 0.4:
                block += f" Läs mer på [{rng.choice(WORDS)}](https://www.example.se/{rng.choice(WORDS)})."
        parts.append(block)
        words += len(block.split())
    return "\n\n".join(parts) + "\n"


def generate(root: Path, n: int, seed: int = 2026) -> list[Path]:
    """Write the blogtool site to ``root``, and the same content as a Pelican project in
    ``root/pelican`` and a Hugo site in ``root/hugo``. Returns the blogtool post paths."""
    rng = random.Random(seed)
    (root / "posts").mkdir(parents=True, exist_ok=True)
    (root / "tips").mkdir(exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    pel = root / "pelican" / "content"
    pel.mkdir(parents=True, exist_ok=True)
    hugo = root / "hugo" / "content"
    for section in ("blogg", "torsdagstips"):
        (hugo / section).mkdir(parents=True, exist_ok=True)
    (root / "blogtool.toml").write_text(
        CONFIG + "".join(SERVICE_BLOCK.format(key=k) for k in SERVICES), "utf-8"
    )
    first_thursday = dt.datetime(2026, 11, 26, 8, 0, tzinfo=STOCKHOLM)
    paths = []
    for i in range(n):
        is_tip = i % 5 == 0
        title = f"{_sentence(rng).rstrip('.!?')} {i}"
        tags = rng.sample(TAGS, rng.randint(1, 3))
        summary = _sentence(rng)
        text = body(rng)
        if is_tip:
            date = first_thursday - dt.timedelta(weeks=i // 5)
            date = date.replace(tzinfo=None).replace(tzinfo=STOCKHOLM)
            service = SERVICES[(i // 5) % len(SERVICES)]
        else:
            date = NOW - dt.timedelta(hours=7 * i + 5)
            service = None
        fm = [
            "---",
            f'title: "{title}"',
            f"date: {date.isoformat()}",
            f"tags: [{', '.join(tags)}]",
            f'summary: "{summary}"',
        ]
        if service:
            fm.append(f"service: {service}")
        fm.append("---")
        slug = f"item-{i:05d}"
        path = root / ("tips" if is_tip else "posts") / f"{slug}.md"
        path.write_text("\n".join(fm) + "\n" + text, "utf-8")
        paths.append(path)
        meta = [
            f"Title: {title}",
            f"Date: {date.strftime('%Y-%m-%d %H:%M')}",
            f"Tags: {', '.join(tags)}",
            f"Summary: {summary}",
            f"Slug: {slug}",
            f"Category: {'Torsdagstips' if is_tip else 'Blogg'}",
        ]
        (pel / f"{slug}.md").write_text("\n".join(meta) + "\n\n" + text, "utf-8")
        hugo_fm = [*fm[:-1], f"slug: {slug}", "---"]
        section = "torsdagstips" if is_tip else "blogg"
        (hugo / section / f"{slug}.md").write_text("\n".join(hugo_fm) + "\n" + text, "utf-8")
    return paths


def hugo_path(root: Path, post: Path) -> Path:
    """The Hugo copy of one blogtool source file."""
    section = "torsdagstips" if post.parent.name == "tips" else "blogg"
    return root / "hugo" / "content" / section / post.name


def photo(path: Path, seed: int) -> None:
    """A camera-sized JPEG of about 3 MB (3000x2000, noisy, as photos are to a compressor);
    each seed gives different bytes."""
    from PIL import Image

    rng = random.Random(seed)
    noise = Image.effect_noise((3000, 2000), 40 + rng.randint(0, 10))
    ramp = Image.linear_gradient("L").resize((3000, 2000)).rotate(rng.choice([0, 90, 180]))
    Image.merge("RGB", (noise, ramp, noise.rotate(180))).save(path, "JPEG", quality=85)


def add_photos(root: Path, paths: list[Path], every: int = 10) -> list[Path]:
    """A photo in media/ for every ``every``-th item, named in its front matter."""
    (root / "media").mkdir(exist_ok=True)
    photos = []
    for n, source in enumerate(paths[::every]):
        name = f"foto-{n:04d}.jpg"
        photo(root / "media" / name, n)
        text = source.read_text("utf-8")
        head = f"---\nimage: {name}\nimage_alt: Bild {n} till inlägget\n"
        source.write_text(text.replace("---\n", head, 1), "utf-8")
        photos.append(root / "media" / name)
    return photos
