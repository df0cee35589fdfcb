"""Liveness: /healthz/ answers while the process serves requests, whatever else is down."""

import pytest


def test_healthz_answers_ok_without_a_login(client, db):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_stays_ok_when_the_database_and_broker_do_not_answer(
    client, database_down, settings
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    assert client.get("/healthz/").status_code == 200
