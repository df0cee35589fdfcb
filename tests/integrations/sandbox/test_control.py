"""``/_control`` and the Python API give tests and benchmarks the same levers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from integrations.sandbox.config import ConfigError
from integrations.sandbox.server import SandboxServer

DEFAULT_FAULTS = {
    "latency_ms": 0, "latency_jitter_ms": 0, "rate_429": 0.0,
    "rate_429_without_retry_after": 0.0, "rate_500": 0.0, "rate_502": 0.0, "rate_503": 0.0,
    "rate_timeout": 0.0, "timeout_seconds": 30, "rate_drop": 0.0, "rate_malformed": 0.0,
    "rate_truncated": 0.0, "retry_after_seconds": 1, "only": None,
}  # fmt: skip
DEFAULT_VARIANTS = {
    "redflag_auth_failure": "401", "redflag_list": "all", "redflag_errors": "200",
    "redflag_create": "200", "parcelvoy_success": "200", "snappy_delete": "200",
    "snappy_source": "object", "snappy_update": "patch_or_put", "snappy_nested": "merge",
    "retry_after": "seconds", "snappy_rate_limit": 100,
}  # fmt: skip


def test_health(control: httpx.Client) -> None:
    assert control.get("/health").json() == {"status": "ok"}


def test_config_starts_at_the_defaults(control: httpx.Client) -> None:
    assert control.get("/config").json() == {
        "faults": DEFAULT_FAULTS,
        "variants": DEFAULT_VARIANTS,
    }


def test_partial_updates_merge(sandbox: SandboxServer, control: httpx.Client) -> None:
    control.post("/config", json={"faults": {"latency_ms": 10}})
    reply = control.post(
        "/config", json={"faults": {"rate_500": 0.1}, "variants": {"redflag_list": "paged"}}
    )

    config = reply.json()
    assert reply.status_code == 200
    assert (config["faults"]["latency_ms"], config["faults"]["rate_500"]) == (10, 0.1)
    assert config["variants"] == {**DEFAULT_VARIANTS, "redflag_list": "paged"}
    assert sandbox.config.to_dict() == config


def test_variants_accept_status_codes_as_numbers(sandbox: SandboxServer) -> None:
    config = sandbox.configure(variants={"parcelvoy_success": 204, "redflag_auth_failure": 200})

    assert config["variants"]["parcelvoy_success"] == "204"
    assert config["variants"]["redflag_auth_failure"] == "200"


@pytest.mark.parametrize(
    "body",
    [
        {"faults": {"rate_teapot": 0.1}},
        {"faults": {"rate_500": 1.5}},
        {"faults": {"rate_500": 0.6, "rate_502": 0.6}},  # rates add up to more than 1
        {"faults": {"latency_ms": "slow"}},
        {"faults": {"only": ["mailchimp"]}},
        {"variants": {"redflag_list": "some"}},
        {"variants": {"snappy_rate_limit": -1}},
        {"extras": {}},
        ["not", "an", "object"],
    ],
)
def test_bad_config_is_refused_and_changes_nothing(
    sandbox: SandboxServer, control: httpx.Client, body: Any
) -> None:
    reply = control.post("/config", json=body)

    assert reply.status_code == 400
    assert "error" in reply.json()
    assert control.get("/config").json()["faults"] == DEFAULT_FAULTS


def test_configure_raises_config_error(sandbox: SandboxServer) -> None:
    with pytest.raises(ConfigError):
        sandbox.configure(faults={"rate_drop": 2})


def test_reset_restores_config_and_zeroes_counters_but_keeps_data(
    sandbox: SandboxServer,
    control: httpx.Client,
    redflag: httpx.Client,
    new_email: Callable[..., str],
) -> None:
    email = new_email()
    redflag.post("/int/v1/recipient", json={"email": email, "firstName": "A", "lastName": "B"})
    sandbox.configure(faults={"latency_ms": 1}, variants={"snappy_delete": "204"})

    reply = control.post("/reset")

    assert reply.json() == {"faults": DEFAULT_FAULTS, "variants": DEFAULT_VARIANTS}
    counters = sandbox.counters()
    assert counters["requests"] == {}
    assert counters["creates"] == {"redflag": {}, "snappy": {}}
    assert counters["triggers"] == []
    assert redflag.get(f"/int/v1/recipient/{email}").json()["success"] is True


def test_counters_name_provider_method_route_and_status(
    sandbox: SandboxServer, snappy: httpx.Client, control: httpx.Client
) -> None:
    snappy.get("/v2/recipients/abc123")
    snappy.get("/v2/recipients/def456")
    snappy.get("/v2/nothing")

    counters = control.get("/counters").json()

    assert counters["requests"] == {
        "snappy GET /v2/recipients/{id} 404": 2,
        "snappy GET <unknown> 404": 1,
    }
    assert counters["in_flight"] == 0
    assert counters["in_flight_max"] >= 1


def test_state_lists_accounts_and_campaigns(control: httpx.Client) -> None:
    state = control.get("/state").json()

    assert state["redflag"]["recipients"] >= 50
    assert len(state["snappy"]["accounts"]) == 5
    assert {c["channel"] for c in state["parcelvoy"]["campaigns"]} == {"email", "sms", "push"}
    assert [c["id"] for c in state["parcelvoy"]["campaigns"]] == [1, 2, 3, 4, 5, 6]


def test_unknown_control_path_and_method(control: httpx.Client) -> None:
    assert control.get("/nothing").status_code == 404
    assert control.delete("/config").status_code == 405


def test_unknown_mount_point_is_404(sandbox: SandboxServer) -> None:
    reply = httpx.get(f"{sandbox.url}/mailchimp/v3/lists")

    assert reply.status_code == 404
    assert "/redflag" in reply.json()["error"]
