"""Campaign trigger client: success forms, error mapping, and never a duplicate send."""

from __future__ import annotations

import json

import httpx
import pytest

from integrations.clients import (
    FieldNotEnabled,
    Forbidden,
    Invalid,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
    UnknownApiKey,
)
from tests.integrations.clients import docs_examples as docs
from tests.integrations.clients.helpers import BASE, PARCELVOY_KEY, assert_no_secret

TRIGGER_44 = BASE + "/parcelvoy/api/client/campaigns/44/trigger"
PROBE = BASE + "/parcelvoy/api/client/campaigns/0/trigger"
EXAMPLE = json.loads(docs.PARCELVOY_EMAIL_TRIGGER_BODY)
USER = EXAMPLE["user"]


def test_trigger_sends_the_documented_body_and_accepts_200(parcelvoy, httpx_mock):
    httpx_mock.add_response(
        method="POST", url=TRIGGER_44, match_json=EXAMPLE, text=docs.PARCELVOY_SUCCESS
    )

    result = parcelvoy.trigger(44, user=USER, event={"random_field": "value"})

    assert result.status == 200
    assert result.campaign_id == 44
    assert result.attempts == 1
    assert result.latency >= 0
    request = httpx_mock.get_requests()[0]
    assert request.headers["Authorization"] == f"Bearer {PARCELVOY_KEY}"


def test_a_204_is_success_too(parcelvoy, httpx_mock):
    httpx_mock.add_response(method="POST", url=TRIGGER_44, status_code=204)

    assert parcelvoy.trigger(44, user=USER).status == 204


def test_event_is_always_sent(parcelvoy, httpx_mock):
    """CONTRACT-NOTES: the document calls event optional but the server requires it."""
    httpx_mock.add_response(match_json={"user": USER, "event": {}}, text=docs.PARCELVOY_SUCCESS)

    parcelvoy.trigger(44, user=USER)


@pytest.mark.parametrize(
    ("error_text", "field_errors"),
    [
        (
            "Must have required property 'external_id'",
            {"external_id": ["Must have required property 'external_id'"]},
        ),
        (
            '/user/email must match format "email"',
            {"user.email": ['/user/email must match format "email"']},
        ),
        (
            "/user must have required property 'external_id'",
            {"user.external_id": ["/user must have required property 'external_id'"]},
        ),
        ("Something else went wrong", {}),
    ],
)
def test_422_surfaces_the_error_and_names_the_field(
    parcelvoy, httpx_mock, error_text, field_errors
):
    httpx_mock.add_response(status_code=422, json={"status": "error", "error": error_text})

    with pytest.raises(Invalid) as caught:
        parcelvoy.trigger(44, user=USER)

    assert error_text in str(caught.value)
    assert caught.value.field_errors == field_errors
    assert caught.value.status == 422


def test_the_documented_422(parcelvoy, httpx_mock):
    httpx_mock.add_response(status_code=422, text=docs.PARCELVOY_422)

    with pytest.raises(Invalid) as caught:
        parcelvoy.trigger(44, user=USER)

    assert "external_id" in caught.value.field_errors


def test_unknown_key_is_not_an_unknown_campaign(parcelvoy, httpx_mock):
    httpx_mock.add_response(status_code=404, text=docs.PARCELVOY_UNKNOWN_KEY)

    with pytest.raises(UnknownApiKey) as caught:
        parcelvoy.trigger(44, user=USER)

    assert isinstance(caught.value, Unauthorized)
    assert not isinstance(caught.value, NotFound)
    assert caught.value.code == 6000


def test_unknown_campaign_is_not_found(parcelvoy, httpx_mock):
    httpx_mock.add_response(
        status_code=404,
        text=docs.PARCELVOY_CAMPAIGN_NOT_FOUND,
        headers={"Content-Type": "text/plain"},
    )

    with pytest.raises(NotFound, match="campaign not found") as caught:
        parcelvoy.trigger(44, user=USER)

    assert not isinstance(caught.value, Unauthorized)


@pytest.mark.parametrize(
    ("status", "error"), [(401, Unauthorized), (403, Forbidden), (400, Invalid)]
)
def test_auth_and_request_errors(parcelvoy, httpx_mock, status, error):
    httpx_mock.add_response(status_code=status, json={"status": "error", "error": "nope"})

    with pytest.raises(error):
        parcelvoy.trigger(44, user=USER)


def test_a_200_saying_success_false_is_an_error(parcelvoy, httpx_mock):
    httpx_mock.add_response(json={"success": False, "error": "paused"})

    with pytest.raises(ProviderError, match="paused"):
        parcelvoy.trigger(44, user=USER)


# -- never a duplicate send ---------------------------------------------------------------


@pytest.mark.parametrize(
    "exception",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("connection reset"),
    ],
)
def test_a_trigger_that_may_have_been_sent_is_never_repeated(parcelvoy, httpx_mock, exception):
    httpx_mock.add_exception(exception)

    with pytest.raises(ProviderError) as caught:
        parcelvoy.trigger(44, user=USER)

    assert caught.value.outcome_unknown is True
    assert isinstance(caught.value, ProviderTimeout | Unavailable)
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_is_not_repeated(parcelvoy, httpx_mock, status):
    httpx_mock.add_response(status_code=status, text="<html>error</html>")

    with pytest.raises(Unavailable) as caught:
        parcelvoy.trigger(44, user=USER)

    assert caught.value.outcome_unknown is True
    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "first",
    [
        {"status_code": 429, "headers": {"Retry-After": "1"}},
        {"status_code": 503, "text": "Service Unavailable"},
    ],
)
def test_429_and_503_are_repeated_because_nothing_was_sent(parcelvoy, httpx_mock, first):
    httpx_mock.add_response(**first)
    httpx_mock.add_response(text=docs.PARCELVOY_SUCCESS)

    assert parcelvoy.trigger(44, user=USER).attempts == 2


def test_a_connection_never_made_is_repeated(parcelvoy, httpx_mock):
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(httpx.ConnectTimeout("no answer"))
    httpx_mock.add_response(status_code=204)

    assert parcelvoy.trigger(44, user=USER).attempts == 3


def test_rate_limited_for_too_long_raises(parcelvoy, httpx_mock):
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "3600"})

    with pytest.raises(RateLimited) as caught:
        parcelvoy.trigger(44, user=USER)

    assert caught.value.retry_after == 3600
    assert caught.value.outcome_unknown is False


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("campaign_id", [0, -1, "44", 4.4, True, None])
def test_a_bad_campaign_id_is_refused_before_sending(parcelvoy, httpx_mock, campaign_id):
    with pytest.raises(Invalid):
        parcelvoy.trigger(campaign_id, user=USER)

    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("user", "event"),
    [({"email": "a@b.c"}, None), ({"external_id": " "}, None), (USER, ["not", "an", "object"])],
)
def test_a_bad_user_or_event_is_refused_before_sending(parcelvoy, httpx_mock, user, event):
    with pytest.raises(Invalid):
        parcelvoy.trigger(44, user=user, event=event)

    assert httpx_mock.get_requests() == []


def test_a_disabled_user_field_is_never_sent(make_parcelvoy, httpx_mock):
    client = make_parcelvoy(enabled_fields={"external_id", "email"})

    with pytest.raises(FieldNotEnabled) as caught:
        client.trigger(44, user={**USER, "shoe_size": 42})

    assert caught.value.paths == ["locale", "shoe_size", "timezone"]
    assert httpx_mock.get_requests() == []


# -- check credentials --------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        {"status_code": 404, "text": "Not Found", "headers": {"Content-Type": "text/plain"}},
        {"status_code": 422, "json": {"status": "error", "error": "must have property 'user'"}},
    ],
)
def test_check_credentials_accepts_a_key_that_reaches_the_route(parcelvoy, httpx_mock, reply):
    httpx_mock.add_response(method="POST", url=PROBE, match_json={}, **reply)

    assert parcelvoy.check_credentials().provider == "parcelvoy"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"status_code": 404, "text": docs.PARCELVOY_UNKNOWN_KEY}, UnknownApiKey),
        ({"status_code": 401, "text": "Unauthorized"}, Unauthorized),
        ({"status_code": 403, "json": {"status": "error", "error": "forbidden"}}, Forbidden),
        (
            {"status_code": 404, "text": "<html><body>nginx 404</body></html>",
             "headers": {"Content-Type": "text/html"}},
            NotFound,
        ),
    ],
)  # fmt: skip
def test_check_credentials_raises_for_a_bad_key(parcelvoy, httpx_mock, reply, error):
    httpx_mock.add_response(url=PROBE, **reply)

    with pytest.raises(error) as caught:
        parcelvoy.check_credentials()

    assert_no_secret(str(caught.value) + repr(caught.value))
