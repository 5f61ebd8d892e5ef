"""Work shared out among forked worker processes (the parse of a big site, its pages).

A worker sends back each part's results in one message, so parts should be big: thousands of
small messages cost the parent more than it saves. But a big last part leaves one core idle
while another finishes it. ``parts`` serves both: big parts first, smaller ones as the work
runs out, so the workers finish together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


SMALLEST = 8  # a part's fewest pieces of work: smaller ones cost more to send than to do


def parts(work: Sequence[T], jobs: int) -> list[list[T]]:
    """``work`` in order, cut into parts for ``jobs`` workers: each a quarter of an even share
    of what is left (so each worker takes several), never under ``SMALLEST``."""
    made, start = [], 0
    while start < len(work):
        size = max(SMALLEST, (len(work) - start) // (max(jobs, 1) * 4))
        made.append(list(work[start : start + size]))
        start += size
    return made
