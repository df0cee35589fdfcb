"""Sessions: Django's ``cached_db`` engine on Redis (``dashboard.accounts.sessions.SessionCache``)
when a Redis is configured, Django's database sessions otherwise. A session reads back what was
saved, an ended one stays ended, and a Redis that does not answer leaves sessions to the
database instead of failing the page."""

from __future__ import annotations

import logging
import os
import time

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string

from dashboard.accounts import sessions
from dashboard.accounts.roles import Role
from tests.factories import UserFactory
from tests.helpers.environment import skip_or_fail

pytestmark = pytest.mark.django_db

# Nothing listens on port 9 (discard) on loopback: a connection there is refused.
CLOSED_PORT_URL = "redis://127.0.0.1:9/0"


def redis_url() -> str:
    """The Redis the sessions use in this environment, or skip (fail in CI) without one."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    url = os.environ.get("SESSION_CACHE_URL") or (
        broker if broker.startswith(("redis://", "rediss://")) else ""
    )
    if not url:
        skip_or_fail(
            "no Redis for the sessions: set CELERY_BROKER_URL=redis://127.0.0.1:6379/<db> (or "
            "SESSION_CACHE_URL) to run the tests of sessions on Redis"
        )
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        skip_or_fail(f"Redis does not answer at {url.split('@')[-1]}: start it to run this test")
    return url


@pytest.fixture(autouse=True)
def fresh_outages(monkeypatch):
    """Each test starts with every Redis answering, as far as the sessions' cache knows."""
    monkeypatch.setattr(sessions, "_outages", {})


def on_cached_db(settings, url: str) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {
            "BACKEND": "dashboard.accounts.sessions.SessionCache",
            "LOCATION": url,
            "MAX_TIMEOUT": 300,
        },
    }
    settings.SESSION_CACHE_ALIAS = "sessions"
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"


@pytest.fixture(params=["database", "redis", "redis-down"])
def engine(request, settings):
    """Each way sessions are kept: the database alone, cached_db on Redis, and cached_db on a
    Redis that does not answer."""
    if request.param == "database":
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    elif request.param == "redis":
        on_cached_db(settings, redis_url())
    else:
        on_cached_db(settings, CLOSED_PORT_URL)
    return request.param


def store(key: str | None = None):
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(key)


def saved(data: dict) -> str:
    session = store()
    session.update(data)
    session.save()
    assert session.session_key
    return session.session_key


def session_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if Session._meta.db_table in q["sql"]]


def test_the_engine_is_cached_db_on_redis_when_there_is_one_else_the_database():
    if "sessions" in settings.CACHES:
        assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
        assert settings.SESSION_CACHE_ALIAS == "sessions"
        assert isinstance(caches["sessions"], sessions.SessionCache)
        assert settings.CACHES["sessions"]["LOCATION"] == settings.SESSION_CACHE_URL
    else:
        assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
        assert not settings.SESSION_CACHE_URL


def test_a_session_reads_back_what_was_saved(engine):
    key = saved({"name": "Zoë", "n": 3, "nested": {"a": [1, 2]}})
    assert dict(store(key).items()) == {"name": "Zoë", "n": 3, "nested": {"a": [1, 2]}}
    assert Session.objects.filter(session_key=key).exists()  # in the database, whatever else


@pytest.mark.parametrize("key", ["nosuchsessionkey0000000000000000", "short", "", None])
def test_an_unknown_key_reads_as_an_empty_session_with_a_new_key_on_save(engine, key):
    saved({"someone": "else"})
    session = store(key)
    assert dict(session.items()) == {}
    session["x"] = 1
    session.save()
    assert session.session_key and session.session_key != key
    assert store(session.session_key)["x"] == 1


def test_an_expired_session_reads_as_empty_and_is_not_revived(engine):
    session = store()
    session["secret"] = "kept"
    session.set_expiry(1)
    session.save()
    key = session.session_key
    time.sleep(1.2)
    again = store(key)
    assert dict(again.items()) == {}
    again["x"] = 1
    again.save()
    assert again.session_key != key  # a new session, not the expired one's key


def test_a_signed_in_page_answers_and_signing_out_ends_the_session_for_good(engine, client):
    user = UserFactory(role=Role.SUPPORT.value)
    client.force_login(user, backend="dashboard.accounts.backends.RoleBackend")
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/recipients/").status_code == 200
    assert client.get("/recipients/").status_code == 200
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=cookie).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie  # the old cookie, replayed
    response = client.get("/recipients/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_on_redis_a_request_reads_its_session_without_the_database(settings, client):
    on_cached_db(settings, redis_url())
    client.force_login(UserFactory(role=Role.SUPPORT.value))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert caches["sessions"].get(sessions_key(cookie)) is not None
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/recipients/").status_code == 200
    assert session_queries(queries.captured_queries) == []


def test_with_redis_down_pages_read_sessions_from_the_database_and_warn_once(
    settings, client, caplog
):
    on_cached_db(settings, CLOSED_PORT_URL)
    client.force_login(UserFactory(role=Role.SUPPORT.value))
    with caplog.at_level(logging.WARNING, logger="dashboard.accounts.sessions"):
        for _ in range(3):
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/recipients/").status_code == 200
            assert len(session_queries(queries.captured_queries)) == 1
    warnings = [r for r in caplog.records if r.name == "dashboard.accounts.sessions"]
    assert len(warnings) == 1
    assert "does not answer" in warnings[0].getMessage()
    assert "127.0.0.1:9" not in warnings[0].getMessage()


def test_redis_down_is_left_alone_for_a_while_then_tried_again(monkeypatch):
    cache = sessions.SessionCache(CLOSED_PORT_URL, {})
    cache.set("k", 1)
    outage = cache.outage
    assert outage.down
    first = outage.until
    assert cache.get("k", "miss") == "miss"
    assert outage.until == first  # not tried again inside the window
    monkeypatch.setattr(sessions, "RETRY_SECONDS", 0.0)
    outage.until = 0.0
    assert cache.get("k", "miss") == "miss"
    assert outage.down and outage.until > 0.0  # tried, failed, left alone again


def sessions_key(session_key: str) -> str:
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX

    return KEY_PREFIX + session_key


def test_a_sign_out_while_redis_was_down_is_sent_to_redis_when_it_answers(monkeypatch):
    """The session must not come back from the cache once Redis does."""
    from django.core.cache.backends.redis import RedisCache

    cache = sessions.SessionCache(redis_url(), {})
    cache.set("ended-session", {"user": 1})
    real_delete = RedisCache.delete

    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(RedisCache, "delete", unreachable)
    assert cache.delete("ended-session") is False
    assert cache.outage.down
    monkeypatch.setattr(RedisCache, "delete", real_delete)
    cache.outage.until = 0.0  # the window has passed
    assert cache.get("other") is None  # Redis answers: the failed delete is sent
    assert not cache.outage.down
    assert cache.get("ended-session") is None


def test_no_session_is_kept_in_redis_longer_than_the_cap():
    cache = sessions.SessionCache(redis_url(), {"MAX_TIMEOUT": 300})
    cache.set("capped", 1, timeout=12 * 3600)
    cache.set("forever", 1, timeout=None)
    cache.set("short", 1, timeout=10)
    client = redis.Redis.from_url(redis_url())
    assert 290 <= client.ttl(cache.make_key("capped")) <= 300
    assert 290 <= client.ttl(cache.make_key("forever")) <= 300
    assert client.ttl(cache.make_key("short")) <= 10
    cache.delete_many(["capped", "forever", "short"])
