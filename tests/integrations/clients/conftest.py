"""Fixtures for the provider client tests: clients on a fake clock, never real sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.clients import CampaignClient, RedFlagClient, SnappyClient
from tests.integrations.clients.helpers import (
    BASE,
    PARCELVOY_ENABLED,
    PARCELVOY_KEY,
    REDFLAG_ENABLED,
    REDFLAG_TOKEN,
    SNAPPY_ENABLED,
    SNAPPY_KEY,
    FakeTime,
    time_options,
)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_redflag(fake_time):
    def make(**overrides) -> RedFlagClient:
        options = {"enabled_fields": REDFLAG_ENABLED, **time_options(fake_time)}
        options.update(overrides)
        return RedFlagClient(BASE + "/redflag", REDFLAG_TOKEN, "loc-1", **options)

    return make


@pytest.fixture
def redflag(make_redflag) -> Iterator[RedFlagClient]:
    client = make_redflag()
    yield client
    client.close()


@pytest.fixture
def make_snappy(fake_time):
    def make(**overrides) -> SnappyClient:
        options = {
            "enabled_fields": SNAPPY_ENABLED,
            "company_id": "company1234",
            "rate_limit": None,  # the limiter has tests of its own
            **time_options(fake_time),
        }
        options.update(overrides)
        return SnappyClient(BASE + "/snappy", SNAPPY_KEY, **options)

    return make


@pytest.fixture
def snappy(make_snappy) -> Iterator[SnappyClient]:
    client = make_snappy()
    yield client
    client.close()


@pytest.fixture
def make_parcelvoy(fake_time):
    def make(**overrides) -> CampaignClient:
        options = {"enabled_fields": PARCELVOY_ENABLED, **time_options(fake_time)}
        options.update(overrides)
        return CampaignClient(BASE + "/parcelvoy", PARCELVOY_KEY, **options)

    return make


@pytest.fixture
def parcelvoy(make_parcelvoy) -> Iterator[CampaignClient]:
    client = make_parcelvoy()
    yield client
    client.close()
