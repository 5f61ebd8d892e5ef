"""What a send is given and gives back: ``Pacing`` (time as the sender sees it; tests replace
it) and ``SendReport`` (the counts, the failures, the uncertain rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field


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
        parts = [f"{self.sent} sent", f"{self.failed} failed", f"{self.skipped} skipped"]
        if self.remaining:
            parts.append(f"{self.remaining} still queued")
        if self.uncertain:
            parts.append(f"{len(self.uncertain)} uncertain")
        return ", ".join(parts)


@dataclass
class Pacing:
    """Time as the sender sees it; tests replace it."""

    now: Callable[[], dt.datetime]
    clock: Callable[[], float]  # wall-clock seconds, for backoff that survives a restart
    sleep: Callable[[float], None]
    should_stop: Callable[[], bool] = lambda: False
