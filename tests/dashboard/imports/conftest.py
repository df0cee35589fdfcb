from __future__ import annotations

import pytest

from dashboard.connections import services as connection_services
from integrations.models import Connection
from tests.factories import ConnectionFactory


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Uploaded files go to a temporary folder, never to var/."""
    settings.MEDIA_ROOT = tmp_path / "uploads"


@pytest.fixture
def redflag(admin_user) -> Connection:
    """A RedFlag connection with the contact and work fields an HR file carries enabled."""
    connection = ConnectionFactory(name="Acme RedFlag", provider="redflag")
    for path in ("mobile", "mobileCountry", "country", "department", "sfHireDate", "orgId"):
        connection_services.field_setting_set(
            connection=connection, path=path, enabled=True, user=admin_user
        )
    return connection


@pytest.fixture
def snappy(db) -> Connection:
    return ConnectionFactory(name="Acme Snappy", provider="snappy")
