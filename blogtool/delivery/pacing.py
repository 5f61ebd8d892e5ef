"""What a send is given and gives back: ``Pacing`` (time as the sender sees it; tests replace
it) and ``SendReport`` (the counts, the failures, the uncertain rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from blogtool.i18n import _


@dataclass
class SendReport:
    total: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    reconnects: int = 0
    uncertain: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    remaining: int = 0
    stopped: str | None = None

    def summary(self) -> str:
        parts = [
            _("{n} sent").format(n=self.sent),
            _("{n} failed").format(n=self.failed),
            _("{n} skipped").format(n=self.skipped),
        ]
        if self.remaining:
            parts.append(_("{n} still queued").format(n=self.remaining))
        if self.uncertain:
            parts.append(_("{n} uncertain").format(n=len(self.uncertain)))
        return ", ".join(parts)


@dataclass
class Pacing:
    """Time as the sender sees it; tests replace it."""

    now: Callable[[], dt.datetime]
    clock: Callable[[], float]  # wall-clock seconds, for backoff that survives a restart
    sleep: Callable[[float], None]
    should_stop: Callable[[], bool] = lambda: False
