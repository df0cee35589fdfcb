"""Pytest fixtures that serve the provider sandbox over real HTTP.

Registered from ``tests/conftest.py`` with ``pytest_plugins = ["tests.sandbox_fixtures"]``.
One server runs per test session (starting it is cheap, but a session-wide port keeps
connection pools simple); each test gets it back with default faults and variants, zeroed
counters and rate-limit windows. Data is shared across tests: create records with unique
emails and never assume exact totals. A test that leaves many records behind (a thousand-create
fault run) gets the starting data back afterwards, so the tests after it read short lists in
whatever order they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from integrations.sandbox.server import SandboxServer

SANDBOX_SEED = 50
SANDBOX_RANDOM_SEED = 20261124
# More recipients than this at one provider after a test: the starting data is restored.
SANDBOX_DATA_LIMIT = 400


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The session's sandbox, on a free loopback port, with 50 recipients per provider."""
    server = SandboxServer(
        host="127.0.0.1", port=0, seed=SANDBOX_SEED, random_seed=SANDBOX_RANDOM_SEED
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The session's sandbox, reset so a test never inherits another test's faults (nor a
    list grown by thousands of another test's records)."""
    sandbox_server.reset()
    yield sandbox_server
    state = sandbox_server.state()
    if any(
        int(state.get(provider, {}).get("recipients") or 0) > SANDBOX_DATA_LIMIT
        for provider in ("redflag", "snappy")
    ):
        sandbox_server.reset(data=True)


@pytest.fixture
def bulk_seed(sandbox: SandboxServer) -> Iterator[Callable[..., None]]:
    """Fill the sandbox's RedFlag and Snappy accounts with many recipients for one test.

    ``bulk_seed(100_000)`` seeds compact recipients (``bulk{n}@example.com``) in about a
    second; ``compact=False`` the documented shape. The session's data returns afterwards.
    """

    def seed(
        count: int, *, providers: tuple[str, ...] = ("redflag", "snappy"), compact: bool = True
    ) -> None:
        sandbox.seed_recipients(count, providers, compact=compact)

    try:
        yield seed
    finally:
        sandbox.reset(data=True)
