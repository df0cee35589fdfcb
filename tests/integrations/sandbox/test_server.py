"""Starting, stopping, credentials and seed data of ``SandboxServer``."""

from __future__ import annotations

import re

import httpx
import pytest

from integrations.sandbox.config import SandboxConfig
from integrations.sandbox.server import SandboxServer


def _redflag_list(server: SandboxServer) -> dict[str, object]:
    token = server.credentials["redflag"]["token"]
    return httpx.get(
        f"{server.url}/redflag/int/v1/recipient", headers={"Authorization": f"Bearer {token}"}
    ).json()


def test_credentials_have_the_documented_shapes() -> None:
    creds = SandboxServer(seed=0).credentials

    assert set(creds["redflag"]) == {"token", "location_id"}
    assert re.fullmatch(r"[A-Za-z0-9]{24}", creds["snappy"]["api_key"])
    assert re.fullmatch(r"[A-Za-z0-9]{8,}", creds["snappy"]["company_id"])
    assert creds["parcelvoy"]["secret_key"].startswith("sk_")
    assert creds["parcelvoy"]["public_key"].startswith("pk_")
    assert creds["parcelvoy"]["viewer_key"].startswith("sk_")
    assert creds["parcelvoy"]["viewer_key"] != creds["parcelvoy"]["secret_key"]


def test_credentials_are_random_unless_given() -> None:
    fixed = {"snappy": {"api_key": "A" * 24}, "redflag": {"token": "demo-token"}}

    first, second = SandboxServer(seed=0), SandboxServer(seed=0)
    given = SandboxServer(seed=0, credentials=fixed)

    assert first.credentials["redflag"]["token"] != second.credentials["redflag"]["token"]
    assert first.credentials["snappy"] != second.credentials["snappy"]
    assert given.credentials["snappy"]["api_key"] == "A" * 24
    assert given.credentials["redflag"]["token"] == "demo-token"
    again = SandboxServer(seed=0, credentials=fixed)  # what was not given stays random
    assert again.credentials["snappy"]["company_id"] != given.credentials["snappy"]["company_id"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"snappy": {"api_key": "too-short"}},
        {"snappy": {"company_id": "abc"}},
        {"parcelvoy": {"secret_key": "pk_wrong"}},
        {"parcelvoy": {"public_key": "sk_wrong"}},
        {"mailchimp": {"key": "x"}},
        {"redflag": {"password": "x"}},
    ],
)
def test_malformed_fixed_credentials_are_refused(credentials: dict[str, dict[str, str]]):
    with pytest.raises(ValueError):
        SandboxServer(seed=0, credentials=credentials)


def _snappy_list(server: SandboxServer) -> dict[str, object]:
    headers = {"X-Api-Key": server.credentials["snappy"]["api_key"]}
    return httpx.get(f"{server.url}/snappy/v2/recipients", headers=headers).json()


def test_same_random_seed_gives_the_same_data() -> None:
    company = {"snappy": {"company_id": "AcmeCorp2026"}}
    with (
        SandboxServer(seed=20, random_seed=5, credentials=company) as first,
        SandboxServer(seed=20, random_seed=5, credentials=company) as second,
        SandboxServer(seed=20, random_seed=6, credentials=company) as other,
    ):
        assert _redflag_list(first) == _redflag_list(second)
        assert _snappy_list(first) == _snappy_list(second)
        assert first.state() == second.state()
        assert _redflag_list(first) != _redflag_list(other)
        assert _snappy_list(first) != _snappy_list(other)


def test_seed_zero_serves_empty_lists() -> None:
    with SandboxServer(seed=0) as server:
        assert _redflag_list(server) == {"success": True, "data": [], "total": 0}


def test_url_needs_a_running_server() -> None:
    server = SandboxServer(seed=0)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.base_urls["snappy"] == f"{server.url}/snappy"
    with pytest.raises(RuntimeError):
        _ = server.url


def test_reset_returns_to_the_starting_config_and_can_reseed() -> None:
    start = SandboxConfig().merged(variants={"redflag_list": "paged"})
    with SandboxServer(seed=3, random_seed=1, config=start) as server:
        token = server.credentials["redflag"]["token"]
        httpx.post(
            f"{server.url}/redflag/int/v1/recipient",
            json={"email": "new@example.com", "firstName": "N", "lastName": "N"},
            headers={"Authorization": f"Bearer {token}"},
        )
        server.configure(variants={"redflag_list": "all"})

        server.reset()
        assert server.config == start
        assert server.state()["redflag"]["recipients"] == 4

        server.reset(data=True)
        assert server.state()["redflag"]["recipients"] == 3
