"""The shared HTTP base of every provider client.

One pooled ``httpx.Client`` per client instance, explicit timeouts, no redirects, and a single
choke point, ``BaseClient._request``, that:

* throttles through the connection's token bucket (if it has a rate limit),
* sends the request and reads the reply while streaming, refusing more than
  ``max_reply_bytes``; a list reply (``_read_list``) is parsed as it arrives instead, so its
  size is unbounded and the cap (``max_record_bytes``) applies to each record,
* turns every transport failure and error reply into a typed ``ProviderError``,
* retries with exponential backoff and full jitter on 429/502/503/504 (and 500 for reads)
  and on connection failures, honouring ``Retry-After``, bounded by ``max_attempts`` and
  ``total_timeout``.

Retry safety: a request that never left (connect failure, pool timeout) or was refused before
it could act (429; plus the statuses a subclass lists in ``unsent_statuses``) may always be
repeated. A request that may have reached the provider (read timeout, dropped connection,
502/503/504, unreadable reply) is repeated only when it is idempotent (GET/PUT/PATCH/DELETE);
a 500 only when it is a read (GET/HEAD/OPTIONS), which cannot have changed anything. A POST
in that state is raised with ``outcome_unknown=True``; ``_create`` then looks for the record
before trying again, so a create is never duplicated by a retry.

Secrets: credentials are held in private attributes, sent only as headers, redacted from
every log line (``redact_headers``) and scrubbed from every error message (``_scrub``).
Neither ``str`` nor ``repr`` of a client or an error shows them.

This module must not import Django: clients run in Celery workers, management commands and
benchmarks alike.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import urlsplit

import httpx

from integrations.catalogue import disabled_paths
from integrations.urlguard import AddressRefused, AddressRules, guarded_transport

from .errors import (
    Conflict,
    CredentialsMissing,
    FieldNotEnabled,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from .jsonstream import JSONStreamError, ObjectStream, ValueTooLarge
from .ratelimit import RateLimiter, shared_rate_limiter

logger = logging.getLogger("integrations.clients")

T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})
REDACTED = "[redacted]"
_BEARER_RE = re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+")
_RETRY_AFTER_SECONDS_RE = re.compile(r"^\d+(\.\d+)?$")
_NO_BODY: Any = object()
_DEFAULT: Any = object()


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return a copy of ``headers`` fit for a log line: credentials replaced by a marker."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: (REDACTED if name.lower() in SECRET_HEADERS else value) for name, value in items}


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or None when absent or unusable.

    Accepts delta-seconds (``0`` included) and an HTTP-date (a date in the past means 0);
    anything else is ignored so the caller falls back to its own backoff.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _RETRY_AFTER_SECONDS_RE.match(value):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class Reply:
    """One HTTP reply, read in full (within the size cap), or left open to be streamed.

    A streamed reply (``_request(..., stream=True)``, success statuses only) has no
    ``content``; read it with ``iter_bytes()`` and ``close()`` it.
    """

    __slots__ = (
        "_json",
        "_response",
        "attempts",
        "content",
        "elapsed",
        "headers",
        "method",
        "path",
        "status",
    )

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int,
        headers: httpx.Headers,
        content: bytes | bytearray,
        elapsed: float,
        attempts: int = 1,
        response: httpx.Response | None = None,
    ) -> None:
        self._response = response
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.content = content
        self.elapsed = elapsed
        self.attempts = attempts
        self._json: Any = _NO_BODY

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def streamed(self) -> bool:
        return self._response is not None

    def iter_bytes(self) -> Iterator[bytes]:
        """The body's decoded bytes as they arrive (a streamed reply only)."""
        if self._response is None:
            yield bytes(self.content)
            return
        yield from self._response.iter_bytes()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """Parse the body as JSON once; raise ``ValueError`` if it is not JSON."""
        if self._json is _NO_BODY:
            if not self.content.strip():
                raise ValueError("empty body")
            self._json = json.loads(self.content)
        return self._json

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"<Reply {self.method} {self.path} {self.status} {len(self.content)} bytes>"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the last call did: for "Test connection" and for logs."""

    method: str
    path: str
    status: int | None
    attempts: int
    latency: float  # seconds, the last attempt's round trip
    duration: float  # seconds, the whole call including retries and waits
    error: str | None = None

    @property
    def latency_ms(self) -> float:
        return round(self.latency * 1000, 1)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """Passed to the ``on_request`` hook after every attempt."""

    provider: str
    method: str
    path: str
    attempt: int
    status: int | None
    elapsed: float
    error: str | None
    will_retry: bool


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """The result of ``check_credentials``: the credentials work, and how fast."""

    provider: str
    latency: float
    message: str

    @property
    def latency_ms(self) -> float:
        return round(self.latency * 1000, 1)


class ClientStats:
    """Counters for observability; safe to read and update from many threads."""

    __slots__ = ("_lock", "errors", "rate_limit_wait", "recovered_creates", "requests", "retries")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.errors = 0
        self.recovered_creates = 0
        self.rate_limit_wait = 0.0

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "errors": self.errors,
                "recovered_creates": self.recovered_creates,
                "rate_limit_wait": self.rate_limit_wait,
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.as_dict()})"


class _ReplyTooLarge(Exception):
    pass


@dataclass(slots=True)
class ListRead:
    """What ``_read_list`` saw in the one complete reply it read.

    ``members``: the reply's members other than the list; ``count``: the list's length
    (elements skipped as already seen included); ``last_key``: the key of its last element;
    ``yielded``: how many elements were handed out, over every attempt.
    """

    members: dict[str, Any]
    count: int = 0
    last_key: str | None = None
    yielded: int = 0


class BaseClient:
    """Shared machinery; one subclass per provider supplies auth, paths and error mapping.

    Every setting is a class-level default that a constructor argument overrides. Tests
    inject ``sleep``, ``clock``, ``wall_clock`` and ``jitter`` (never real sleeps) and may
    pass an ``httpx`` ``transport``.
    """

    provider: ClassVar[str] = ""
    label: ClassVar[str] = "The provider"

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    pool_timeout: float = 10.0
    max_attempts: int = 5
    total_timeout: float = 120.0  # budget for one call, retries and waits included
    backoff_base: float = 1.0  # 1, 2, 4, 8, 16 s (CONTRACT-NOTES "Snappy")
    backoff_cap: float = 16.0
    max_retry_after: ClassVar[float] = 60.0
    max_reply_bytes: int = 20 * 1024 * 1024
    # One record of a streamed list; a record this large is no recipient (CONTRACT-NOTES).
    max_record_bytes: int = 1024 * 1024
    default_rate_limit: ClassVar[float | None] = None
    # A provider limit like Snappy's is counted in a sliding one-second window. Pacing at
    # 95 % of it with no burst keeps every window under the limit even when network jitter
    # bunches requests up on arrival.
    rate_limit_headroom: ClassVar[float] = 0.95
    rate_limit_burst: ClassVar[float] = 1.0
    retry_statuses: ClassVar[frozenset[int]] = frozenset({429, 502, 503, 504})
    # Statuses that prove the provider did nothing, so even a POST may be repeated.
    unsent_statuses: ClassVar[frozenset[int]] = frozenset({429})
    user_agent: ClassVar[str] = "recipient-dashboard-client/1.0"

    def __init__(
        self,
        base_url: str,
        *,
        enabled_fields: Iterable[str] | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        pool_timeout: float | None = None,
        max_attempts: int | None = None,
        total_timeout: float | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        max_reply_bytes: int | None = None,
        max_record_bytes: int | None = None,
        rate_limit: float | None = _DEFAULT,
        rate_limit_key: str | None = None,
        rate_limiter: RateLimiter | None = None,
        rate_limit_redis_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        address_rules: AddressRules | None = None,
        limits: httpx.Limits | None = None,
        trust_env: bool = False,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
        jitter: Callable[[], float] | None = None,
        on_request: Callable[[RequestEvent], object] | None = None,
    ) -> None:
        try:
            self.base_url = self._check_base_url(base_url)
        except ProviderError as exc:
            exc.provider = self.provider
            raise
        self.enabled_fields: frozenset[str] | None = (
            None if enabled_fields is None else frozenset(enabled_fields)
        )
        self.connect_timeout = _pick(connect_timeout, type(self).connect_timeout)
        self.read_timeout = _pick(read_timeout, type(self).read_timeout)
        self.write_timeout = _pick(write_timeout, type(self).write_timeout)
        self.pool_timeout = _pick(pool_timeout, type(self).pool_timeout)
        self.max_attempts = max(1, _pick(max_attempts, type(self).max_attempts))
        self.total_timeout = _pick(total_timeout, type(self).total_timeout)
        self.backoff_base = _pick(backoff_base, type(self).backoff_base)
        self.backoff_cap = _pick(backoff_cap, type(self).backoff_cap)
        self.max_reply_bytes = _pick(max_reply_bytes, type(self).max_reply_bytes)
        self.max_record_bytes = _pick(max_record_bytes, type(self).max_record_bytes)
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._wall_clock = wall_clock or time.time
        self._jitter = jitter or random.random
        self._on_request = on_request
        self.stats = ClientStats()
        self.last_call: CallRecord | None = None

        rate = self.default_rate_limit if rate_limit is _DEFAULT else rate_limit
        if rate_limiter is not None:
            self.rate_limiter: RateLimiter | None = rate_limiter
        elif rate:
            key = rate_limit_key or self._rate_limit_key()
            self.rate_limiter = shared_rate_limiter(
                key,
                rate * self.rate_limit_headroom,
                burst=self.rate_limit_burst,
                clock=self._clock,
                sleep=self._sleep,
                # Redis keeps its own clock: a client on an injected clock paces in-process.
                redis_url=rate_limit_redis_url if clock is None else None,
            )
        else:
            self.rate_limiter = None

        self.timeout = httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )
        limits = limits or httpx.Limits(max_connections=64, max_keepalive_connections=32)
        if transport is None and address_rules is not None:
            # SSRF: the host is resolved and its addresses checked on every new connection,
            # not only when the URL was saved (a name can be re-pointed meanwhile).
            transport = guarded_transport(
                allow_loopback=address_rules.allow_loopback, limits=limits
            )
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            follow_redirects=False,  # SSRF: an admin-set base URL must not bounce us elsewhere
            transport=transport,
            limits=limits,
            trust_env=trust_env,  # no proxy or .netrc credentials picked up from the host
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )

    # -- hooks for subclasses ---------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def _default_params(self) -> dict[str, str]:
        return {}

    def _secret_values(self) -> Iterable[str]:
        return ()

    def _rate_limit_key(self) -> str:
        return f"{self.provider}:{self.base_url}"

    def _error_for(self, reply: Reply) -> ProviderError | None:
        """Map a reply to a typed error, or None when it is a success.

        The default maps by status only; subclasses read their provider's error bodies and
        fall back to this.
        """
        status = reply.status
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return ProviderError(
                f"{self.label} answered with a redirect (HTTP {status}), which is never "
                "followed; check the base URL.",
                status=status,
            )
        if status == 429:
            return RateLimited(
                f"{self.label} is rate limiting requests; try again shortly.",
                retry_after=self._retry_after(reply),
            )
        if status == 401:
            return Unauthorized(f"{self.label} rejected the credentials.", status=status)
        if status == 403:
            return Forbidden(
                f"{self.label} accepted the credentials but does not allow this action.",
                status=status,
            )
        if status == 404:
            return NotFound(f"{self.label} has no such record.", status=status)
        if status == 409:
            return Conflict(status=status)
        if status in (400, 422):
            return Invalid(f"{self.label} refused the data as invalid.", status=status)
        if status >= 500:
            return Unavailable(
                f"{self.label} is having trouble (HTTP {status}); try again later.", status=status
            )
        return ProviderError(f"{self.label} answered with HTTP {status}.", status=status)

    # -- public helpers ---------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    # -- field enablement -------------------------------------------------------------------

    def _enforce_fields(
        self,
        payload: Mapping[str, Any],
        *,
        provider: str | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> None:
        """Refuse a write that carries a field this connection has not enabled.

        ``enabled_fields=None`` means the connection's field settings are unknown; the safe
        reading is "nothing is enabled", so every write is refused (reads still work).
        ``current`` (the record as it is now) lets a whole custom-field list carry disabled
        entries unchanged (see ``catalogue.disabled_paths``).
        """
        provider = provider or self.provider
        if self.enabled_fields is None:
            paths = disabled_paths(provider, payload, ())
            raise FieldNotEnabled(
                paths,
                "This client was built without field settings, so it may not write. "
                "Fields in the request: " + (", ".join(sorted(set(paths))) or "none"),
                provider=self.provider,
            )
        paths = disabled_paths(provider, payload, self.enabled_fields, current)
        if paths:
            raise FieldNotEnabled(paths, provider=self.provider)

    # -- the choke point --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = _NO_BODY,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        accept: Collection[int] = (),
        validate: Callable[[Reply], ProviderError | None] | None = None,
        deadline: float | None = None,
        stream: bool = False,
    ) -> Reply:
        """Send one logical request; return a successful ``Reply`` or raise a ``ProviderError``.

        ``accept`` lists statuses handed back to the caller instead of raised (e.g. a 405
        that triggers a fallback). ``validate`` replaces ``_error_for`` for this call.
        ``idempotent`` overrides the method's default retry safety. ``stream``: a success
        is returned unread and unvalidated (the caller reads and closes it); an error reply
        is read, mapped and retried as usual.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        read_only = idempotent and method in READ_METHODS
        validate = validate or self._error_for
        started = self._clock()
        if deadline is None:
            deadline = started + self.total_timeout
        attempt = 0
        uncertain = False  # an earlier attempt may have acted although it failed
        while True:
            attempt += 1
            if self.rate_limiter is not None:
                waited = self.rate_limiter.acquire()
                if waited:
                    self.stats.add(rate_limit_wait=waited)
            error: ProviderError | None = None
            reply: Reply | None = None
            retry_after: float | None = None
            sent_at = self._clock()
            try:
                reply = self._send(method, path, params, json, headers, stream=stream)
            except _ReplyTooLarge:
                error = MalformedReply(
                    f"{self.label} sent a reply larger than "
                    f"{self.max_reply_bytes // (1024 * 1024)} MB; it was not read.",
                    retryable=False,
                    outcome_unknown=True,
                )
            except httpx.HTTPError as exc:
                error = self._transport_error(exc)
            elapsed = self._clock() - sent_at
            self.stats.add(requests=1)

            if reply is not None:
                reply.elapsed = elapsed
                reply.attempts = attempt
                if reply.status in accept or reply.streamed:
                    self._record(method, path, reply.status, attempt, elapsed, started, None)
                    self._notify(method, path, attempt, reply.status, elapsed, None, False)
                    return reply
                try:
                    error = validate(reply)
                except ProviderError as exc:  # a validator may raise instead of returning
                    error = exc
                if error is None:
                    self._record(method, path, reply.status, attempt, elapsed, started, None)
                    self._notify(method, path, attempt, reply.status, elapsed, None, False)
                    self._log(method, path, reply.status, elapsed, attempt)
                    return reply
                retry_after = self._retry_after(reply)
                if reply.status == 429 and self.rate_limiter is not None:
                    # Every client of the account (every worker, with Redis) stops until then.
                    self.rate_limiter.pause(retry_after)
                if error.status is None:
                    error.status = reply.status
                if (reply.ok and isinstance(error, MalformedReply)) or (
                    reply.status >= 500 and reply.status not in self.unsent_statuses
                ):
                    # A success that could not be read, or a server error part-way through:
                    # the provider may have acted.
                    error.outcome_unknown = True

            assert error is not None
            retry = self._should_retry(error, reply, idempotent, read_only=read_only)
            delay = 0.0
            if retry:
                delay = self._retry_delay(attempt, retry_after)
                if (
                    attempt >= self.max_attempts
                    or self._clock() + delay > deadline
                    or (retry_after is not None and retry_after > self.max_retry_after)
                ):
                    # Out of attempts or time, or asked to wait longer than a call should
                    # block: raise (RateLimited carries retry_after for the caller).
                    retry = False
            status = reply.status if reply is not None else None
            self._notify(method, path, attempt, status, elapsed, error, retry)
            self._log(method, path, status, elapsed, attempt, error)
            if not retry:
                error.after_unknown_outcome = uncertain
                self.stats.add(errors=1)
                self._record(method, path, status, attempt, elapsed, started, type(error).__name__)
                raise self._finish(error, attempt)
            uncertain = uncertain or error.outcome_unknown
            self.stats.add(retries=1)
            logger.info(
                "%s %s %s: %s; retry %d in %.2fs",
                self.provider,
                method,
                path,
                type(error).__name__,
                attempt,
                delay,
            )
            if delay > 0:
                self._sleep(delay)

    def _should_retry(
        self, error: ProviderError, reply: Reply | None, idempotent: bool, *, read_only: bool
    ) -> bool:
        if reply is None:  # transport failure: retry unless the request may have acted
            return error.retryable and (idempotent or not error.outcome_unknown)
        if not reply.ok:
            if reply.status == 500 and read_only:
                return True  # a read changed nothing: a passing 500 is worth another try
            if reply.status not in self.retry_statuses:
                return False
            return idempotent or reply.status in self.unsent_statuses
        # A 2xx the client could not read (malformed, truncated): only reads may repeat.
        return isinstance(error, MalformedReply) and error.retryable and idempotent

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return self._jitter() * ceiling  # full jitter: uniform in [0, ceiling)

    def _retry_after(self, reply: Reply) -> float | None:
        return parse_retry_after(reply.headers.get("retry-after"), now=self._wall_clock())

    def _transport_error(self, exc: httpx.HTTPError) -> ProviderError:
        """Map an httpx exception; ``outcome_unknown`` marks a request that may have acted."""
        logger.debug("%s transport error: %s", self.provider, self._scrub(repr(exc)))
        label = self.label
        if isinstance(exc.__cause__, AddressRefused):  # httpx raises its error from httpcore's
            return ProviderError(f"Refused to connect to {label}: {exc.__cause__}")
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return ProviderTimeout(f"Could not connect to {label} in time.")
        if isinstance(exc, httpx.ConnectError):
            return Unavailable(f"Could not connect to {label}.")
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeout(f"{label} did not answer in time.", outcome_unknown=True)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return Unavailable(f"{label} dropped the connection.", outcome_unknown=True)
        if isinstance(exc, httpx.DecodingError):
            return MalformedReply(
                f"{label} sent a reply that could not be decoded.", outcome_unknown=True
            )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ProviderError(f"The base URL for {label} is not usable.")
        if isinstance(exc, httpx.TransportError):
            return Unavailable(f"Could not talk to {label}.", outcome_unknown=True)
        return ProviderError(f"Could not talk to {label}.", outcome_unknown=True)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        headers: Mapping[str, str] | None,
        *,
        stream: bool = False,
    ) -> Reply:
        merged = {**self._default_params(), **(params or {})}
        all_headers = {**self._auth_headers(), **(headers or {})}
        request = self._http.build_request(
            method,
            path,
            params={k: v for k, v in merged.items() if v is not None} or None,
            json=None if body is _NO_BODY else body,
            headers=all_headers,
        )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s -> %s %s headers=%s",
                self.provider,
                method,
                request.url.path,
                redact_headers(request.headers.multi_items()),
            )
        response = self._http.send(request, stream=True)
        if stream and 200 <= response.status_code < 300:
            return Reply(
                method=method,
                path=path,
                status=response.status_code,
                headers=response.headers,
                content=b"",
                elapsed=0.0,
                response=response,
            )
        try:
            content = self._read_capped(response)
        finally:
            response.close()
        return Reply(
            method=method,
            path=path,
            status=response.status_code,
            headers=response.headers,
            content=content,
            elapsed=0.0,
        )

    def _read_capped(self, response: httpx.Response) -> bytearray:
        """Read the body into one buffer, refusing more than ``max_reply_bytes``."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_reply_bytes:
            raise _ReplyTooLarge
        buffer = bytearray()
        for chunk in response.iter_bytes():  # decoded bytes: the cap also stops gzip bombs
            buffer += chunk
            if len(buffer) > self.max_reply_bytes:
                raise _ReplyTooLarge
        return buffer

    # -- lists read as a stream --------------------------------------------------------------

    def _read_list(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        array_key: str,
        check: Callable[[Mapping[str, Any], bool], ProviderError | None],
        key: Callable[[Any], str | None],
        seen: set[str],
        result: ListRead,
    ) -> Iterator[Any]:
        """GET a list reply and yield the elements of its array ``array_key`` as they arrive.

        The body is parsed while it streams in (``jsonstream``): its size is unbounded, and
        a single element over ``max_record_bytes`` is refused (``MalformedReply``, not
        retried). ``check(members, complete)`` maps the reply's other members to an error:
        it is called when the array starts (with the members before it) and once the object
        is complete. An element whose ``key`` is in ``seen`` is skipped; each yielded key is
        added to it.

        A reply that breaks off or turns to garbage part-way, or a connection dropped while
        reading, repeats the GET (up to ``max_attempts`` replies): elements yielded before
        are skipped by key, so nothing is handed out twice. If no attempt completes, the
        error is raised after the elements already yielded: a caller must treat them as an
        incomplete listing. ``result`` is filled from the complete reply.
        """
        replies = 0
        while True:
            reply = self._request("GET", path, params=params, stream=True)
            replies += reply.attempts
            count, last_key = 0, None
            error: ProviderError | None = None
            try:
                stream = ObjectStream(
                    reply.iter_bytes(), array_key, max_value_chars=self.max_record_bytes
                )
                found = stream.open()
                error = check(stream.members, not found)
                if error is None and not found:
                    error = MalformedReply(
                        f"{self.label} sent a list reply without its list ({array_key}).",
                        retryable=False,
                    )
                if error is None:
                    for element in stream.items():
                        count += 1
                        element_key = key(element)
                        last_key = element_key
                        if element_key is not None:
                            if element_key in seen:
                                continue
                            seen.add(element_key)
                        result.yielded += 1
                        yield element
                    error = check(stream.finish(), True)
            except ValueTooLarge:
                error = MalformedReply(
                    f"{self.label} sent a list with a record larger than "
                    f"{_megabytes(self.max_record_bytes)}; the list was not read.",
                    retryable=False,
                )
            except JSONStreamError as exc:
                error = MalformedReply(f"{self.label} sent a list that could not be read: {exc}.")
            except httpx.HTTPError as exc:
                error = self._transport_error(exc)
            finally:
                reply.close()
            if error is None:
                result.members, result.count, result.last_key = stream.members, count, last_key
                return
            error.status = error.status or reply.status
            if not error.retryable or replies >= self.max_attempts:
                self.stats.add(errors=1)
                raise self._finish(error, replies)
            self.stats.add(retries=1)
            delay = self._retry_delay(replies, None)
            logger.info(
                "%s GET %s: %s after %d records; read again in %.2fs",
                self.provider,
                path,
                type(error).__name__,
                count,
                delay,
            )
            if delay > 0:
                self._sleep(delay)

    # -- creates that survive an unknown outcome ---------------------------------------------

    def _create(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        parse: Callable[[Reply], T],
        find_existing: Callable[[], T | None] | None,
        params: Mapping[str, Any] | None = None,
        validate: Callable[[Reply], ProviderError | None] | None = None,
    ) -> T:
        """POST a new record; after an unknown outcome, look for it before trying again.

        A timeout, a dropped connection, a 5xx or an unreadable reply may hide a create that
        succeeded. Repeating the POST blindly could make a duplicate, so the record is looked
        up first (``find_existing``: by email or external id) and returned if found. A
        Conflict on a later attempt means an earlier attempt landed: the record is looked up
        and returned. Without a way to look it up, the error is raised with
        ``outcome_unknown=True``.
        """
        started = self._clock()
        deadline = started + self.total_timeout
        uncertain = False
        round_ = 0
        while True:
            round_ += 1
            try:
                reply = self._request(
                    "POST",
                    path,
                    json=payload,
                    params=params,
                    idempotent=False,
                    deadline=deadline,
                    validate=validate,
                )
                return parse(reply)
            except Conflict as exc:
                if not uncertain or find_existing is None:
                    raise
                existing = self._exists_check(find_existing, exc)
                if existing is None:
                    raise
                self.stats.add(recovered_creates=1)
                return existing
            except ProviderError as exc:
                if not exc.outcome_unknown or find_existing is None:
                    raise
                uncertain = True
                existing = self._exists_check(find_existing, exc)
                if existing is not None:
                    self.stats.add(recovered_creates=1)
                    logger.info("%s create: found the record after %s", self.provider, exc)
                    return existing
                delay = self._retry_delay(round_, None)
                if round_ >= self.max_attempts or self._clock() + delay > deadline:
                    raise
                self.stats.add(retries=1)
                logger.info(
                    "%s create: %s and no record found; retry %d in %.2fs",
                    self.provider,
                    type(exc).__name__,
                    round_,
                    delay,
                )
                if delay > 0:
                    self._sleep(delay)

    def _exists_check(self, find: Callable[[], T | None], original: ProviderError) -> T | None:
        """Run ``find``; if the check itself fails, re-raise the create's own error."""
        try:
            return find()
        except NotFound:
            return None
        except ProviderError as exc:
            logger.warning("%s create: exists-check failed: %s", self.provider, exc)
            raise original from None

    # -- bookkeeping ------------------------------------------------------------------------

    def _finish(self, error: ProviderError, attempts: int) -> ProviderError:
        error.provider = self.provider
        error.attempts = attempts
        error.message = self._scrub(error.message)
        error.args = (error.message,)
        return error

    def _scrub(self, text: str) -> str:
        """Remove the connection's secrets (and any bearer token) from ``text``."""
        for secret in self._secret_values():
            if secret and len(secret) >= 4:
                text = text.replace(secret, REDACTED)
        return _BEARER_RE.sub(r"\1" + REDACTED, text)

    def _provider_text(self, text: Any, limit: int = 300) -> str:
        """Make provider-supplied text safe to show: one line, bounded, no secrets, no HTML."""
        if not isinstance(text, str):
            return ""
        text = re.sub(r"<[^>]{0,200}>", " ", text)
        text = " ".join(text.split())
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return self._scrub(text)

    def _record(
        self,
        method: str,
        path: str,
        status: int | None,
        attempts: int,
        latency: float,
        started: float,
        error: str | None,
    ) -> None:
        self.last_call = CallRecord(
            method=method,
            path=path,
            status=status,
            attempts=attempts,
            latency=latency,
            duration=self._clock() - started,
            error=error,
        )

    def _notify(
        self,
        method: str,
        path: str,
        attempt: int,
        status: int | None,
        elapsed: float,
        error: ProviderError | None,
        will_retry: bool,
    ) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(
                RequestEvent(
                    provider=self.provider,
                    method=method,
                    path=path,
                    attempt=attempt,
                    status=status,
                    elapsed=elapsed,
                    error=type(error).__name__ if error else None,
                    will_retry=will_retry,
                )
            )
        except Exception:  # an observer must never break a request
            logger.exception("on_request hook failed")

    def _log(
        self,
        method: str,
        path: str,
        status: int | None,
        elapsed: float,
        attempt: int,
        error: ProviderError | None = None,
    ) -> None:
        if error is None:
            logger.debug(
                "%s %s %s -> %s in %.0f ms (attempt %d)",
                self.provider,
                method,
                path,
                status,
                elapsed * 1000,
                attempt,
            )
        else:
            logger.info(
                "%s %s %s -> %s in %.0f ms (attempt %d): %s: %s",
                self.provider,
                method,
                path,
                status,
                elapsed * 1000,
                attempt,
                type(error).__name__,
                self._scrub(error.message),
            )

    @staticmethod
    def _check_base_url(base_url: str) -> str:
        if not isinstance(base_url, str) or not base_url.strip():
            raise CredentialsMissing("The connection has no base URL.")
        base_url = base_url.strip().rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid(
                "The base URL must start with http:// or https:// and name a host.",
                field_errors={"base_url": ["Enter an http(s) URL."]},
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise Invalid(
                "The base URL must not carry credentials, a query or a fragment.",
                field_errors={"base_url": ["Remove the user, query or fragment part."]},
            )
        return base_url

    @staticmethod
    def _check_secret(value: Any, what: str, provider: str) -> str:
        """Return a credential fit for a header, or raise ``CredentialsMissing``."""
        if not isinstance(value, str) or not value.strip():
            raise CredentialsMissing(
                f"The connection has no {what}; enter it and try again.", provider=provider
            )
        value = value.strip()
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise CredentialsMissing(
                f"The {what} contains spaces or control characters; paste it again.",
                provider=provider,
            )
        return value


def _megabytes(size: int) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{size // 1024} KB"


def _pick[V](value: V | None, default: V) -> V:
    return default if value is None else value
