"""The sandbox's Parcelvoy trigger behaves as CONTRACT-NOTES "Campaign trigger" describes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from integrations.sandbox.server import SandboxServer

TRIGGER = "/api/client/campaigns/{}/trigger"
EMAIL_USER = {"external_id": "u-1", "email": "zoe@example.com"}


def test_trigger_answers_200_success_and_is_recorded(
    sandbox: SandboxServer, parcelvoy: httpx.Client
) -> None:
    user = {**EMAIL_USER, "timezone": "Not/AZone", "locale": "xx-nonsense", "plan": "pro"}

    reply = parcelvoy.post(TRIGGER.format(1), json={"user": user, "event": {"k": "v"}})

    assert reply.status_code == 200
    assert reply.json() == {"success": True}
    [trigger] = sandbox.counters()["triggers"]
    assert trigger["campaign_id"] == 1
    assert trigger["channel"] == "email"
    assert trigger["user"] == user  # timezone and locale are not validated (faithful)
    assert trigger["event"] == {"k": "v"}
    assert trigger["received_at"].endswith("Z")


def test_trigger_answers_204_in_the_documented_variant(
    sandbox: SandboxServer, parcelvoy: httpx.Client
) -> None:
    sandbox.configure(variants={"parcelvoy_success": "204"})

    reply = parcelvoy.post(TRIGGER.format(4), json={"user": EMAIL_USER, "event": {}})

    assert reply.status_code == 204
    assert reply.content == b""
    assert len(sandbox.counters()["triggers"]) == 1


@pytest.mark.parametrize(
    ("campaign", "user"),
    [
        (2, {"external_id": "u-2", "phone": "+12345678900"}),
        (3, {"external_id": "u-3", "device_token": "DEVICE_TOKEN"}),
    ],
)
def test_sms_and_push_campaigns_take_phone_and_device_token(
    parcelvoy: httpx.Client, campaign: int, user: dict[str, str]
) -> None:
    reply = parcelvoy.post(TRIGGER.format(campaign), json={"user": user, "event": {}})

    assert reply.status_code == 200


NO_EXTERNAL_ID = {"email": "a@b.co"}
PHONE_ONLY = {"external_id": "u", "phone": "+1"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "Must have required property 'user'"),
        ({"user": EMAIL_USER}, "Must have required property 'event'"),
        ({"user": NO_EXTERNAL_ID, "event": {}}, "Must have required property 'external_id'"),
        ({"user": EMAIL_USER, "event": {}, "send_at": "x"}, "Must NOT have additional properties"),
        ({"user": EMAIL_USER, "event": "signup"}, "Must be object"),
        ({"user": {**NO_EXTERNAL_ID, "external_id": 7}, "event": {}}, "Must be string"),
        ({"user": PHONE_ONLY, "event": {}}, "Must have required property 'email'"),
        ([], "Must be object"),
    ],
)
def test_validation_reports_the_first_problem_as_422(
    parcelvoy: httpx.Client, body: Any, error: str
) -> None:
    reply = parcelvoy.post(TRIGGER.format(1), json=body)

    assert reply.status_code == 422
    assert reply.json() == {"status": "error", "error": error}


@pytest.mark.parametrize(
    ("campaign", "address"), [(2, "phone"), (3, "device_token"), (5, "phone"), (6, "device_token")]
)
def test_user_needs_the_address_of_the_campaigns_channel(
    parcelvoy: httpx.Client, campaign: int, address: str
) -> None:
    reply = parcelvoy.post(TRIGGER.format(campaign), json={"user": EMAIL_USER, "event": {}})

    assert reply.status_code == 422
    assert reply.json()["error"] == f"Must have required property '{address}'"


@pytest.mark.parametrize("campaign", ["abc", "99", "1.5"])
def test_unknown_or_non_numeric_campaign_is_plain_text_404(
    parcelvoy: httpx.Client, campaign: str
) -> None:
    reply = parcelvoy.post(TRIGGER.format(campaign), json={"user": EMAIL_USER, "event": {}})

    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == "Not Found"


def _trigger_with(sandbox: SandboxServer, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.post(
        f"{sandbox.url}/parcelvoy" + TRIGGER.format(1),
        json={"user": EMAIL_USER, "event": {}},
        headers=headers,
    )


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic c2s6eA==", "Bearer jwt"])
def test_missing_or_malformed_bearer_is_401(sandbox: SandboxServer, authorization: str | None):
    reply = _trigger_with(sandbox, authorization)

    assert reply.status_code == 401
    assert reply.json() == {"status": "error", "error": "Authorization error.", "code": 1000}


def test_unknown_secret_key_is_404_project_does_not_exist(sandbox: SandboxServer) -> None:
    reply = _trigger_with(sandbox, "Bearer sk_00000000-0000-0000-0000-000000000000")

    assert reply.status_code == 404
    assert reply.json() == {
        "status": "error",
        "error": "The requested project does not exist.",
        "code": 6000,
    }


def test_public_key_is_403(sandbox: SandboxServer) -> None:
    reply = _trigger_with(sandbox, f"Bearer {sandbox.credentials['parcelvoy']['public_key']}")

    assert reply.status_code == 403
    assert reply.json() == {"status": "error", "error": "Access denied.", "code": 1007}


def test_secret_key_below_editor_is_403(sandbox: SandboxServer) -> None:
    reply = _trigger_with(sandbox, f"Bearer {sandbox.credentials['parcelvoy']['viewer_key']}")

    assert reply.status_code == 403
    assert reply.json()["error"] == "Minimum project role editor is required"
    assert sandbox.counters()["triggers"] == []


def test_unknown_route_is_plain_text_404_even_without_a_key(sandbox: SandboxServer) -> None:
    reply = httpx.get(f"{sandbox.url}/parcelvoy/api/client/campaigns/1/trigger")

    assert reply.status_code == 404
    assert reply.text == "Not Found"
