"""The session engine (``dashboard.accounts.sessions``): Django's database sessions with the
read written as SQL once. It must read exactly what Django's reads: the session of that key,
unless it has expired; and a session ended (sign-out, expiry, deletion) must stay ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from dashboard.accounts.roles import Role
from dashboard.accounts.sessions import SessionStore
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def saved(data: dict) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    assert store.session_key
    return store.session_key


def test_it_is_the_session_engine():
    assert settings.SESSION_ENGINE == "dashboard.accounts.sessions"


def test_a_session_reads_back_what_was_saved_in_one_query(django_assert_num_queries):
    key = saved({"name": "Zoë", "n": 3, "nested": {"a": [1, 2]}})
    with django_assert_num_queries(1):
        store = SessionStore(key)
        assert dict(store.items()) == {"name": "Zoë", "n": 3, "nested": {"a": [1, 2]}}
    assert store.session_key == key
    assert dict(DjangoStore(key).items()) == dict(SessionStore(key).items())


@pytest.mark.parametrize("key", ["nosuchsessionkey0000000000000000", "short", "", None])
def test_an_unknown_key_reads_as_an_empty_session_with_a_new_key_on_save(key):
    saved({"someone": "else"})
    store = SessionStore(key)
    assert dict(store.items()) == {}
    store["x"] = 1
    store.save()
    assert store.session_key and store.session_key != key
    assert SessionStore(store.session_key)["x"] == 1


def test_an_expired_session_reads_as_empty_and_is_not_revived():
    key = saved({"secret": "kept"})
    expired = timezone.now() - timedelta(seconds=1)
    Session.objects.filter(session_key=key).update(expire_date=expired)
    store = SessionStore(key)
    assert dict(store.items()) == {}
    assert dict(DjangoStore(key).items()) == {}
    store["x"] = 1
    store.save()
    assert store.session_key != key  # a new session, not the expired one's key


def test_a_session_about_to_expire_still_reads():
    key = saved({"still": "here"})
    soon = timezone.now() + timedelta(seconds=30)
    Session.objects.filter(session_key=key).update(expire_date=soon)
    assert SessionStore(key)["still"] == "here"


def test_a_tampered_session_reads_as_empty():
    key = saved({"role": "support"})
    Session.objects.filter(session_key=key).update(session_data="not-a-signed-payload")
    assert dict(SessionStore(key).items()) == {}


def test_signing_out_ends_the_session_for_good(client):
    user = UserFactory(role=Role.SUPPORT.value)
    client.force_login(user, backend="dashboard.accounts.backends.RoleBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/recipients/").status_code == 200
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=cookie).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie  # the old cookie, replayed
    response = client.get("/recipients/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
