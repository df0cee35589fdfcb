"""A real Redis for the shared rate limit's tests: skip without one, fail in CI."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

import redis
from django.conf import settings

from tests.helpers.environment import skip_or_fail


def rate_limit_redis_url() -> str:
    """The Redis the shared rate limit uses here; skip (fail in CI) if none answers."""
    url = settings.RATE_LIMIT_REDIS_URL
    if not url.startswith(("redis://", "rediss://")):
        skip_or_fail(
            "no Redis for the shared rate limit: set CELERY_BROKER_URL=redis://... (or "
            "RATE_LIMIT_REDIS_URL=redis://...) to run the shared rate limit's tests"
        )
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        parts = urlsplit(url)  # host and port only: the URL may hold a password
        skip_or_fail(f"Redis does not answer at {parts.hostname}:{parts.port or 6379}")
    finally:
        client.close()
    return url


class TcpRelay:
    """Forward a local port to Redis; ``stop`` cuts every connection, as an outage does."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._db = parts.path or "/0"
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self._db}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)
