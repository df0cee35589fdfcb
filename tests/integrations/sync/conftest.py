from __future__ import annotations

import pytest


@pytest.fixture
def fast_sync(settings):
    """Short client timeouts and no long waits, so fault tests stay quick."""
    settings.SYNC_CONCURRENCY = 8
    settings.SYNC_CLAIM_TIMEOUT = 300
    return settings
