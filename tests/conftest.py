"""Fixtures shared by the whole suite: users per role and signed-in clients.

Parts that need something outside Python (PostgreSQL, Redis, Chromium) skip with a message
saying how to enable them, except under ``CI=true``, where a missing part fails the run.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.helpers.postgres import require_postgresql

pytest_plugins = ["tests.celery_fixtures", "tests.sandbox_fixtures"]

ROLES = ("admin", "support", "manager")


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
