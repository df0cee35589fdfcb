"""The sessions' cache: Django's Redis cache, answering a miss when Redis does not answer.

Sessions use Django's ``cached_db`` engine (``SESSION_ENGINE`` in settings.py): a request reads
its session from this cache, and from the database on a miss; every write goes to both. Django's
engine lets a cache error through when it refills the cache after a database read and when it
deletes, so with Redis down every signed-in page would fail. This backend, a subclass of
Django's public ``RedisCache`` overriding public methods only, turns Redis being unreachable
into a miss on reads and a no-op on writes: sessions come from the database meanwhile, and a
warning is logged once per outage in each process. After a failure Redis is left alone for
``RETRY_SECONDS``, so a Redis that hangs costs one short timeout now and then, not one per
request.

A session ended while Redis was away (a sign-out) must not come back with it: a delete that
failed is sent again by this process as soon as Redis answers, and no entry is kept longer
than the ``MAX_TIMEOUT`` of its ``CACHES`` entry, after which the session is read from the
database again. ``incr``, ``decr`` and ``clear`` are Django's, and raise.

It becomes unnecessary if Django's ``cached_db`` engine handles a cache error on every path
(read, refill, delete) as it does on ``save``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis import exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Redis not answering, or not accepting writes (a replica after a failover, memory full).
UNAVAILABLE = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    exceptions.ReadOnlyError,
    exceptions.OutOfMemoryError,
)
# How long Redis is left alone after it failed (seconds).
RETRY_SECONDS = 5.0
# Failed deletes remembered for when Redis is back (beyond this, MAX_TIMEOUT alone bounds them).
PENDING_DELETES_MAX = 10_000
# Connection options unless the CACHES entry gives its own: a Redis that hangs is given up on
# quickly, and a dropped connection is tried once more on a new one.
DEFAULT_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


class _Outage:
    """Whether one Redis is being left alone, shared by the threads of a process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down = False
        self.until = 0.0
        self.pending_deletes: set[tuple[str, int | None]] = set()


_outages: dict[str, _Outage] = {}


class SessionCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = {**DEFAULT_OPTIONS, "retry": Retry(NoBackoff(), 1), **params.get("OPTIONS", {})}
        super().__init__(server, {**params, "OPTIONS": options})
        max_timeout = params.get("MAX_TIMEOUT")
        self.max_timeout: int | None = None if max_timeout is None else int(max_timeout)
        self.outage = _outages.setdefault(str(server), _Outage())

    def _guarded(self, fallback: Any, call: Callable[[], Any]) -> Any:
        """Run ``call`` against Redis, or return ``fallback`` if Redis does not answer."""
        outage = self.outage
        if outage.down and time.monotonic() < outage.until:
            return fallback
        try:
            result = call()
        except UNAVAILABLE as exc:
            with outage.lock:
                first = not outage.down
                outage.down, outage.until = True, time.monotonic() + RETRY_SECONDS
            if first:
                # The error's type only: its text may name the server and its password.
                logger.warning(
                    "The session cache (Redis) does not answer (%s): sessions are read from "
                    "the database until it does.",
                    type(exc).__name__,
                )
            return fallback
        if outage.down:
            self._back()
        return result

    def _back(self) -> None:
        """Note that Redis answers again, and delete what could not be deleted meanwhile."""
        outage = self.outage
        with outage.lock:
            if not outage.down:
                return
            outage.down = False
            pending, outage.pending_deletes = outage.pending_deletes, set()
        logger.warning("The session cache (Redis) answers again.")
        for key, version in pending:
            self.delete(key, version=version)

    def _capped(self, timeout: float | None) -> float | None:
        backend = self.get_backend_timeout(timeout)
        if self.max_timeout is None:
            return backend
        return self.max_timeout if backend is None else min(backend, self.max_timeout)

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._guarded(default, lambda: super(SessionCache, self).get(key, default, version))

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        keys = list(keys)
        return self._guarded({}, lambda: super(SessionCache, self).get_many(keys, version))

    def has_key(self, key: str, version: int | None = None) -> bool:
        return self._guarded(False, lambda: super(SessionCache, self).has_key(key, version))

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        capped = self._capped(timeout)
        self._guarded(None, lambda: super(SessionCache, self).set(key, value, capped, version))

    def add(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        capped = self._capped(timeout)
        return self._guarded(
            False, lambda: super(SessionCache, self).add(key, value, capped, version)
        )

    def set_many(
        self,
        data: dict[str, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[str]:
        capped = self._capped(timeout)
        return self._guarded(
            list(data), lambda: super(SessionCache, self).set_many(data, capped, version)
        )

    def touch(
        self, key: str, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        capped = self._capped(timeout)
        return self._guarded(False, lambda: super(SessionCache, self).touch(key, capped, version))

    def delete(self, key: str, version: int | None = None) -> bool:
        done = object()
        result = self._guarded(done, lambda: super(SessionCache, self).delete(key, version))
        if result is done:
            with self.outage.lock:
                if len(self.outage.pending_deletes) < PENDING_DELETES_MAX:
                    self.outage.pending_deletes.add((key, version))
            return False
        return bool(result)

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        for key in keys:
            self.delete(key, version=version)
