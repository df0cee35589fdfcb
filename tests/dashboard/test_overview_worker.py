"""The overview's worker card: who is taking work, what waits at the broker, and a warning when
the heartbeat goes quiet (DESIGN.md: workers that stop consuming after a Redis reconnect)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Queue

from dashboard.core.models import WorkerHeartbeat
from dashboard.core.selectors import broker_connection
from tests.factories import SyncJobFactory

pytestmark = pytest.mark.django_db


def worker_card(client) -> str:
    page = client.get("/").content.decode()
    return page.split('id="worker-heading"', 1)[1].split("</section>", 1)[0]


def test_no_worker_yet_says_syncs_wait(support_client):
    assert "No worker has reported yet" in worker_card(support_client)


def test_a_recent_heartbeat_names_the_worker(manager_client):
    WorkerHeartbeat.objects.create(hostname="celery@box-1", seen_at=timezone.now())
    card = worker_card(manager_client)
    assert "1 worker taking work" in card and "celery@box-1" in card
    assert "No heartbeat for" not in card


def test_a_quiet_heartbeat_is_a_warning(admin_client):
    WorkerHeartbeat.objects.create(
        hostname="celery@box-1", seen_at=timezone.now() - timedelta(minutes=7)
    )
    card = worker_card(admin_client)
    assert 'class="notice warn"' in card
    assert "No heartbeat for 7\xa0minutes" in card
    assert "syncs wait in the queue" in card


def test_the_tasks_waiting_at_the_broker_are_counted(admin_client, settings):
    """Three messages on an unconsumed queue show as three (the real broker: filesystem on a
    laptop, Redis in CI)."""
    queue = f"overview-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    with broker_connection() as conn:
        producer = conn.Producer()
        for n in range(3):
            producer.publish({"n": n}, routing_key=queue, declare=[Queue(queue)])
        try:
            card = worker_card(admin_client)
        finally:
            Queue(queue, channel=conn.default_channel).purge()
    waiting = card.split("Tasks waiting at the broker</dt>", 1)[1].split("</dd>", 1)[0]
    assert waiting.strip().endswith("3")


def test_an_empty_queue_is_zero_not_unknown(admin_client, settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = f"overview-empty-{uuid.uuid4().hex[:8]}"
    card = worker_card(admin_client)
    waiting = card.split("Tasks waiting at the broker</dt>", 1)[1].split("</dd>", 1)[0]
    assert waiting.strip().endswith("0")


def test_an_unreachable_broker_is_unknown_not_an_error(admin_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = admin_client.get("/")
    assert response.status_code == 200
    assert "unknown: the broker did not answer" in worker_card(admin_client)


def test_queued_sync_jobs_are_counted_with_a_link_for_those_who_see_jobs(admin_client):
    SyncJobFactory(status="queued")
    SyncJobFactory(status="queued")
    SyncJobFactory(status="running")
    card = worker_card(admin_client)
    queued = card.split("Sync jobs queued</dt>", 1)[1].split("</dd>", 1)[0]
    assert queued.strip().startswith("<dd>2 ")
    assert 'href="/jobs/?status=queued"' in queued
