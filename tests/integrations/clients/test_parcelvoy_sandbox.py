"""Campaign trigger client against the real sandbox: variants, keys, and no duplicate sends."""

from __future__ import annotations

import pytest

from integrations.clients import (
    Forbidden,
    Invalid,
    NotFound,
    ProviderError,
    Unauthorized,
    UnknownApiKey,
)
from tests.integrations.clients.sandbox_helpers import (
    FAULT_OUTCOME,
    fault,
    outcomes,
    parcelvoy_client,
    unique_email,
)

pytestmark = pytest.mark.sandbox

EMAIL_CAMPAIGN = 1
SMS_CAMPAIGN = 2


def user(n: int = 0) -> dict:
    return {"external_id": f"emp-{n}", "email": unique_email("pv"), "timezone": "Europe/Oslo"}


@pytest.mark.parametrize("variant", ["200", "204"])
def test_trigger_succeeds_under_both_success_variants(sandbox, variant):
    sandbox.configure(variants={"parcelvoy_success": variant})

    result = parcelvoy_client(sandbox).trigger(
        EMAIL_CAMPAIGN, user=user(), event={"reason": "welcome"}
    )

    assert result.status == int(variant)
    triggers = sandbox.counters()["triggers"]
    assert len(triggers) == 1 and triggers[0]["event"] == {"reason": "welcome"}


def test_event_defaults_to_an_empty_object(sandbox):
    parcelvoy_client(sandbox).trigger(EMAIL_CAMPAIGN, user=user())

    assert sandbox.counters()["triggers"][0]["event"] == {}


def test_validation_errors_name_the_field(sandbox):
    with pytest.raises(Invalid) as caught:
        parcelvoy_client(sandbox).trigger(SMS_CAMPAIGN, user=user())  # no phone for an SMS

    assert "phone" in caught.value.field_errors


def test_unknown_campaign_is_not_found(sandbox):
    with pytest.raises(NotFound, match="campaign not found"):
        parcelvoy_client(sandbox).trigger(999, user=user())


@pytest.mark.parametrize(
    ("key_name", "error"),
    [("public_key", Forbidden), ("viewer_key", Forbidden), (None, UnknownApiKey)],
)
def test_keys_that_may_not_trigger(sandbox, key_name, error):
    key = sandbox.credentials["parcelvoy"][key_name] if key_name else "sk_unknown-key"
    client = parcelvoy_client(sandbox, key=key)

    with pytest.raises(error):
        client.check_credentials()
    with pytest.raises(error):
        client.trigger(EMAIL_CAMPAIGN, user=user())

    assert sandbox.counters()["triggers"] == []


def test_check_credentials_accepts_the_secret_key_and_sends_nothing(sandbox):
    result = parcelvoy_client(sandbox).check_credentials()

    assert result.latency > 0
    assert sandbox.counters()["triggers"] == []


def test_an_unknown_key_is_unauthorized_not_a_missing_campaign(sandbox):
    with pytest.raises(Unauthorized) as caught:
        parcelvoy_client(sandbox, key="sk_revoked").trigger(EMAIL_CAMPAIGN, user=user())

    assert caught.value.status == 404 and caught.value.code == 6000


@pytest.mark.parametrize("kind", ["rate_429", "rate_429_without_retry_after", "rate_503"])
def test_refusals_before_any_send_are_retried_until_every_trigger_lands(sandbox, kind):
    sandbox.configure(faults=fault(kind))
    client = parcelvoy_client(sandbox)

    results = [client.trigger(EMAIL_CAMPAIGN, user=user(n)) for n in range(15)]

    assert all(r.status == 200 for r in results)
    assert len(sandbox.counters()["triggers"]) == 15  # each user messaged exactly once
    assert outcomes(sandbox, "parcelvoy").get(FAULT_OUTCOME[kind], 0) > 0


@pytest.mark.parametrize(
    "kind",
    ["rate_timeout", "rate_drop", "rate_500", "rate_502", "rate_malformed", "rate_truncated"],
)
def test_a_trigger_that_may_have_been_sent_is_never_repeated(sandbox, kind):
    sandbox.configure(faults=fault(kind, 0.4))
    client = parcelvoy_client(sandbox)
    sent, failed = 0, []

    for n in range(15):
        try:
            client.trigger(EMAIL_CAMPAIGN, user=user(n))
            sent += 1
        except ProviderError as exc:
            failed.append(exc)

    triggers = sandbox.counters()["triggers"]
    users = [t["user"]["external_id"] for t in triggers]
    assert len(users) == len(set(users))  # nobody messaged twice
    assert outcomes(sandbox, "parcelvoy").get(FAULT_OUTCOME[kind], 0) > 0
    assert all(e.attempts == 1 for e in failed)
    if kind in ("rate_timeout", "rate_malformed", "rate_truncated"):
        assert len(triggers) == 15  # the sandbox sent every one, replies or not
    else:
        assert len(triggers) == sent  # refused before sending: nothing sent for a failure
    if kind == "rate_malformed":
        assert not failed  # a garbled 200 is still a 200: accepted, not repeated
    if kind in ("rate_timeout", "rate_drop", "rate_502"):
        assert failed and all(e.outcome_unknown for e in failed)
