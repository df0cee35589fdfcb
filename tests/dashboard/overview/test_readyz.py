"""Readiness: /readyz/ names the database, the broker, the workers and the scheduler, and says
the truth as each is stopped and started."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from dashboard.core.models import SchedulerBeat
from tests.celery_fixtures import wait_until


@pytest.fixture(autouse=True)
def fresh_ping(settings):
    """Ask the workers on every call: no answer kept from an earlier test or call."""
    settings.OVERVIEW_WORKERS_CACHE_SECONDS = 0
    settings.OVERVIEW_PING_TIMEOUT = 1.0
    cache.clear()


def scheduler_seen(seconds_ago: float) -> None:
    from dashboard.core.beat import LOCK_NAME

    now = timezone.now()
    SchedulerBeat.objects.update_or_create(
        name=LOCK_NAME,
        defaults={
            "holder": "beat-1",
            "hostname": "host",
            "started_at": now - timedelta(hours=1),
            "seen_at": now - timedelta(seconds=seconds_ago),
            "expires_at": now + timedelta(seconds=60),
        },
    )


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz/")
    return response.status_code, response.json()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_readyz_follows_the_worker_and_the_scheduler(client, worker_starter):
    scheduler_seen(5)
    status, body = ready(client)
    assert status == 503 and body["workers"] == "no worker answered"
    assert body["database"] == body["broker"] == body["scheduler"] == "ok"
    assert body["status"] == "failing: workers"

    worker = worker_starter()
    assert wait_until(lambda: ready(client)[0] == 200, timeout=60, interval=1, worker=worker)
    status, body = ready(client)
    assert body["workers"] == "ok" and body["workers_answering"] == 1
    assert body["status"] == "ok"

    scheduler_seen(600)  # the scheduler stopped renewing its lock ten minutes ago
    status, body = ready(client)
    assert status == 503 and body["scheduler"].startswith("last seen 6")
    assert body["status"] == "failing: scheduler"

    worker.stop()
    assert wait_until(
        lambda: ready(client)[1]["workers"] == "no worker answered", timeout=30, interval=1
    )


@pytest.mark.django_db
def test_readyz_says_the_scheduler_was_never_seen(client):
    SchedulerBeat.objects.all().delete()
    status, body = ready(client)
    assert status == 503 and body["scheduler"] == "never seen"


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on port 9
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    scheduler_seen(1)
    status, body = ready(client)
    assert status == 503
    assert body["broker"] == "broker unreachable"
    assert body["workers"] == "unknown: the broker did not answer"
    assert body["database"] == "ok" and body["scheduler"] == "ok"


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_does_not_answer(client, database_down):
    status, body = ready(client)
    assert status == 503
    assert body["database"] == "database unreachable"
    assert body["scheduler"] == "unknown: the database did not answer"
