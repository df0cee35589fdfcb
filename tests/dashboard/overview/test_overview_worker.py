"""The overview's worker card: the workers that answer Celery's ping, whether the scheduler
runs, what waits at the broker; failed mirror refreshes above. The states with a real worker
are in tests/dashboard/test_worker.py."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from kombu import Queue

from dashboard.core.broker_probe import broker_connection
from dashboard.core.models import SchedulerBeat, WorkerHeartbeat
from dashboard.overview.selectors import scheduler_status
from tests.factories import ConnectionFactory, SyncJobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_worker_answers(settings):
    """Each test asks the workers afresh (the overview caches their answer), briefly."""
    settings.OVERVIEW_PING_TIMEOUT = 0.3
    cache.clear()
    yield
    cache.clear()


def worker_card(client) -> str:
    page = client.get("/").content.decode()
    return page.split('id="worker-heading"', 1)[1].split("</section>", 1)[0]


def test_no_worker_answering_says_syncs_wait(support_client):
    card = worker_card(support_client)
    assert "No worker answered." in card and "Syncs wait in the queue" in card
    # The workers are the problem: the scheduler's state is listed, not raised as a warning.
    assert "The scheduler is not running" not in card
    assert "<dt>Scheduler</dt>\n    <dd>not running: none has run yet</dd>" in card


def test_the_worker_count_is_asked_of_celery_not_read_from_heartbeats(manager_client):
    """A heartbeat row says a worker once took a task, not that one is there now."""
    WorkerHeartbeat.objects.create(hostname="celery@box-1", seen_at=timezone.now())
    card = worker_card(manager_client)
    assert "No worker answered." in card
    assert "1 worker answering" not in card


def test_a_scheduler_is_alive_while_it_renews_its_lock(admin_client):
    assert scheduler_status() == (None, False)
    now = timezone.now()
    beat = SchedulerBeat.objects.create(
        name="beat", holder="h", hostname="box-2", started_at=now, seen_at=now, expires_at=now
    )
    assert scheduler_status() == (beat, True)
    card = worker_card(admin_client)
    assert "<dd>running on <code>box-2</code>, last seen " in card
    SchedulerBeat.objects.update(seen_at=now - timedelta(minutes=5))
    assert scheduler_status()[1] is False


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
    card = worker_card(admin_client)
    assert "unknown: the broker did not answer" in card
    assert "The broker did not answer, so no worker could be asked." in card


def test_queued_sync_jobs_are_counted_with_a_link_for_those_who_see_jobs(admin_client):
    SyncJobFactory(status="queued")
    SyncJobFactory(status="queued")
    SyncJobFactory(status="running")
    card = worker_card(admin_client)
    queued = card.split("Sync jobs queued</dt>", 1)[1].split("</dd>", 1)[0]
    assert queued.strip().startswith("<dd>2 ")
    assert 'href="/jobs/?status=queued"' in queued


def test_a_connection_whose_last_refresh_failed_says_when_and_why(admin_client, support_client):
    failing = ConnectionFactory(name="Acme RedFlag")
    recovered = ConnectionFactory(name="Beta Snappy")
    now = timezone.now()
    SyncJobFactory(
        connection=failing, kind="pull", status="succeeded", created_at=now - timedelta(hours=2)
    )
    job = SyncJobFactory(
        connection=failing,
        kind="pull",
        status="failed",
        created_at=now - timedelta(hours=1),
        finished_at=now - timedelta(hours=1),
        error_message="RedFlag refused the credentials (401).",
    )
    SyncJobFactory(
        connection=recovered, kind="pull", status="failed", created_at=now - timedelta(hours=3)
    )
    SyncJobFactory(
        connection=recovered, kind="pull", status="succeeded", created_at=now - timedelta(hours=1)
    )
    SyncJobFactory(connection=recovered, kind="push", status="failed", created_at=now)

    page = admin_client.get("/").content.decode()

    assert page.count("last refresh failed at") == 1
    notice = page.split("Acme RedFlag: last refresh failed at", 1)[1].split("</p>", 1)[0]
    assert "RedFlag refused the credentials (401)." in notice
    assert f'href="/jobs/{job.pk}/"' in notice
    support = support_client.get("/").content.decode()  # support staff see it, without a link
    assert "Acme RedFlag: last refresh failed at" in support
