"""Plain request and response values shared by the sandbox's provider apps.

The provider apps never touch sockets: they take a :class:`Request` and return a
:class:`Response`, so the server alone decides how (and whether) a reply reaches the wire,
which is what fault injection needs.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class BadJSON(ValueError):
    """The request body is not valid JSON."""


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, with the path relative to the provider's mount point."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        """Return the last value of a query parameter, as Express and Koa do for repeats."""
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        """Parse the body; an empty body is ``None``, so callers decide what that means."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadJSON(str(exc)) from exc


@dataclass(slots=True)
class Response:
    """A reply; ``body`` is bytes, or an iterable of byte chunks to stream (chunked).

    ``parts`` is how many chunks a streamed body yields, when known (a cut-short fault cuts
    it halfway without holding it whole).
    """

    status: int
    body: bytes | Iterable[bytes] = b""
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    parts: int | None = None

    def materialize(self) -> bytes:
        """Return the whole body as bytes (joins a streamed body)."""
        if isinstance(self.body, bytes):
            return self.body
        self.body = b"".join(self.body)
        return self.body


def retry_after(seconds: float, style: str) -> tuple[str, str]:
    """The ``Retry-After`` header as delta-seconds or, ``style="date"``, an HTTP date.

    A date has whole seconds only, so it is rounded up: a client never comes back early.
    """
    if style == "date":
        when = math.ceil(time.time() + seconds)
        return ("Retry-After", email.utils.formatdate(when, usegmt=True))
    return ("Retry-After", str(max(0, math.ceil(seconds))))


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(
    status: int, payload: Any, *, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(status, dumps(payload), JSON_TYPE, list(headers or []))


def text_response(status: int, text: str, content_type: str = TEXT_TYPE) -> Response:
    return Response(status, text.encode("utf-8"), content_type)


def empty_response(status: int = 204) -> Response:
    return Response(status, b"", None)


def stream_json_array(
    head: bytes,
    items: Iterable[Any],
    render: Callable[[Any], Any],
    tail: bytes,
    *,
    batch: int = 200,
) -> Iterator[bytes]:
    """Yield ``head [item, item, ...] tail`` in batches, so a 200,000-record list is never
    held as one string (CONTRACT-NOTES RedFlag: the list may return everything); with
    ``batch`` records a chunk, ``len(items) // batch + 2`` chunks at most."""
    yield head + b"["
    first = True
    buffer: list[bytes] = []
    for item in items:
        encoded = dumps(render(item))
        buffer.append(encoded if first else b"," + encoded)
        first = False
        if len(buffer) >= batch:
            yield b"".join(buffer)
            buffer = []
    buffer.append(b"]" + tail)
    yield b"".join(buffer)


@dataclass(frozen=True, slots=True)
class Route:
    """A documented endpoint: methods, a path regex and its template for the counters."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    template: str
    handler: Callable[[Request, dict[str, str]], Response]


@dataclass(frozen=True, slots=True)
class Resolved:
    """The outcome of routing: always a template (for counters) and a handler to run."""

    template: str
    handler: Callable[[Request, dict[str, str]], Response]
    params: dict[str, str]


def resolve(
    routes: Iterable[Route],
    request: Request,
    *,
    not_found: Callable[[Request, dict[str, str]], Response],
    not_allowed: Callable[[Request, dict[str, str]], Response],
) -> Resolved:
    """Match the request to a route; a known path with another method is a 405."""
    path_matched: Route | None = None
    for route in routes:
        match = route.pattern.fullmatch(request.path)
        if match is None:
            continue
        params = {name: unquote(value) for name, value in match.groupdict().items()}
        if request.method in route.methods:
            return Resolved(route.template, route.handler, params)
        path_matched = path_matched or route
    if path_matched is not None:
        return Resolved(path_matched.template, not_allowed, {})
    return Resolved("<unknown>", not_found, {})


def iso_now() -> str:
    """Return the current time as the providers print it: ``2024-04-29T01:52:26.962Z``."""
    return iso_format(datetime.now(UTC))


def iso_format(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
