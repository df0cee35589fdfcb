"""Injected faults look like real network and server failures, and writes happen (or not)
exactly as a real server's would: 5xx, 429 and drops before the write; timeouts and garbled
replies after it, so clients must check before retrying a create."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from integrations.sandbox.server import SandboxServer

NEW = {"firstName": "Søren", "lastName": "Ødegård"}


def _exists(redflag: httpx.Client, email: str) -> bool:
    return redflag.get(f"/int/v1/recipient/{email}").json()["success"]


def test_latency_delays_provider_replies(sandbox: SandboxServer, redflag: httpx.Client):
    sandbox.configure(faults={"latency_ms": 300, "latency_jitter_ms": 50})

    started = time.monotonic()
    reply = redflag.get("/int/v1/recipient/nobody@example.com")

    assert reply.status_code == 200
    assert time.monotonic() - started >= 0.25  # a lower bound only: never time tightly


@pytest.mark.parametrize(
    ("provider", "method", "path", "counted_as"),
    [
        ("redflag", "GET", "/int/v1/recipient", "redflag GET /int/v1/recipient 429"),
        ("snappy", "GET", "/v2/accounts", "snappy GET /v2/accounts 429"),
        ("parcelvoy", "POST", "/api/client/campaigns/1/trigger",
         "parcelvoy POST /api/client/campaigns/{campaignId}/trigger 429"),
    ],
)  # fmt: skip
def test_injected_429_carries_retry_after_in_each_providers_shape(
    sandbox: SandboxServer, provider: str, method: str, path: str, counted_as: str
) -> None:
    sandbox.configure(faults={"rate_429": 1.0, "retry_after_seconds": 2})

    reply = httpx.request(method, f"{sandbox.url}/{provider}{path}")

    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "2"
    body = reply.json()
    assert body.get("success") is False or body.get("status") in (429, "error")
    assert sandbox.counters()["requests"] == {counted_as: 1}


def test_injected_429_without_retry_after(sandbox: SandboxServer, snappy: httpx.Client):
    sandbox.configure(faults={"rate_429_without_retry_after": 1.0})

    reply = snappy.get("/v2/accounts")

    assert reply.status_code == 429
    assert "retry-after" not in reply.headers
    assert reply.json()["status"] == 429


@pytest.mark.parametrize(
    ("fault", "status", "content_type"),
    [("rate_500", 500, "application/json"), ("rate_502", 502, "text/html"),
     ("rate_503", 503, "text/html")],
)  # fmt: skip
def test_server_errors_happen_before_the_write(
    sandbox: SandboxServer,
    redflag: httpx.Client,
    new_email: Callable[..., str],
    fault: str,
    status: int,
    content_type: str,
) -> None:
    sandbox.configure(faults={fault: 1.0})
    email = new_email()

    reply = redflag.post("/int/v1/recipient", json={"email": email, **NEW})

    assert reply.status_code == status
    assert reply.headers["content-type"].startswith(content_type)
    sandbox.configure(faults={fault: 0.0})
    assert not _exists(redflag, email)
    assert sandbox.counters()["creates"]["redflag"] == {}


def test_drop_closes_the_connection_without_a_reply_and_writes_nothing(
    sandbox: SandboxServer, redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    sandbox.configure(faults={"rate_drop": 1.0})
    email = new_email()

    with pytest.raises(httpx.RemoteProtocolError):
        redflag.post("/int/v1/recipient", json={"email": email, **NEW})

    sandbox.configure(faults={"rate_drop": 0.0})
    assert not _exists(redflag, email)
    assert sandbox.counters()["requests"]["redflag POST /int/v1/recipient drop"] == 1


def test_timeout_applies_the_write_then_never_answers(
    sandbox: SandboxServer,
    snappy: httpx.Client,
    snappy_account_ids: list[str],
    new_email: Callable[..., str],
) -> None:
    sandbox.configure(faults={"rate_timeout": 1.0, "timeout_seconds": 3})
    email = new_email()
    body = {"firstName": "Zoë", "country": "FR", "accounts": snappy_account_ids[:1], "email": email}

    with pytest.raises(httpx.ReadTimeout):
        snappy.post("/v2/recipients", json=body, timeout=0.3)

    sandbox.configure(faults={"rate_timeout": 0.0})
    found = snappy.get("/v2/recipients", params={"emails": email}).json()["results"]
    assert [r["email"] for r in found] == [email]  # committed, then timed out
    counters = sandbox.counters()
    assert counters["creates"]["snappy"] == {email: 1}
    assert counters["requests"]["snappy POST /v2/recipients timeout"] == 1


def test_malformed_reply_is_a_200_html_page_after_the_write(
    sandbox: SandboxServer, redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    sandbox.configure(faults={"rate_malformed": 1.0})
    email = new_email()

    reply = redflag.post("/int/v1/recipient", json={"email": email, **NEW})

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    sandbox.configure(faults={"rate_malformed": 0.0})
    assert _exists(redflag, email)


def test_truncated_replies_cut_the_json_after_the_write(
    sandbox: SandboxServer, redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    """Half the truncations promise the full Content-Length and hang up; the others look
    complete but the JSON stops halfway."""
    sandbox.configure(faults={"rate_truncated": 1.0})
    emails = [new_email() for _ in range(8)]
    outcomes = set()

    for email in emails:
        try:
            reply = redflag.post("/int/v1/recipient", json={"email": email, **NEW})
        except httpx.RemoteProtocolError:
            outcomes.add("incomplete body")
            continue
        with pytest.raises(json.JSONDecodeError):
            reply.json()
        outcomes.add("cut json")

    assert outcomes == {"incomplete body", "cut json"}
    sandbox.configure(faults={"rate_truncated": 0.0})
    assert all(_exists(redflag, email) for email in emails)
    assert sandbox.counters()["requests"]["redflag POST /int/v1/recipient truncated"] == 8


def test_fault_rates_are_shares_of_requests(sandbox: SandboxServer, snappy: httpx.Client):
    sandbox.configure(faults={"rate_503": 0.5}, variants={"snappy_rate_limit": 0})

    statuses = [snappy.get("/v2/accounts").status_code for _ in range(60)]

    assert set(statuses) == {200, 503}


def test_faults_can_be_limited_to_some_providers(
    sandbox: SandboxServer, redflag: httpx.Client, snappy: httpx.Client
) -> None:
    sandbox.configure(faults={"rate_500": 1.0, "only": ["snappy"]})

    assert snappy.get("/v2/accounts").status_code == 500
    assert redflag.get("/int/v1/recipient/x@example.com").status_code == 200


def test_control_endpoints_are_never_faulted(sandbox: SandboxServer, control: httpx.Client):
    sandbox.configure(faults={"rate_drop": 1.0, "latency_ms": 5000})

    started = time.monotonic()
    assert control.get("/health").json() == {"status": "ok"}
    assert control.get("/counters").status_code == 200
    assert time.monotonic() - started < 4


def test_64_requests_are_served_at_once(sandbox: SandboxServer) -> None:
    sandbox.configure(faults={"latency_ms": 400}, variants={"snappy_rate_limit": 0})
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    headers = {"X-Api-Key": sandbox.credentials["snappy"]["api_key"]}

    with (
        httpx.Client(base_url=f"{sandbox.url}/snappy", headers=headers, limits=limits) as client,
        ThreadPoolExecutor(max_workers=64) as pool,
    ):
        statuses = list(pool.map(lambda _: client.get("/v2/accounts").status_code, range(64)))

    assert statuses == [200] * 64
    assert sandbox.counters()["in_flight_max"] >= 64


def test_keep_alive_reuses_one_connection(redflag: httpx.Client) -> None:
    def client_port(reply: httpx.Response) -> int:
        return reply.extensions["network_stream"].get_extra_info("client_addr")[1]

    ports = {client_port(redflag.get(f"/int/v1/recipient/n{i}@example.com")) for i in range(5)}

    assert len(ports) == 1


def test_stop_does_not_wait_for_a_stalled_request() -> None:
    server = SandboxServer(seed=1, random_seed=7).start()
    server.configure(faults={"rate_timeout": 1.0, "timeout_seconds": 600})
    token = server.credentials["redflag"]["token"]
    failures: list[Exception] = []

    def stalled_call() -> None:
        try:
            httpx.get(
                f"{server.url}/redflag/int/v1/recipient",
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            )
        except httpx.HTTPError as exc:
            failures.append(exc)

    caller = threading.Thread(target=stalled_call)
    caller.start()
    while not server.counters()["requests"]:
        time.sleep(0.01)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=20)
    caller.join(timeout=20)

    assert not stopper.is_alive()
    assert not caller.is_alive()
    assert len(failures) == 1  # the client saw the connection close, not a reply
