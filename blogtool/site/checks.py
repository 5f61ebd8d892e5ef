"""Everything ``check`` reports, in one list: the configuration, every post and tip (and
whether what is scheduled is ready), readability and the accessibility statement. The
studio's overview shows the same list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from blogtool.config import Config
from blogtool.content.lix import warning
from blogtool.content.model import Item, Site
from blogtool.errors import Problem
from blogtool.site.accessibility import problems as statement_problems


def problems(
    config: Config,
    site: Site,
    now: dt.datetime,
    more: Iterable[Problem] = (),
    readability: Callable[[Item, float], Problem | None] = warning,
) -> list[Problem]:
    """Every problem, the configuration's first, then by file and line. ``readability``:
    an item's LIX warning (``lix.warning``, or one that remembers them)."""
    limit = config.check.lix_limit
    lix = [found for item in site.items if (found := readability(item, limit)) is not None]
    return sorted(
        [*config.problems, *site.problems, *lix, *statement_problems(config, now), *more],
        key=lambda p: (str(p.path) != "blogtool.toml", str(p.path), p.line or 0),
    )
