"""The accessibility statement that the law on digital public services (DOS-lagen, the EU Web
Accessibility Directive) asks of a public body's site, in the order of DIGG's model: who
publishes the site, how far it complies, what is not accessible and why, how readers report
what they cannot use, where to complain (DIGG), how and when the site was assessed.

What blogtool can measure itself goes in beside what the config says: the contrast of the
theme's colours, worked out from the stylesheet the site publishes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from blogtool.config import CONFIG_NAME, Config, config_line
from blogtool.errors import Problem
from blogtool.i18n import _, cli_language
from blogtool.site.templates import and_list
from blogtool.site.urls import STATIC_DIR

if TYPE_CHECKING:
    from blogtool.site.engine import Page
    from blogtool.site.pages import SiteView

#: DIGG's page for complaints about a public body's digital service.
DIGG_COMPLAINTS = "https://www.digg.se/tdosanmalan"
#: WCAG 2.1 success criterion 1.4.3: text against its background.
AA_CONTRAST = 4.5
#: How old a statement may get before ``check`` asks for a review.
REVIEW_WITHIN = dt.timedelta(days=365)
PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: The theme's colour names (CSS custom properties) that stand as text on a background.
PAIRS = (
    ("text", "bg"),
    ("muted", "bg"),
    ("accent", "bg"),
    ("text", "accent-bg"),
    ("muted", "accent-bg"),
    ("accent", "accent-bg"),
    ("on-accent", "accent"),
    ("warn", "warn-bg"),
)
_ROOT = re.compile(r":root\s*\{([^{}]*)\}")
_DARK = re.compile(r"@media[^{]*prefers-color-scheme\s*:\s*dark[^{]*\{\s*:root\s*\{([^{}]*)\}")
_COLOUR = re.compile(r"--([a-z][a-z0-9-]*)\s*:\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\s*[;}]?")


@dataclass(frozen=True)
class AxeSummary:
    """What axe-core found, from the results it wrote."""

    version: str
    pages: int
    serious: int  # violations of impact serious or critical
    other: int  # moderate or minor
    when: dt.date | None


class AxeError(ValueError):
    """The results file cannot be read as axe-core's."""


def axe_summary(config: Config) -> AxeSummary | None:
    """The summary of [accessibility] axe_results, or None when none is named. Raises
    AxeError when the file is missing or not axe-core's results."""
    import json

    name = config.accessibility.axe_results
    if name is None:
        return None
    try:
        data = json.loads((config.root / name).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise AxeError(str(getattr(exc, "strerror", None) or exc)) from None
    runs = data if isinstance(data, list) else [data]
    if not runs or not all(
        isinstance(r, dict) and isinstance(r.get("violations"), list) for r in runs
    ):
        raise AxeError(
            _("expected axe-core's results: an object with 'violations', or a list of them")
        )
    serious = other = 0
    for run in runs:
        for violation in run["violations"]:
            if not isinstance(violation, dict):
                continue
            count = len(violation.get("nodes") or []) or 1
            if violation.get("impact") in ("serious", "critical"):
                serious += count
            else:
                other += count
    engine = runs[0].get("testEngine") or {}
    stamps = sorted(str(r["timestamp"]) for r in runs if r.get("timestamp"))
    day = None
    if stamps:  # when the last page was checked, in the site's zone
        with contextlib.suppress(ValueError):
            last = dt.datetime.fromisoformat(stamps[-1].replace("Z", "+00:00"))
            day = last.astimezone(config.site.timezone).date()
    return AxeSummary(str(engine.get("version", "")), len(runs), serious, other, day)


@dataclass(frozen=True)
class Contrast:
    """The lowest contrast among the theme's pairs in one colour scheme."""

    scheme: str  # "light" or "dark"
    ratio: float
    foreground: str
    background: str


def _luminance(hex_colour: str) -> float:
    """WCAG 2.1's relative luminance of an sRGB colour."""
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    channels = []
    for i in (0, 2, 4):
        c = int(hex_colour[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def ratio(foreground: str, background: str) -> float:
    """WCAG's contrast ratio of two colours given as hex digits (1 to 21)."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def theme_contrast(css: str) -> list[Contrast]:
    """The lowest contrast of each colour scheme the stylesheet defines with the theme's
    names; empty when it does not use them (a theme of the site's own)."""
    light_block = _ROOT.search(_DARK.sub("", css))
    if light_block is None:
        return []
    light = {m[1]: m[2] for m in _COLOUR.finditer(light_block[1])}
    schemes = [("light", light)]
    dark_block = _DARK.search(css)
    if dark_block is not None:
        schemes.append(("dark", {**light, **{m[1]: m[2] for m in _COLOUR.finditer(dark_block[1])}}))
    found = []
    for scheme, colours in schemes:
        pairs = [(f, b) for f, b in PAIRS if f in colours and b in colours]
        if not pairs:
            continue
        worst = min(pairs, key=lambda pair: ratio(colours[pair[0]], colours[pair[1]]))
        found.append(Contrast(scheme, ratio(colours[worst[0]], colours[worst[1]]), *worst))
    return found


def stylesheet(config: Config) -> Path:
    """The style sheet the site publishes: its own, else the theme's (as ``static_files``)."""
    for base in (config.root / STATIC_DIR, config.templates_dir / STATIC_DIR):
        if (base / "style.css").is_file():
            return base / "style.css"
    return PACKAGE_TEMPLATES / STATIC_DIR / "style.css"


def contrast_of(config: Config) -> list[Contrast]:
    try:
        return theme_contrast(stylesheet(config).read_text("utf-8", errors="replace"))
    except OSError:
        return []


def problems(config: Config, now: dt.datetime) -> list[Problem]:
    """What ``check`` says of the statement: a review that is due, what DIGG's model needs and
    the config lacks, colours below WCAG's contrast."""
    a = config.accessibility
    if not a.enabled:
        return []
    found = []

    def warn(message: str, key: str) -> None:
        found.append(
            Problem(
                Path(CONFIG_NAME),
                message,
                key=f"[accessibility] {key}",
                line=config_line(config, "accessibility", key),
                severity="warning",
            )
        )

    today = now.astimezone(config.site.timezone).date()
    if a.reviewed is not None and today - a.reviewed > REVIEW_WITHIN:
        warn(
            _(
                "the accessibility statement was last reviewed on {day}, more than a year ago; "
                "review it and set the new date"
            ).format(day=a.reviewed.isoformat()),
            "reviewed",
        )
    lacking = [
        (key, what)
        for key, what, missing in (
            ("reviewed", _("when it was last reviewed"), a.reviewed is None),
            ("assessed", _("when the site was assessed"), a.assessed is None),
            ("contact", _("where readers report what they cannot use"), a.contact is None),
            (
                "shortcomings",
                _("what is not accessible, as the site complies '{compliance}'").format(
                    compliance=a.compliance
                ),
                a.compliance != "full" and not a.shortcomings,
            ),
        )
        if missing
    ]
    if lacking:
        warn(
            _("the accessibility statement does not say {what} ({keys})").format(
                what=and_list([what for _key, what in lacking], cli_language()),
                keys=", ".join(key for key, _what in lacking),
            ),
            lacking[0][0],
        )
    try:
        axe_summary(config)
    except AxeError as exc:
        warn(_("{file}: {reason}").format(file=a.axe_results, reason=exc), "axe_results")
    sheet = stylesheet(config)
    if sheet.is_relative_to(config.root):
        sheet = sheet.relative_to(config.root)
    for low in contrast_of(config):
        if low.ratio < AA_CONTRAST:
            found.append(
                Problem(
                    sheet,
                    _(
                        "--{fg} on --{bg} has a contrast of {ratio:.2f}:1 in the {scheme} "
                        "colours; WCAG 1.4.3 asks at least 4.5:1"
                    ).format(
                        fg=low.foreground,
                        bg=low.background,
                        ratio=low.ratio,
                        scheme=_("light") if low.scheme == "light" else _("dark"),
                    ),
                    severity="warning",
                )
            )
    return found


def statement_page(v: SiteView) -> list[Page]:
    """tillganglighet/ (accessibility/): the statement."""
    config = v.config
    a = config.accessibility
    if not a.enabled:
        return []
    contrast = contrast_of(config)
    try:
        axe = axe_summary(config)
    except AxeError:
        axe = None  # (check names the file and why)
    web = config.web.base_url
    produce = partial(
        v.page,
        "accessibility.html",
        page_title=v.word("accessibility_title"),
        canonical=v.urls.accessibility(),
        section="accessibility",
        statement=a,
        contrast=contrast,
        minimum=AA_CONTRAST,
        form=bool(web and a.contact),
        digg=DIGG_COMPLAINTS,
        lix_limit=config.check.lix_limit,
        axe=axe,
    )
    inputs = [repr(contrast), str(config.check.lix_limit), repr(axe)]
    return [v.spec(v.urls.accessibility(), inputs, produce)]
