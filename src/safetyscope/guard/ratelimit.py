"""Per-key token buckets: ``rate`` tokens/s refill, ``burst`` capacity; a request costs one token per text it
asks to judge. In-process (one per service)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """A token bucket; :meth:`take` spends ``cost`` tokens or says how long until they are available."""

    def __init__(self, rate_per_s: float, burst: int, *, now: float) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float, cost: int = 1) -> float:
        """0.0 when ``cost`` tokens were spent; otherwise the seconds until they are there (nothing spent).
        ``ValueError`` when ``cost`` exceeds ``burst`` (it could never be paid)."""
        if not 1 <= cost <= self.burst:
            raise ValueError(f"cost {cost} outside 1..{self.burst} (the burst)")
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        return (cost - self._tokens) / self.rate


class RateLimiter:
    """One bucket per key id, created on first use; a changed rate or burst replaces the bucket."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, key_id: str, rate_per_s: float | None, burst: int | None, cost: int = 1) -> float:
        """0.0 if the request (``cost`` tokens) may go (or the key has no limit); else seconds to wait (for
        ``Retry-After``). ``ValueError`` when ``cost`` exceeds the burst."""
        if rate_per_s is None:
            return 0.0
        size = burst or max(1, int(rate_per_s))
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key_id)
            if bucket is None or bucket.rate != rate_per_s or bucket.burst != size:
                bucket = self._buckets[key_id] = TokenBucket(rate_per_s, size, now=now)
            return bucket.take(now, cost)
