"""Bind what a log line is about (request, job, connection, worker) once; every line shows it.

A web request binds its ``request_id`` (``dashboard.core.middleware.RequestIdMiddleware``); a
sync job binds ``job_id`` and ``connection_id`` (``integrations.sync.engine``); a Celery
worker binds its name and each task's name and id (``integrations.tasks``). The values live
in a context variable, so threads a job starts carry them when they are started through
:func:`in_context`. :class:`ContextFilter` copies them onto each log record, where the JSON
formatter writes them as fields and :class:`ReadableFormatter` appends them to the line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token, copy_context
from types import MappingProxyType
from typing import Any

# What every line of this process carries (the worker's name), then what the code running now
# bound on top of it.
_process: dict[str, Any] = {}
_bound: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))

# The order fields are shown in a readable line.
FIELDS = ("request_id", "worker", "task", "task_id", "job_id", "connection_id", "import_id")


def current() -> dict[str, Any]:
    """The fields bound here and now (the process's first, the innermost binding last)."""
    return {**_process, **_bound.get()}


def bind_process(**fields: Any) -> None:
    """Bind fields for every line this process writes from now on (a worker's name)."""
    _process.update({k: v for k, v in fields.items() if v is not None})


def bind(**fields: Any) -> Token[Mapping[str, Any]]:
    """Bind fields until :func:`unbind` is given the returned token."""
    return _bound.set({**_bound.get(), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token: Token[Mapping[str, Any]]) -> None:
    _bound.reset(token)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Bind fields for the lines written inside the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def in_context[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` to run in another thread with the fields bound where this is called."""
    context = copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(fn, *args, **kwargs)

    return run


class ContextFilter(logging.Filter):
    """Put the bound fields on each record (a field the call passed in ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        # Django logs a 4xx/5xx answer after the middleware has returned, with the request in
        # ``extra``: the id the middleware put on the request still names it.
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class ReadableFormatter(logging.Formatter):
    """``time LEVEL logger: message [job_id=7 connection_id=2 worker=w1@host]``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [f"{key}={getattr(record, key)}" for key in FIELDS if hasattr(record, key)]
        if not fields:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(fields)}]{newline}{rest}"


class OneLineRefusals(logging.Filter):
    """Log an expected refusal (a 4xx: forbidden, not found, bad request) without a traceback.

    Django logs a ``PermissionDenied`` with its exception, so every 403 wrote a traceback that
    reads as a crash. A 5xx keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
