"""Fixtures shared by the whole suite: users per role and signed-in clients.

Parts that need something outside Python (PostgreSQL, Redis, Chromium) skip with a message
saying how to enable them, except under ``CI=true``, where a missing part fails the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest
from django.test import Client

from tests.factories import UserFactory

pytest_plugins = ["tests.celery_fixtures", "tests.sandbox_fixtures"]

ROLES = ("admin", "support", "manager")
# Outside corpora (CSV edge cases, naughty strings, email and phone vectors): copies of the
# team's ../shared/testdata kept in the repository (tests/data/README.md), so a clone runs alone.
TESTDATA = Path(__file__).resolve().parent / "data" / "testdata"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip on a laptop; fail in CI, where every part must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_postgresql() -> None:
    """Skip (fail in CI) unless the test database is PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        skip_or_fail(
            "the test database is not PostgreSQL: set DATABASE_URL=postgres://... to run "
            "the PostgreSQL-only checks"
        )


@pytest.fixture
def postgresql(db):
    """Skip (fail in CI) unless the test database is PostgreSQL."""
    require_postgresql()


@pytest.fixture
def always_stale(postgresql, monkeypatch):
    """Every change makes planner statistics stale, so a caller that asks refreshes them."""
    from integrations import planner

    monkeypatch.setattr(planner, "MIN_CHANGES", 0)
    monkeypatch.setattr(planner, "FRACTION", 0)


def mirror_analyze_count() -> int:
    """How many times PostgreSQL gathered the mirror table's statistics so far."""
    from django.db import connection

    from integrations.models import MirroredRecipient

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [MirroredRecipient._meta.db_table],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", role="admin")


@pytest.fixture
def support_user(db):
    return UserFactory(username="sam", role="support")


@pytest.fixture
def manager_user(db):
    return UserFactory(username="mia", role="manager")


@pytest.fixture
def users(admin_user, support_user, manager_user):
    return {"admin": admin_user, "support": support_user, "manager": manager_user}


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user) -> Client:  # overrides pytest-django's superuser admin_client
    return _client_for(admin_user)


@pytest.fixture
def support_client(support_user) -> Client:
    return _client_for(support_user)


@pytest.fixture
def manager_client(manager_user) -> Client:
    return _client_for(manager_user)


@pytest.fixture
def role_clients(users) -> dict[str, Client]:
    clients = {role: _client_for(user) for role, user in users.items()}
    clients["anonymous"] = Client()
    return clients


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness is for production, not for hundreds of test logins."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
