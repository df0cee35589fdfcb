"""Fixtures for the test-send pages: a Parcelvoy connection on the sandbox, fast clients."""

from __future__ import annotations

import pytest

from integrations.models import Connection
from tests.dashboard.campaigns.helpers import (
    parcelvoy_connection,
)

# Quick to give up: a test of a timeout must not wait for the real ones.
FAST_CLIENT = {"connect_timeout": 1, "read_timeout": 0.5, "max_attempts": 1, "total_timeout": 3}


@pytest.fixture(autouse=True)
def _fast_campaign_client(settings):
    settings.TEST_SEND_CLIENT_OPTIONS = FAST_CLIENT


@pytest.fixture
def parcelvoy(sandbox) -> Connection:
    return parcelvoy_connection(sandbox)
