"""The provider sandbox: one threaded HTTP server with the three providers mounted.

No provider is reachable from our machines, so the demo, the tests and the benchmarks talk
to this server over real HTTP. It keeps its own data, behaves as the providers' documents
say (``provider-docs/CONTRACT-NOTES.md``) and injects the failures real networks add.

Mount points (a connection's base URL points at one; clients append the documented paths)::

    {url}/redflag     RedFlag Recipient API      /int/v1/recipient[s][/<email or _id>]
    {url}/snappy      Snappy public API          /v2/recipients[/<id>], /v2/accounts
    {url}/parcelvoy   Parcelvoy admin API        /api/client/campaigns/<id>/trigger
    {url}/_control    sandbox control            health, config, counters, reset, state, seed

Stdlib only and no Django import, so tests start it in-process in milliseconds.
"""

from __future__ import annotations

import contextlib
import copy
import random
import secrets
import socket
import socketserver
import string
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from integrations.sandbox.base import ProviderApp, Runtime
from integrations.sandbox.config import (
    FAULT_RATES,
    PROVIDERS,
    ConfigError,
    Faults,
    SandboxConfig,
    Variants,
)
from integrations.sandbox.counters import Counters
from integrations.sandbox.messages import (
    HTML_TYPE,
    BadJSON,
    Request,
    Response,
    json_response,
    text_response,
)
from integrations.sandbox.parcelvoy import ParcelvoyApp
from integrations.sandbox.redflag import RedFlagApp
from integrations.sandbox.seed import people
from integrations.sandbox.snappy import SnappyApp

__all__ = ["ConfigError", "Faults", "SandboxConfig", "SandboxServer", "Variants"]

MAX_BODY_BYTES = 10 * 1024 * 1024
# A body over the limit is still read (and dropped) up to this size before the 413.
MAX_DRAIN_BYTES = 64 * 1024 * 1024
# Faults decided before the provider sees the request: nothing is written.
_BEFORE_WRITE = frozenset(
    {"rate_429", "rate_429_without_retry_after", "rate_500", "rate_502", "rate_503", "rate_drop"}
)
_NO_FAULTS = Faults()
_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_MALFORMED_PAGE = (
    "<!DOCTYPE html><html><head><title>Scheduled maintenance</title></head>"
    "<body><h1>We&rsquo;ll be back soon</h1><p>The service is undergoing maintenance."
    "</p></body></html>"
)
_ALNUM = string.ascii_letters + string.digits


class SandboxServer:
    """Serve the three providers on ``host:port`` from a background thread.

    ``seed`` is the number of fake recipients per provider, ``random_seed`` makes data,
    ids and fault decisions repeatable. ``credentials`` (partial is fine) fixes the keys a
    client must present; missing ones are random. ``config`` is the starting fault and
    variant configuration, which ``reset()`` returns to.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 500,
        random_seed: int = 0,
        *,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
        config: SandboxConfig | None = None,
        log_requests: bool = False,
    ) -> None:
        if seed < 0:
            raise ValueError("seed must be >= 0")
        self.host = host
        self.seed = seed
        self.random_seed = random_seed
        self.log_requests = log_requests
        self._port = port
        self._credentials = _credentials(credentials or {})
        self._default_config = config or SandboxConfig()
        self._config = self._default_config
        self._config_lock = threading.Lock()
        self._counters = Counters()
        self._fault_lock = threading.Lock()
        self._fault_rng = random.Random(f"faults:{random_seed}")
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        runtime = Runtime(config=lambda: self._config, counters=self._counters,
                          random_seed=random_seed)  # fmt: skip
        self._apps: dict[str, ProviderApp] = {
            "redflag": RedFlagApp(runtime, self._credentials["redflag"]),
            "snappy": SnappyApp(runtime, self._credentials["snappy"]),
            "parcelvoy": ParcelvoyApp(runtime, self._credentials["parcelvoy"]),
        }
        self._reseed()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind, listen and serve in a daemon thread; return once connections are accepted."""
        if self._httpd is not None:
            raise RuntimeError("The sandbox is already running.")
        self._stop.clear()
        self._httpd = _HTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"provider-sandbox:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake stalled (timeout-fault) requests and close open connections."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (wildcard hosts map to loopback)."""
        if self._httpd is None:
            raise RuntimeError("The sandbox is not running; call start() first.")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """The base URL a connection of each provider should use."""
        return {name: f"{self.url}/{name}" for name in PROVIDERS}

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        return copy.deepcopy(self._credentials)

    # -- control --------------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        return self._config

    def configure(
        self,
        faults: Mapping[str, Any] | None = None,
        variants: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Merge partial fault/variant settings (as ``POST /_control/config``); return all.

        Raises :class:`ConfigError` for unknown keys or out-of-range values.
        """
        with self._config_lock:
            self._config = self._config.merged(faults=faults, variants=variants)
            return self._config.to_dict()

    def counters(self) -> dict[str, Any]:
        """Return the traffic tallies (as ``GET /_control/counters``)."""
        return self._counters.snapshot()

    def reset(self, *, data: bool = False) -> None:
        """Restore the starting faults and variants, zero the counters and rate limits.

        Data is kept unless ``data=True``, which rebuilds the seed data as at start.
        """
        with self._config_lock:
            self._config = self._default_config
        self._counters.reset()
        with self._fault_lock:
            self._fault_rng = random.Random(f"faults:{self.random_seed}")
        for app in self._apps.values():
            app.reset()
        if data:
            self._reseed()

    def seed_recipients(
        self,
        count: int,
        providers: tuple[str, ...] = ("redflag", "snappy"),
        *,
        compact: bool = True,
    ) -> None:
        """Replace the recipients of ``providers`` with ``count`` new ones each.

        For volume tests and benchmarks (as ``POST /_control/seed``). ``compact``: a few
        fields per recipient (``bulk{n}@example.com``, ``First{n} Last{n}``), 100,000 in
        about a second; otherwise the usual seed people in the documented shape (slower,
        and a RedFlag list reply of about 1.5 KB a recipient). ``reset(data=True)`` brings
        the starting data back.
        """
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 2_000_000:
            raise ConfigError("count must be a whole number from 0 to 2,000,000.")
        unknown = set(providers) - {"redflag", "snappy"}
        if unknown:
            raise ConfigError(f"Only redflag and snappy keep recipients, not {sorted(unknown)}.")
        persons = None if compact else people(self.random_seed, count)
        for name in providers:
            app = self._apps[name]
            if persons is not None:
                app.reseed(persons)
            elif isinstance(app, RedFlagApp | SnappyApp):
                app.seed_compact(count)

    def state(self) -> dict[str, Any]:
        """Describe the data (counts, Snappy accounts, Parcelvoy campaigns)."""
        summary: dict[str, Any] = {"seed": self.seed, "random_seed": self.random_seed}
        summary.update({name: app.summary() for name, app in self._apps.items()})
        return summary

    def _reseed(self) -> None:
        persons = people(self.random_seed, self.seed)
        for app in self._apps.values():
            app.reseed(persons)

    # -- request handling (called from the handler threads) ------------------------------------

    def _serve(self, handler: _Handler, request: Request) -> None:
        mount, _, rest = request.path.lstrip("/").partition("/")
        if mount == "_control":
            handler.send(self._control(request, "/" + rest))
            return
        app = self._apps.get(mount)
        if app is None:
            mounts = ", ".join(f"/{name}" for name in (*PROVIDERS, "_control"))
            message = f"Nothing is mounted at /{mount}. Mount points: {mounts}."
            handler.send(json_response(404, {"error": message}))
            return
        self._serve_provider(handler, app, _relative(request, "/" + rest))

    def _serve_provider(self, handler: _Handler, app: ProviderApp, request: Request) -> None:
        resolved = app.resolve(request)
        self._counters.request_started()
        finished = False

        def finish(outcome: str) -> None:
            # Count before the reply leaves, so a client that reads the counters right
            # after its reply always sees its own request.
            nonlocal finished
            finished = True
            self._counters.request_finished(app.name, request.method, resolved.template, outcome)
            if self.log_requests:
                print(f"{app.name} {request.method} {request.path} -> {outcome}", file=sys.stderr)

        try:
            config = self._config
            faults = config.faults if config.faults.applies_to(app.name) else _NO_FAULTS
            self._sleep_latency(faults)
            fault = self._draw_fault(faults)
            if fault in _BEFORE_WRITE:
                self._fail_before_write(handler, app, fault, faults, finish)
                return
            try:
                response = resolved.handler(request, resolved.params)
            except Exception:
                traceback.print_exc()
                response = app.fault_response(500, None)
            if fault == "rate_timeout":
                # The write (if any) is applied and the reply never comes, as when a real
                # server commits and then times out: a client must check whether its create
                # happened before retrying it.
                finish("timeout")
                self._stop.wait(faults.timeout_seconds)
                handler.close_connection = True
            elif fault == "rate_malformed":
                finish("malformed")
                handler.send(text_response(200, _MALFORMED_PAGE, HTML_TYPE))
            elif fault == "rate_truncated":
                finish("truncated")
                handler.send_truncated(response, claim_full_length=self._coin())
            else:
                finish(str(response.status))
                handler.send(response)
        finally:
            if not finished:
                finish("error")

    def _fail_before_write(
        self,
        handler: _Handler,
        app: ProviderApp,
        fault: str,
        faults: Faults,
        finish: Callable[[str], None],
    ) -> None:
        if fault == "rate_drop":
            finish("drop")
            handler.close_connection = True  # close without a byte of reply
            return
        if fault == "rate_429":
            response = app.fault_response(429, faults.retry_after_seconds)
        elif fault == "rate_429_without_retry_after":
            response = app.fault_response(429, None)
        elif fault == "rate_500":
            response = app.fault_response(500, None)
        else:  # a gateway in front of the provider answers 502/503 with its own HTML
            status = HTTPStatus(502 if fault == "rate_502" else 503)
            page = _GATEWAY_PAGE.format(status=status.value, phrase=status.phrase)
            response = text_response(status.value, page, HTML_TYPE)
        finish(str(response.status))
        handler.send(response)

    def _sleep_latency(self, faults: Faults) -> None:
        delay = faults.latency_ms
        if faults.latency_jitter_ms:
            with self._fault_lock:
                delay += self._fault_rng.uniform(0, faults.latency_jitter_ms)
        if delay > 0:
            self._stop.wait(delay / 1000)

    def _draw_fault(self, faults: Faults) -> str | None:
        """Pick at most one fault with a single draw; the rates are exclusive."""
        if not any(getattr(faults, rate) for rate in FAULT_RATES):
            return None
        with self._fault_lock:
            draw = self._fault_rng.random()
        for rate in FAULT_RATES:
            draw -= getattr(faults, rate)
            if draw < 0:
                return rate
        return None

    def _coin(self) -> bool:
        with self._fault_lock:
            return self._fault_rng.random() < 0.5

    def _control(self, request: Request, path: str) -> Response:
        """Serve ``/_control/*``: never faulted, never counted."""
        routes = {
            ("GET", "/health"): lambda: {"status": "ok"},
            ("GET", "/config"): lambda: self._config.to_dict(),
            ("GET", "/counters"): self.counters,
            ("GET", "/state"): self.state,
        }
        if (request.method, path) in routes:
            return json_response(200, routes[(request.method, path)]())
        try:
            body = request.json() or {}
        except BadJSON as exc:
            return json_response(400, {"error": f"Invalid JSON: {exc}"})
        if not isinstance(body, dict):
            return json_response(400, {"error": "The body must be a JSON object."})
        if (request.method, path) == ("POST", "/config"):
            try:
                if unknown := set(body) - {"faults", "variants"}:
                    raise ConfigError(f"Unknown config sections: {', '.join(sorted(unknown))}")
                return json_response(200, self.configure(body.get("faults"), body.get("variants")))
            except (ConfigError, AttributeError, TypeError) as exc:
                return json_response(400, {"error": str(exc)})
        if (request.method, path) == ("POST", "/reset"):
            self.reset(data=bool(body.get("data")))
            return json_response(200, self._config.to_dict())
        if (request.method, path) == ("POST", "/seed"):
            providers = body.get("providers", ["redflag", "snappy"])
            try:
                if isinstance(providers, str):
                    providers = [providers]
                if not isinstance(providers, list) or not all(
                    isinstance(p, str) for p in providers
                ):
                    raise ConfigError("providers must be a list of provider names.")
                self.seed_recipients(
                    body.get("count", -1),
                    tuple(providers),
                    compact=body.get("compact") is not False,
                )
            except ConfigError as exc:
                return json_response(400, {"error": str(exc)})
            return json_response(200, self.state())
        known = {p for _, p in routes} | {"/config", "/reset", "/seed"}
        if path in known:
            return json_response(405, {"error": f"{request.method} is not allowed on {path}."})
        return json_response(404, {"error": f"Unknown control endpoint {path}."})


def _relative(request: Request, path: str) -> Request:
    return Request(request.method, path, request.query, request.headers, request.body)


def _credentials(given: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Fill in random credentials where none are given, and check the given ones' shape."""
    unknown = set(given) - set(PROVIDERS)
    if unknown:
        raise ValueError(f"Unknown providers in credentials: {', '.join(sorted(unknown))}")
    creds = {
        "redflag": {"token": secrets.token_urlsafe(32), "location_id": secrets.token_hex(12)},
        "snappy": {
            "api_key": "".join(secrets.choice(_ALNUM) for _ in range(24)),
            "company_id": "".join(secrets.choice(_ALNUM) for _ in range(12)),
        },
        "parcelvoy": {
            "secret_key": f"sk_{uuid.uuid4()}",
            "public_key": f"pk_{uuid.uuid4()}",
            "viewer_key": f"sk_{uuid.uuid4()}",
        },
    }
    for provider, values in given.items():
        extra = set(values) - set(creds[provider])
        if extra:
            raise ValueError(f"Unknown {provider} credentials: {', '.join(sorted(extra))}")
        creds[provider].update({k: str(v) for k, v in values.items()})
    snappy, parcelvoy = creds["snappy"], creds["parcelvoy"]
    if len(snappy["api_key"]) != 24:
        raise ValueError("snappy api_key must be 24 characters (CONTRACT-NOTES).")
    if len(snappy["company_id"]) < 8 or not snappy["company_id"].isalnum():
        raise ValueError("snappy company_id must be 8 or more letters or digits.")
    for key, prefix in (("secret_key", "sk_"), ("viewer_key", "sk_"), ("public_key", "pk_")):
        if not parcelvoy[key].startswith(prefix):
            raise ValueError(f"parcelvoy {key} must start with {prefix}.")
    if len({parcelvoy["secret_key"], parcelvoy["viewer_key"]}) != 2:
        raise ValueError("parcelvoy secret_key and viewer_key must differ.")
    return creds


class _HTTPServer(ThreadingHTTPServer):
    """Thread per connection, a deep accept queue, and connections it can close on stop."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake threads blocked on idle keep-alive connections so they exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-reply is normal under fault injection; stay quiet.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    """Parse a request, hand it to the sandbox, write whatever it decides."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients reuse connections
    server_version = "ProviderSandbox/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body leave at once; no 40 ms stalls
    timeout = 120  # seconds an idle keep-alive connection stays open

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self.send(json_response(exc.status, {"error": str(exc)}))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        self.server.sandbox._serve(self, request)

    def _read_body(self) -> bytes:
        """Read the whole body before anything answers (auth, faults, 413...).

        A server that answers while the client is still sending, then closes, makes the
        client's next write fail with a reset instead of reading the answer. So a body too
        large to keep is still read (and dropped) up to ``MAX_DRAIN_BYTES``.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return b"".join(self._read_chunks())
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            raise _BodyError(400, "Invalid Content-Length.")
        size = int(length)
        if size > MAX_BODY_BYTES:
            if size <= MAX_DRAIN_BYTES:
                self._drain(size)
            raise _BodyError(413, "Request body too large.")
        return self.rfile.read(size)

    def _drain(self, size: int) -> None:
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 16))
            if not chunk:
                return
            size -= len(chunk)

    def _read_chunks(self) -> Iterator[bytes]:
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as exc:
                raise _BodyError(400, "Invalid chunked body.") from exc
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return
            total += size
            if total > MAX_DRAIN_BYTES:
                raise _BodyError(413, "Request body too large.")
            data = self.rfile.read(size)
            self.rfile.readline(1024)
            if total <= MAX_BODY_BYTES:  # past it, keep reading to the end, keep nothing
                yield data
        if total > MAX_BODY_BYTES:
            raise _BodyError(413, "Request body too large.")

    def _head(self, response: Response, extra: list[tuple[str, str]]) -> bytes:
        phrase = HTTPStatus(response.status).phrase if response.status in _STATUSES else ""
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines += [f"{name}: {value}" for name, value in (*response.headers, *extra)]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, response: Response) -> None:
        """Write a whole reply; stream an iterable body with chunked encoding."""
        try:
            if isinstance(response.body, bytes) or self.request_version != "HTTP/1.1":
                body = response.materialize()
                no_body = response.status in (204, 304) or response.status < 200
                extra = [] if no_body else [("Content-Length", str(len(body)))]
                self.wfile.write(self._head(response, extra) + (b"" if no_body else body))
                return
            self.wfile.write(self._head(response, [("Transfer-Encoding", "chunked")]))
            for chunk in response.body:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def send_truncated(self, response: Response, *, claim_full_length: bool) -> None:
        """Send half the body: either under the full Content-Length (then hang up), or as a
        complete-looking reply whose JSON simply stops halfway.

        A streamed body of known length (``parts``) is cut the same two ways without being
        held whole: half its chunks, then the hang-up (no last chunk) or a last chunk."""
        if (
            not isinstance(response.body, bytes)
            and response.parts
            and self.request_version == ("HTTP/1.1")
        ):
            self._send_stream_truncated(response, hang_up=claim_full_length)
            return
        body = response.materialize()
        half = body[: len(body) // 2]
        claimed = len(body) if claim_full_length else len(half)
        if claim_full_length:
            self.close_connection = True
        try:
            self.wfile.write(self._head(response, [("Content-Length", str(claimed))]) + half)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _send_stream_truncated(self, response: Response, *, hang_up: bool) -> None:
        assert response.parts is not None and not isinstance(response.body, bytes)
        keep = max(1, response.parts // 2)
        if hang_up:
            self.close_connection = True
        try:
            self.wfile.write(self._head(response, [("Transfer-Encoding", "chunked")]))
            for index, chunk in enumerate(response.body):
                if index == keep:
                    chunk = chunk[: len(chunk) // 2]  # stop in the middle of a record
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if index == keep:
                    break
            if not hang_up:
                self.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.log_requests:
            super().log_message(format, *args)


_STATUSES = {status.value for status in HTTPStatus}
