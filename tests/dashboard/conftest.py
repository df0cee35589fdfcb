import pytest


@pytest.fixture
def database_down(monkeypatch):
    """Every new cursor of the default connection fails, as when PostgreSQL is down."""
    from django.db import OperationalError, connection

    def broken_cursor(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
