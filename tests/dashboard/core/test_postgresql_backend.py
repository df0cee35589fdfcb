"""The PostgreSQL backend checks a persistent connection before a request reuses it, unless the
connection answered moments ago (``dashboard/core/postgresql/base.py``).

Each test drops the connection on the server side (``pg_terminate_backend`` from a second
connection), as a database restart or a firewall would, then starts a request the way Django
does (``close_old_connections``, which the request_started signal calls).
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection, connections

from dashboard.core.postgresql import base as backend

pytestmark = pytest.mark.usefixtures("postgresql_autocommit")


@pytest.fixture
def postgresql_autocommit(transactional_db):
    """PostgreSQL in autocommit, as between requests (a test transaction would be dropped)."""
    from tests.helpers.postgres import require_postgresql

    require_postgresql()
    yield
    connection.close()  # whatever state a test left it in, the next one starts afresh


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def drop_on_the_server(pid: int) -> None:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_the_backend_is_this_projects(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "dashboard.core.postgresql"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert isinstance(connections["default"], backend.DatabaseWrapper)


def test_a_connection_idle_past_the_window_is_checked_and_replaced(monkeypatch):
    """The request does not fail: the dropped connection is found dead and a new one opened."""
    monkeypatch.setattr(backend, "HEALTH_CHECK_BYPASS_SECONDS", 0.0)
    first = backend_pid()
    close_old_connections()  # the request ends
    drop_on_the_server(first)
    close_old_connections()  # the next one starts
    assert backend_pid() != first


def test_a_connection_used_moments_ago_is_trusted_without_a_round_trip(monkeypatch):
    """Inside the window no ``SELECT 1`` is sent: a connection dropped in that second fails
    the one request that uses it, and is replaced when that request ends."""
    monkeypatch.setattr(backend, "HEALTH_CHECK_BYPASS_SECONDS", 3600.0)
    first = backend_pid()
    close_old_connections()
    drop_on_the_server(first)
    close_old_connections()
    with pytest.raises(OperationalError):
        backend_pid()
    close_old_connections()  # the failed request ends: Django closes the broken connection
    close_old_connections()
    assert backend_pid() != first


def test_a_connection_that_answered_recently_keeps_serving(monkeypatch):
    """The common case under load: no check, the same server process answers."""
    monkeypatch.setattr(backend, "HEALTH_CHECK_BYPASS_SECONDS", 3600.0)
    first = backend_pid()
    close_old_connections()
    close_old_connections()
    assert backend_pid() == first


def test_a_query_run_often_is_prepared_once_on_the_server():
    """Server-side parameters with psycopg's prepare threshold: the fifth run of the same
    statement prepares it, and later runs execute it without PostgreSQL parsing it again."""
    from django.contrib.auth.models import Group

    for _ in range(6):
        list(Group.objects.filter(name="prepared-statement-probe"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    # Prepared with a placeholder ($1) where the value was: the text holds no value.
    assert any("auth_group" in s and "$1" in s for s in prepared), prepared
    assert not any("prepared-statement-probe" in s for s in prepared)
