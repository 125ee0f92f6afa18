"""Per-caller token buckets of query cost, in the memory of one worker process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Past this many callers, buckets that have refilled completely are forgotten: a full bucket
# is the state a new caller starts in, so dropping it changes nothing but memory.
MAX_TRACKED = 10_000


@dataclass(slots=True)
class _Bucket:
    level: float
    updated: float


class RateLimiter:
    """A token bucket per caller key: `cost_per_minute` capacity, refilled continuously."""

    def __init__(self, cost_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(cost_per_minute)
        self.refill_per_second = cost_per_minute / 60.0
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}

    def take(self, key: str, cost: int) -> int | None:
        """Spend `cost` from the caller's bucket; None if allowed, else seconds to wait."""
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_TRACKED:
                self._forget_full(now)
            bucket = self.buckets[key] = _Bucket(self.capacity, now)
        else:
            bucket.level = min(
                self.capacity, bucket.level + (now - bucket.updated) * self.refill_per_second
            )
            bucket.updated = now
        if cost <= bucket.level:
            bucket.level -= cost
            return None
        # An operation costlier than the whole bucket waits for a full bucket and still fails:
        # it is refused as QUERY_TOO_COMPLEX first whenever the cost limit is below the rate.
        missing = min(cost, self.capacity) - bucket.level
        return max(1, math.ceil(missing / self.refill_per_second))

    def _forget_full(self, now: float) -> None:
        full = [
            key
            for key, b in self.buckets.items()
            if b.level + (now - b.updated) * self.refill_per_second >= self.capacity
        ]
        for key in full:
            del self.buckets[key]
