import pytest


def test_healthz_is_ok_when_database_and_broker_answer(client, db):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "status": "ok"}


def test_healthz_needs_no_login(client, db):
    assert client.get("/healthz/").status_code in {200, 503}


def test_healthz_is_503_naming_the_broker_when_it_does_not_answer(client, db, settings):
    # Nothing listens on port 9 (discard) on loopback: the broker connection is refused.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz/")
    assert response.status_code == 503
    body = response.json()
    assert body["broker"] == "broker unreachable"
    assert body["database"] == "ok"
    assert "broker" in body["status"]


@pytest.mark.django_db
def test_healthz_is_503_naming_the_database_when_it_does_not_answer(client, monkeypatch):
    from django.db import OperationalError, connection

    def broken_cursor(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["database"] == "database unreachable"
