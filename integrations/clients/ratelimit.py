"""Client-side rate limiting: one bucket per provider account, shared by every worker.

Snappy allows 100 requests/second per company, shared by every endpoint (CONTRACT-NOTES
"Snappy"). Every client talking for one account must draw from the same bucket, wherever it
runs:

* ``RedisRateLimiter`` keeps the bucket in Redis, so every thread, worker process and host
  pointed at the same Redis paces together. One Lua script reserves a slot atomically
  (GCRA: a "theoretical arrival time" moved on by one interval per request) on Redis's own
  clock, so hosts with skewed clocks still agree. It also holds the account's pause: a
  ``Retry-After`` (or a bare 429) seen by any worker stops all of them until then.
* ``FileStore`` runs the same schedule in a small file per account under one folder, locked
  with ``flock``: every worker *process of one host* paces together without a server. It is
  the embedded broker's store (``file://`` URL; the demo's three workers share it).
* ``TokenBucket`` is the same pacing in one process: clients on an injected clock (tests),
  and the fallback while the shared store is unreachable.

Both hand out *reservations*: ``reserve`` returns how long the caller must wait, so callers
are paced rather than refused, and ``acquire`` sleeps that long. Buckets live in module-level
registries keyed by the account, so clients built with the same key share one.

``account_rate_limit_key`` names an account by a fingerprint of provider, base URL, scope
(e.g. a Snappy company) and credential: two connections to the same account share a bucket,
and the credential never appears in a key, a log line or an error. Redis keys hash the key
again, so even a caller-chosen key that carried a secret would not reach Redis.

This module must not import Django: clients run in Celery workers, management commands and
benchmarks alike.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import redis

logger = logging.getLogger("integrations.clients.ratelimit")

# A 429 without Retry-After pauses the account this long: Snappy counts a one-second window.
DEFAULT_PAUSE = 1.0
# No pause is longer than this, whatever a reply asks: a sync must never wait forever.
MAX_PAUSE = 60.0
# How often ``acquire`` reserves again when a pause began while it was waiting.
_MAX_REQUEUES = 3


class RateLimiter(Protocol):
    """What a client needs of a bucket: reservations, pauses and a rate it may change."""

    rate: float
    burst: float

    def reserve(self) -> float: ...

    def acquire(self) -> float: ...

    def set_rate(self, rate: float, burst: float | None = None) -> None: ...

    def pause(self, seconds: float | None = None) -> float: ...

    def paused_for(self) -> float: ...


def _default_burst(rate: float) -> float:
    # A tenth of a second's worth by default: enough to absorb jitter between threads,
    # small enough that a burst never crosses a provider's per-second window by much.
    return max(1.0, rate / 10)


def _pause_length(seconds: float | None) -> float:
    if seconds is None:
        return DEFAULT_PAUSE
    return min(max(0.0, float(seconds)), MAX_PAUSE)


class TokenBucket:
    """Hand out ``rate`` permits per second with bursts of up to ``burst``, in one process.

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
        self.burst = float(burst) if burst is not None else _default_burst(self.rate)
        self._level = self.burst
        self._updated = clock()
        self._pause_until = self._updated

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._refill()
            self.rate = float(rate)
            self.burst = float(burst) if burst is not None else _default_burst(self.rate)
            self._level = min(self._level, self.burst)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._level = min(self.burst, self._level + elapsed * self.rate)

    def reserve(self) -> float:
        """Take one permit; return how long the caller must wait before using it."""
        return self._reserve()[0]

    def _reserve(self) -> tuple[float, float]:
        """Take one permit; return the wait and when the permit is due (on this clock)."""
        with self._lock:
            self._refill()
            self._level -= 1.0
            wait = 0.0 if self._level >= 0 else -self._level / self.rate
            return wait, self._updated + wait

    def acquire(self) -> float:
        """Block until a permit is available; return the seconds waited.

        A pause that began while the caller waited and outlasts its permit sends it to the
        back of the queue, behind the pause (a bounded number of times).
        """
        waited = 0.0
        for _ in range(_MAX_REQUEUES + 1):
            wait, due = self._reserve()
            if wait <= 0:
                break
            self._sleep(wait)
            waited += wait
            with self._lock:
                if self._pause_until <= due:
                    break
        return waited

    def pause(self, seconds: float | None = None) -> float:
        """Hand out no permit for ``seconds`` (default ``DEFAULT_PAUSE``); return the pause.

        The level drops so that the first permit after the pause is due when it ends and the
        ones queued behind it follow at the rate, not all at once.
        """
        seconds = _pause_length(seconds)
        with self._lock:
            self._refill()
            self._pause_until = max(self._pause_until, self._updated + seconds)
            self._level = min(self._level, 1.0 - seconds * self.rate)
            return self._pause_until - self._updated

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._pause_until - self._clock())


# -- the shared bucket in Redis --------------------------------------------------------------

# One hash per account: "tat" (when the bucket is next idle) and "pause" (until when nothing
# may be sent), both in microseconds of Redis's own clock, so every host reads one clock.
# Integers in microseconds stay exact in Lua's doubles (2**53 µs is 285 years). Every call
# answers {seconds to wait, when that is}: a reservation's wait and due time, or what is left
# of the pause and when it ends.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(state[1]) or 0
local pause = tonumber(state[2]) or 0
local op = ARGV[1]
if op == 'pause' then
  local untl = now + tonumber(ARGV[2])
  if untl > pause then
    pause = untl
    redis.call('HSET', KEYS[1], 'pause', string.format('%.0f', pause))
  end
elseif op == 'reserve' then
  local interval = tonumber(ARGV[2])
  local burst = tonumber(ARGV[3])
  local new_tat = math.max(tat, now, pause) + interval
  local wait = math.max(0, new_tat - now - burst * interval, pause - now)
  tat = new_tat
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat))
  redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(tat, pause) - now) / 1000) + 1000)
  return {wait, now + wait}
end
if pause > now then
  redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(tat, pause) - now) / 1000) + 1000)
end
return {math.max(0, pause - now), pause}
"""
_KEY_PREFIX = "ratelimit:v1:"


def redis_key(key: str) -> str:
    """The Redis key holding the bucket registered under ``key`` (a hash of it)."""
    return _KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


class RedisStore:
    """One Redis server's connection pool and the limiter script, with outage bookkeeping.

    Short socket timeouts and one immediate reconnect: a slow or absent Redis costs a request
    at most about a second, after which every limiter on this store paces in-process for
    ``retry_interval`` seconds before trying Redis again.
    """

    timeout = 0.5
    retry_interval = 5.0

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._script = self._client.register_script(_SCRIPT)
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until: float | None = None

    def run(self, key: str, *args: float | str) -> tuple[float, float] | None:
        """Run the script on ``key``: (seconds, when) in seconds, or None if Redis is down."""
        if self._down_until is not None and self._clock() < self._down_until:
            return None
        try:
            seconds, when = self._script(keys=[key], args=list(args))
        except self._errors as exc:
            self._failed(exc)
            return None
        if self._down_until is not None:
            with self._lock:
                if self._down_until is not None:
                    self._down_until = None
                    logger.warning("The shared rate limit store is reachable again.")
        return int(seconds) / 1_000_000, int(when) / 1_000_000

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._clock() + self.retry_interval
        if first:
            # The exception's class only: a message could carry the server's address.
            logger.warning(
                "The shared rate limit store (Redis) is unreachable (%s): each worker now "
                "paces its own requests, so together they may exceed the provider's limit. "
                "Trying Redis again every %.0f seconds.",
                type(exc).__name__,
                self.retry_interval,
            )


class FileStore:
    """The limiter's schedule in files, for the worker processes of one host (no server).

    One file per account under ``folder`` holds the same two numbers the Redis hash does
    ("tat" and "pause", in microseconds of the host's monotonic clock, which every process
    of one boot shares). Each call takes the file's exclusive ``flock``, reads, computes as
    the Redis script does, writes and releases: a few microseconds, so pacing a hundred
    requests a second costs nothing noticeable. If the folder cannot be used, ``run`` answers
    None and the caller paces in-process, as while Redis is down.
    """

    def __init__(self, folder: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._folder = folder
        self._clock = clock
        self._warned = False

    def run(self, key: str, *args: float | str) -> tuple[float, float] | None:
        import fcntl
        import os

        op = args[0]
        path = os.path.join(self._folder, key.replace(":", "_"))
        try:
            os.makedirs(self._folder, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "The rate limit folder cannot be used (%s): each worker paces its own "
                    "requests.",
                    type(exc).__name__,
                )
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0).split()
            tat = int(raw[0]) if len(raw) > 0 else 0
            pause = int(raw[1]) if len(raw) > 1 else 0
            now = round(self._clock() * 1_000_000)
            if op == "pause":
                pause = max(pause, now + int(args[1]))
                answer = (max(0, pause - now), pause)
            elif op == "reserve":
                interval, burst = int(args[1]), float(args[2])
                tat = max(tat, now, pause) + interval
                wait = max(0, tat - now - round(burst * interval), pause - now)
                answer = (wait, now + wait)
            else:
                answer = (max(0, pause - now), pause)
            if op in ("pause", "reserve"):
                data = f"{tat} {pause}".encode().ljust(64)
                os.pwrite(fd, data, 0)
        finally:
            os.close(fd)  # releases the lock
        return answer[0] / 1_000_000, answer[1] / 1_000_000


class RedisRateLimiter:
    """The account's bucket in Redis (or a ``FileStore``), shared by every worker process;
    in-process while the store is unreachable.

    ``fallback`` is the process's own bucket for the same key. It is paused with the shared
    one, so a pause survives an outage that begins during it.
    """

    def __init__(
        self,
        store: RedisStore | FileStore,
        key: str,
        rate: float,
        *,
        burst: float | None = None,
        fallback: TokenBucket,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._store = store
        self._key = redis_key(key)
        self._fallback = fallback
        self._sleep = sleep
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else _default_burst(self.rate)

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        # The rate travels with every reservation: Redis stores only when the bucket is idle.
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else _default_burst(self.rate)
        self._fallback.set_rate(rate, burst)

    def _reserve(self) -> tuple[float, float] | None:
        interval = round(1_000_000 / self.rate)
        return self._store.run(self._key, "reserve", interval, self.burst)

    def reserve(self) -> float:
        """Take one slot of the account's schedule; return how long to wait before using it."""
        reserved = self._reserve()
        return self._fallback.reserve() if reserved is None else reserved[0]

    def acquire(self) -> float:
        """Block until this caller's slot comes; return the seconds waited.

        A pause that another worker began while this one waited, and that outlasts its slot,
        sends it to the back of the queue, behind the pause (a bounded number of times).
        """
        waited = 0.0
        for _ in range(_MAX_REQUEUES + 1):
            reserved = self._reserve()
            if reserved is None:
                return waited + self._fallback.acquire()
            wait, due = reserved
            if wait <= 0:
                break
            self._sleep(wait)
            waited += wait
            pause = self._store.run(self._key, "check")
            if pause is None or pause[1] <= due:
                break
        return waited

    def pause(self, seconds: float | None = None) -> float:
        """Stop every worker of the account for ``seconds`` (default ``DEFAULT_PAUSE``).

        A longer pause already in force is kept. Returns the pause now in force.
        """
        seconds = _pause_length(seconds)
        local = self._fallback.pause(seconds)
        shared = self._store.run(self._key, "pause", round(seconds * 1_000_000))
        return local if shared is None else shared[0]

    def paused_for(self) -> float:
        """Seconds left of the account's pause (0 when not paused)."""
        shared = self._store.run(self._key, "check")
        return self._fallback.paused_for() if shared is None else shared[0]


# -- registries --------------------------------------------------------------------------------

_registry: dict[str, TokenBucket] = {}
_shared: dict[tuple[str, str], RedisRateLimiter] = {}
_stores: dict[str, RedisStore | FileStore] = {}
_registry_lock = threading.Lock()


def _store_for(url: str) -> RedisStore | FileStore:
    """The store a URL names: ``redis://``/``rediss://`` a Redis, ``file:///folder`` a folder."""
    with _registry_lock:
        store = _stores.get(url)
        if store is None:
            if url.startswith("file://"):
                store = _stores[url] = FileStore(url.removeprefix("file://"))
            else:
                store = _stores[url] = RedisStore(url)
        return store


def shared_rate_limiter(
    key: str,
    rate: float,
    *,
    burst: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    redis_url: str | None = None,
) -> RateLimiter:
    """Return the bucket registered under ``key``, creating it on first use.

    With ``redis_url`` the bucket lives in that Redis and is shared by every process using
    it (a ``RedisRateLimiter``); a ``file:///folder`` URL keeps it in that folder, shared by
    the processes of one host; without it, by this process's threads (a ``TokenBucket``).
    A later caller with a different rate updates the shared bucket's rate (settings changed);
    the clock and sleep of the first creator stay in force.
    """
    with _registry_lock:
        bucket = _registry.get(key)
        if bucket is None:
            bucket = _registry[key] = TokenBucket(rate, burst=burst, clock=clock, sleep=sleep)
    limiter: RateLimiter = bucket
    if redis_url:
        store = _store_for(redis_url)
        with _registry_lock:
            shared = _shared.get((redis_url, key))
            if shared is None:
                shared = _shared[(redis_url, key)] = RedisRateLimiter(
                    store, key, rate, burst=burst, fallback=bucket, sleep=sleep
                )
        limiter = shared
    if limiter.rate != float(rate) or (burst is not None and limiter.burst != float(burst)):
        limiter.set_rate(rate, burst)
    return limiter


def forget_rate_limiter(key: str) -> None:
    """Drop a registered bucket (a connection was deleted, or a test cleans up).

    The Redis state is left to expire by itself: other workers may still be pacing with it.
    """
    with _registry_lock:
        _registry.pop(key, None)
        for registered in [k for k in _shared if k[1] == key]:
            del _shared[registered]


def account_rate_limit_key(
    provider: str, base_url: str, credential: str, *, scope: str = "", pepper: str = ""
) -> str:
    """Name a provider account for its rate limit, without the credential in the name.

    Two connections with the same provider, base URL, scope (a Snappy company) and credential
    are one account at the provider, so they get one key and share one bucket. The key holds
    an HMAC of those parts (keyed by ``pepper``, e.g. the project's secret key, so a weak
    credential cannot be guessed from it offline), never the parts themselves.
    """
    parts = urlsplit(base_url.strip().rstrip("/"))
    url = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
    message = "\x00".join((provider, url, scope.strip(), credential.strip())).encode()
    digest = hmac.new(f"rate-limit-account:{pepper}".encode(), message, hashlib.sha256).hexdigest()
    return f"{provider}:account:{digest[:32]}"
