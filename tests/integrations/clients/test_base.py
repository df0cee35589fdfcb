"""The shared choke point: retries, Retry-After, budgets, size cap, redirects, observability."""

from __future__ import annotations

import email.utils
import gzip
import logging
import pickle

import httpx
import pytest

from integrations.clients import (
    CredentialsMissing,
    Invalid,
    MalformedReply,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RequestEvent,
    Unavailable,
)
from integrations.clients.base import BaseClient, parse_retry_after, redact_headers
from tests.integrations.clients.helpers import (
    BASE,
    REDFLAG_TOKEN,
    SNAPPY_KEY,
    WALL_NOW,
    assert_no_secret,
    time_options,
)

URL = BASE + "/thing"


class PlainClient(BaseClient):
    """The base with status-only error mapping and both kinds of secret header."""

    provider = "snappy"
    label = "Plain"

    def _auth_headers(self):
        return {"X-Api-Key": SNAPPY_KEY, "Authorization": f"Bearer {REDFLAG_TOKEN}"}

    def _secret_values(self):
        return (SNAPPY_KEY, REDFLAG_TOKEN)

    def get(self, **kwargs):
        return self._request("GET", "/thing", **kwargs)

    def post(self, **kwargs):
        return self._request("POST", "/thing", json={"a": 1}, **kwargs)


@pytest.fixture
def make_plain(fake_time):
    def make(**overrides):
        return PlainClient(BASE, **{**time_options(fake_time), **overrides})

    return make


@pytest.fixture
def plain(make_plain):
    client = make_plain()
    yield client
    client.close()


# -- Retry-After --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("5", 5.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        (email.utils.formatdate(WALL_NOW + 7, usegmt=True), 7.0),
        (email.utils.formatdate(WALL_NOW - 60, usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("", None),
        (None, None),
        ("5 seconds", None),
        ("Thu, 99 Foo 2024 25:61:00 GMT", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=WALL_NOW) == expected


def test_retry_after_zero_retries_at_once(plain, httpx_mock, fake_time):
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "0"})
    httpx_mock.add_response(json={})

    plain.get()

    assert len(httpx_mock.get_requests()) == 2
    assert fake_time.sleeps == []


def test_retry_after_as_an_http_date_is_honoured(plain, httpx_mock, fake_time):
    when = email.utils.formatdate(WALL_NOW + 7, usegmt=True)
    httpx_mock.add_response(status_code=503, headers={"Retry-After": when})
    httpx_mock.add_response(json={})

    plain.get()

    assert fake_time.sleeps == [7.0]


def test_garbage_retry_after_falls_back_to_backoff(plain, httpx_mock, fake_time):
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "later, maybe"})
    httpx_mock.add_response(json={})

    plain.get()

    assert fake_time.sleeps == [0.5]  # jitter 0.5 of the first 1 s step


def test_retry_after_longer_than_a_call_may_wait_is_raised(plain, httpx_mock, fake_time):
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "600"})

    with pytest.raises(RateLimited) as caught:
        plain.get()

    assert caught.value.retry_after == 600
    assert caught.value.retryable is True
    assert fake_time.sleeps == []


# -- bounded retries ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retries_are_bounded_by_attempts(plain, httpx_mock, fake_time, status):
    httpx_mock.add_response(status_code=status, is_reusable=True)

    with pytest.raises(ProviderError) as caught:
        plain.get()

    assert caught.value.attempts == 5
    assert len(httpx_mock.get_requests()) == 5
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_retries_are_bounded_by_the_total_time_budget(make_plain, httpx_mock, fake_time):
    client = make_plain(total_timeout=3.0, jitter=lambda: 1.0)
    httpx_mock.add_response(status_code=503, is_reusable=True)

    with pytest.raises(Unavailable) as caught:
        client.get()

    assert fake_time.sleeps == [1.0, 2.0]  # the next wait (4 s) would pass the budget
    assert caught.value.attempts == 3


def test_backoff_is_capped(make_plain, httpx_mock, fake_time):
    client = make_plain(max_attempts=8, jitter=lambda: 1.0, total_timeout=1000)
    httpx_mock.add_response(status_code=502, is_reusable=True)

    with pytest.raises(Unavailable):
        client.get()

    assert fake_time.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_statuses_are_not_retried(plain, httpx_mock, status):
    httpx_mock.add_response(status_code=status)

    with pytest.raises(ProviderError):
        plain.get()

    assert len(httpx_mock.get_requests()) == 1


def test_a_read_is_retried_on_500(plain, httpx_mock, fake_time):
    """A GET changed nothing, so a passing 500 is worth another try."""
    httpx_mock.add_response(status_code=500)
    httpx_mock.add_response(status_code=500)
    httpx_mock.add_response(json={"ok": True})

    assert plain.get().json() == {"ok": True}
    assert fake_time.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_is_never_retried_on_500(plain, httpx_mock, method):
    """A 500 may come after the write was made: only a read is repeated."""
    httpx_mock.add_response(status_code=500)

    with pytest.raises(Unavailable) as caught:
        plain._request(method, "/thing", json={"a": 1})

    assert len(httpx_mock.get_requests()) == 1
    assert caught.value.outcome_unknown is True


# -- transport failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("Connection reset by peer"),
        httpx.ConnectError("Connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool timed out"),
    ],
)
def test_idempotent_requests_are_retried_after_transport_failures(plain, httpx_mock, exception):
    httpx_mock.add_exception(exception)
    httpx_mock.add_response(json={"ok": True})

    assert plain.get().json() == {"ok": True}
    assert plain.stats.retries == 1


@pytest.mark.parametrize(
    ("exception", "error"),
    [
        (httpx.ReadTimeout("read timed out"), ProviderTimeout),
        (httpx.WriteTimeout("write timed out"), ProviderTimeout),
        (httpx.RemoteProtocolError("Server disconnected"), Unavailable),
        (httpx.ReadError("Connection reset by peer"), Unavailable),
    ],
)
def test_a_post_that_may_have_acted_is_never_retried_blindly(plain, httpx_mock, exception, error):
    httpx_mock.add_exception(exception)

    with pytest.raises(error) as caught:
        plain.post()

    assert caught.value.outcome_unknown is True
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("")],
)
def test_a_post_that_never_left_is_retried(plain, httpx_mock, exception):
    httpx_mock.add_exception(exception)
    httpx_mock.add_response(status_code=201, json={})

    assert plain.post().status == 201


def test_connection_failures_are_bounded_too(plain, httpx_mock, fake_time):
    httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)

    with pytest.raises(Unavailable) as caught:
        plain.get()

    assert caught.value.attempts == 5
    assert caught.value.outcome_unknown is False
    assert "Could not connect" in caught.value.message


def test_timeouts_are_explicit(make_plain):
    client = make_plain(connect_timeout=1, read_timeout=2, write_timeout=3, pool_timeout=4)

    assert client._http.timeout == httpx.Timeout(connect=1, read=2, write=3, pool=4)
    assert PlainClient(BASE).timeout == httpx.Timeout(connect=5, read=30, write=30, pool=10)


# -- redirects, size cap, decoding --------------------------------------------------------


def test_redirects_are_never_followed(plain, httpx_mock):
    httpx_mock.add_response(status_code=302, headers={"Location": "http://169.254.169.254/"})

    with pytest.raises(ProviderError, match="redirect") as caught:
        plain.get()

    assert caught.value.status == 302
    assert len(httpx_mock.get_requests()) == 1
    assert plain._http.follow_redirects is False


def test_a_compressed_reply_is_capped_after_decompression(make_plain):
    bomb = gzip.compress(b"0" * (8 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    client = make_plain(max_reply_bytes=1024 * 1024, transport=transport)

    with pytest.raises(MalformedReply, match="larger than 1 MB") as caught:
        client.get()

    assert caught.value.retryable is False
    assert caught.value.attempts == 1


def test_an_undecodable_reply_is_malformed(plain, httpx_mock):
    httpx_mock.add_response(
        content=b"definitely not gzip", headers={"Content-Encoding": "gzip"}, is_reusable=True
    )

    with pytest.raises(MalformedReply):
        plain.get()


# -- observability ------------------------------------------------------------------------


def test_last_call_records_latency_and_attempts(plain, httpx_mock, fake_time):
    def slow(request):
        fake_time.now += 0.25
        return httpx.Response(200, json={})

    httpx_mock.add_response(status_code=503)
    httpx_mock.add_callback(slow)

    plain.get()

    assert plain.last_call.status == 200
    assert plain.last_call.attempts == 2
    assert plain.last_call.latency == pytest.approx(0.25)
    assert plain.last_call.latency_ms == 250.0
    assert plain.last_call.duration == pytest.approx(0.75)  # 0.5 s backoff + 0.25 s


def test_on_request_sees_every_attempt(make_plain, httpx_mock):
    events: list[RequestEvent] = []
    client = make_plain(on_request=events.append)
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={})

    client.get()

    assert [(e.attempt, e.status, e.will_retry, e.error) for e in events] == [
        (1, 503, True, "Unavailable"),
        (2, 200, False, None),
    ]
    assert client.stats.as_dict() | {"rate_limit_wait": 0} == {
        "requests": 2,
        "retries": 1,
        "errors": 0,
        "recovered_creates": 0,
        "rate_limit_wait": 0,
    }


def test_a_failing_hook_never_breaks_a_request(make_plain, httpx_mock):
    def explode(event):
        raise RuntimeError("observer bug")

    client = make_plain(on_request=explode)
    httpx_mock.add_response(json={})

    assert client.get().ok


# -- secrets ------------------------------------------------------------------------------


def test_secret_headers_are_redacted():
    assert redact_headers(
        {"Authorization": "Bearer x", "X-Api-Key": "k", "x-api-key": "k", "Accept": "a"}
    ) == {"Authorization": "[redacted]", "X-Api-Key": "[redacted]", "x-api-key": "[redacted]",
          "Accept": "a"}  # fmt: skip


def test_secrets_never_reach_a_log_line(plain, httpx_mock, caplog):
    caplog.set_level(logging.DEBUG)
    httpx_mock.add_response(status_code=503, json={"message": f"bad key {SNAPPY_KEY}"})
    httpx_mock.add_exception(httpx.ReadTimeout(f"timed out; Authorization: Bearer {REDFLAG_TOKEN}"))
    httpx_mock.add_response(json={})
    httpx_mock.add_response(status_code=401, text=f"token {REDFLAG_TOKEN} rejected")

    plain.get()
    with pytest.raises(ProviderError):
        plain.get()

    assert "[redacted]" in caplog.text  # the header log line ran, with markers
    assert_no_secret(caplog.text)
    for record in caplog.records:
        assert_no_secret(record.getMessage())


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"message": f"key {SNAPPY_KEY}"}),
        (401, {"message": f"Bearer {REDFLAG_TOKEN}"}),
        (403, {}),
        (404, {}),
        (409, {}),
        (422, {}),
        (429, {}),
        (500, {}),
        (302, {}),
        (418, {}),
    ],
)
def test_no_error_shows_a_secret(make_plain, httpx_mock, status, body):
    client = make_plain(max_attempts=1)
    httpx_mock.add_response(status_code=status, json=body)

    with pytest.raises(ProviderError) as caught:
        client.get()

    error = caught.value
    for text in (str(error), repr(error), error.message, str(error.args), repr(client)):
        assert_no_secret(text)
    assert error.__cause__ is None and error.__context__ is None


def test_errors_survive_pickling_with_their_attributes():
    error = RateLimited("slow down", provider="snappy", retry_after=2.5, attempts=3)
    invalid = Invalid("bad", field_errors={"email": ["Enter an email."]}, status=422)

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301
    invalid_copy = pickle.loads(pickle.dumps(invalid))  # noqa: S301

    assert (copy.retry_after, copy.attempts, copy.provider, str(copy)) == (
        2.5,
        3,
        "snappy",
        "slow down",
    )
    assert invalid_copy.field_errors == {"email": ["Enter an email."]}


# -- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://provider.test", "provider.test", "https://user:pw@provider.test", "https://p.test/?a=1",
     "https://p.test/#x", "http://"],
)  # fmt: skip
def test_unusable_base_urls_are_refused(url):
    with pytest.raises(Invalid):
        PlainClient(url)


@pytest.mark.parametrize("url", ["", "   ", None])
def test_a_missing_base_url_is_credentials_missing(url):
    with pytest.raises(CredentialsMissing):
        PlainClient(url)


def test_base_url_trailing_slash_is_dropped():
    assert PlainClient("https://p.test/api/").base_url == "https://p.test/api"
