"""HTTP clients for the sandbox tests, one per provider, authenticated as documented.

The ``sandbox`` fixture itself comes from ``tests/sandbox_fixtures.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from integrations.sandbox.server import SandboxServer


@pytest.fixture
def new_email() -> Callable[..., str]:
    """Make addresses no other test uses: the sandbox's data lives for the whole session."""

    def make(prefix: str = "test") -> str:
        return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"

    return make


@pytest.fixture
def redflag(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    token = sandbox.credentials["redflag"]["token"]
    with httpx.Client(
        base_url=f"{sandbox.url}/redflag",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def snappy(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{sandbox.url}/snappy",
        headers={"X-Api-Key": sandbox.credentials["snappy"]["api_key"]},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def parcelvoy(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    key = sandbox.credentials["parcelvoy"]["secret_key"]
    with httpx.Client(
        base_url=f"{sandbox.url}/parcelvoy",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ) as client:
        yield client


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/_control", timeout=10) as client:
        yield client


@pytest.fixture
def snappy_account_ids(sandbox: SandboxServer) -> list[str]:
    return [account["id"] for account in sandbox.state()["snappy"]["accounts"]]
