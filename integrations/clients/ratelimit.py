"""Client-side rate limiting: a thread-safe token bucket per provider connection.

Snappy allows 100 requests/second per company, shared by every endpoint (CONTRACT-NOTES
"Snappy"). Several client instances (Celery threads, a benchmark's pool) may talk for the same
company at once, so buckets live in a module-level registry keyed by connection: clients built
with the same key share one bucket and together stay under the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Hand out ``rate`` permits per second with bursts of up to ``burst``.

    ``acquire`` reserves a permit under the lock and sleeps outside it, so waiting threads
    queue in arrival order and the lock is never held while sleeping. The bucket's level may
    go negative: that is the queue of reservations still to be served.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.rate = float(rate)
        # A tenth of a second's worth by default: enough to absorb jitter between threads,
        # small enough that a burst never crosses a provider's per-second window by much.
        self.burst = float(burst) if burst is not None else max(1.0, self.rate / 10)
        self._level = self.burst
        self._updated = clock()

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._refill()
            self.rate = float(rate)
            self.burst = float(burst) if burst is not None else max(1.0, self.rate / 10)
            self._level = min(self._level, self.burst)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._level = min(self.burst, self._level + elapsed * self.rate)

    def reserve(self) -> float:
        """Take one permit; return how long the caller must wait before using it."""
        with self._lock:
            self._refill()
            self._level -= 1.0
            return 0.0 if self._level >= 0 else -self._level / self.rate

    def acquire(self) -> float:
        """Block until a permit is available; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


_registry: dict[str, TokenBucket] = {}
_registry_lock = threading.Lock()


def shared_rate_limiter(
    key: str,
    rate: float,
    *,
    burst: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> TokenBucket:
    """Return the bucket registered under ``key``, creating it on first use.

    A later caller with a different rate updates the shared bucket's rate (settings changed);
    the clock and sleep of the first creator stay in force.
    """
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = _registry[key] = TokenBucket(rate, burst=burst, clock=clock, sleep=sleep)
            return bucket
    if bucket.rate != float(rate) or (burst is not None and bucket.burst != float(burst)):
        bucket.set_rate(rate, burst)
    return bucket


def forget_rate_limiter(key: str) -> None:
    """Drop a registered bucket (a connection was deleted, or a test cleans up)."""
    with _registry_lock:
        _registry.pop(key, None)
