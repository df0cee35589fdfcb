"""What the sandbox saw, for tests and benchmarks to prove their claims.

"No duplicates after a crash and retry" is proven by ``creates`` (every identifier created
once); "64 requests in flight" by ``in_flight_max``; "the client sent the singular path" by
the route templates in ``requests``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter, deque
from typing import Any


class Counters:
    """Thread-safe tallies of provider traffic; ``/_control`` traffic is never counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._creates: dict[str, Counter[str]] = {"redflag": Counter(), "snappy": Counter()}
        self._triggers: list[dict[str, Any]] = []
        self._in_flight = 0
        self._in_flight_max = 0

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            for tally in self._creates.values():
                tally.clear()
            self._triggers.clear()
            # Requests still running keep their place so the gauge never goes negative.
            self._in_flight_max = self._in_flight

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._in_flight_max = max(self._in_flight_max, self._in_flight)

    def request_finished(self, provider: str, method: str, template: str, outcome: str) -> None:
        """Count one request as ``"<provider> <METHOD> <template> <status or fault>"``."""
        with self._lock:
            self._in_flight -= 1
            self._requests[f"{provider} {method} {template} {outcome}"] += 1

    def created(self, provider: str, identifier: str) -> None:
        with self._lock:
            self._creates[provider][identifier] += 1

    def triggered(self, trigger: dict[str, Any]) -> None:
        with self._lock:
            self._triggers.append(trigger)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(sorted(self._requests.items())),
                "creates": {name: dict(tally) for name, tally in self._creates.items()},
                "triggers": copy.deepcopy(self._triggers),
                "in_flight": self._in_flight,
                "in_flight_max": self._in_flight_max,
            }


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window`` seconds per key (a sliding log).

    CONTRACT-NOTES Snappy: 100 requests/second per company, shared by all endpoints.
    Rejected requests are not logged, so a client that backs off gets through again.
    """

    def __init__(self, window: float = 1.0) -> None:
        self._window = window
        self._lock = threading.Lock()
        self._log: dict[str, deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def acquire(self, key: str, limit: int) -> float | None:
        """Record a request; return ``None`` if allowed, else seconds until a slot frees."""
        if limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            log = self._log.setdefault(key, deque())
            while log and now - log[0] >= self._window:
                log.popleft()
            if len(log) >= limit:
                return max(self._window - (now - log[0]), 0.0)
            log.append(now)
            return None
