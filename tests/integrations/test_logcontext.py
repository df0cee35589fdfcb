"""Log lines say what they are about: the request, the job, the connection, the worker."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations import logcontext
from tests.factories import PASSWORD


class Capture(logging.Handler):
    """A handler with the console handler's filters and formatter (settings.LOGGING)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.addFilter(logcontext.ContextFilter())
        self.addFilter(logcontext.OneLineRefusals())
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def json_formatter() -> logging.Formatter:
    from django.conf import settings

    logging_config: dict = settings.LOGGING
    options = dict(logging_config["formatters"]["json"])
    factory = options.pop("()")
    from django.utils.module_loading import import_string

    fmt = options.pop("format")
    return import_string(factory)(fmt, **options)


@pytest.fixture
def captured():
    handler = Capture(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def records(handler: Capture) -> list[dict]:
    return [json.loads(line) for line in handler.lines]


def test_bound_fields_reach_the_line_and_leave_with_the_block(captured):
    log = logging.getLogger("tests.logcontext")
    with logcontext.bound(job_id=7, connection_id=3):
        log.warning("inside")
    log.warning("outside")
    inside, outside = records(captured)[-2:]
    assert (inside["message"], inside["job_id"], inside["connection_id"]) == ("inside", 7, 3)
    assert inside["level"] == "WARNING" and inside["logger"] == "tests.logcontext"
    assert "job_id" not in outside


def test_threads_started_through_in_context_carry_the_fields(captured):
    log = logging.getLogger("tests.logcontext")

    def work(n: int) -> None:
        log.warning("item %s", n)

    with logcontext.bound(job_id=11), ThreadPoolExecutor(2) as pool:
        list(pool.map(logcontext.in_context(work), range(4)))
    assert {r["job_id"] for r in records(captured)[-4:]} == {11}


def test_the_readable_format_appends_the_fields():
    formatter = logcontext.ReadableFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with logcontext.bound(job_id=5, worker="w1@host"):
        logcontext.ContextFilter().filter(record)
    assert formatter.format(record) == "INFO hello [worker=w1@host job_id=5]"


@pytest.mark.django_db
def test_a_request_has_an_id_on_its_lines_and_in_its_answer(client, admin_user, captured):
    client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    response = client.get("/jobs/99999/")  # a 404 logs a warning
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = [r for r in records(captured) if r.get("logger") == "django.request"]
    assert lines and lines[-1]["request_id"] == request_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123.DEF_4:5", True), ("x" * 65, False), ("a b", False), ("evil\nINFO forged", False)],
)
def test_a_proxy_s_request_id_is_kept_only_when_it_is_a_plain_token(client, given, kept):
    response = client.get("/healthz/", headers={"X-Request-ID": given})
    assert (response["X-Request-ID"] == given) is kept


@pytest.mark.django_db
def test_a_refusal_is_one_line_without_a_traceback(support_client, captured):
    assert support_client.get("/connections/").status_code == 403
    refused = [r for r in records(captured) if r.get("logger") == "django.request"]
    assert refused and "Forbidden" in refused[-1]["message"]
    assert "exc_info" not in refused[-1] and "Traceback" not in captured.lines[-1]


def test_a_server_error_keeps_its_traceback():
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", None, None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    record.status_code = 500
    logcontext.OneLineRefusals().filter(record)
    assert record.exc_info is not None
