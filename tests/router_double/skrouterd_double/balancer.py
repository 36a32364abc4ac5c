"""Choosing a target for a new stream among several (Skupper's "link cost" rule).

Each candidate has a path cost (0 for a target on this router, else the sum of link costs).
A new stream goes to the candidate with the lowest ``cost + streams open through it``; ties
go to the cheaper one. So the cheapest path takes every stream until its open streams exceed
the cost difference to the next one, then new streams spread across both, as the real
router's balanced forwarding does (it counts outstanding deliveries, one per TCP stream).
Candidates whose last stream failed to open are skipped for ``FAILED_HOLD_SECONDS`` while
others are left.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Hashable

FAILED_HOLD_SECONDS = 5.0


@dataclass(frozen=True)
class Candidate:
    """A place a stream can go: ``key`` names it (e.g. ``("interior", "site-b")``)."""

    key: Hashable
    cost: int


class Balancer:
    """Open-stream counts per candidate on one router."""

    def __init__(self) -> None:
        self.open: Counter[Hashable] = Counter()
        self._streams: dict[str, Hashable] = {}
        self._failed_until: dict[Hashable, float] = {}

    def choose(self, stream_id: str, candidates: list[Candidate]) -> Candidate:
        """Pick a candidate for ``stream_id`` and count the stream against it."""
        now = time.monotonic()
        healthy = [c for c in candidates if self._failed_until.get(c.key, 0.0) <= now]
        best = min(healthy or candidates,
                   key=lambda c: (c.cost + self.open[c.key], c.cost, self.open[c.key], str(c.key)))
        self.open[best.key] += 1
        self._streams[stream_id] = best.key
        return best

    def release(self, stream_id: str, *, failed: bool = False) -> None:
        """The stream ended; ``failed``: it never opened (its target is skipped for a while)."""
        key = self._streams.pop(stream_id, None)
        if key is None:
            return
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]
        if failed:
            self._failed_until[key] = time.monotonic() + FAILED_HOLD_SECONDS
        else:
            self._failed_until.pop(key, None)
