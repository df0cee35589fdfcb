"""A real Celery worker process consumes tasks from the configured broker."""

from __future__ import annotations

import pytest

from dashboard.core.models import WorkerHeartbeat
from dashboard.core.tasks import heartbeat
from tests.celery_fixtures import wait_until

pytestmark = pytest.mark.worker


def test_a_real_worker_runs_the_heartbeat_task(celery_worker_process):
    heartbeat.delay()
    assert wait_until(WorkerHeartbeat.objects.exists, timeout=60, worker=celery_worker_process), (
        celery_worker_process.output()[-4000:]
    )
    beat = WorkerHeartbeat.objects.get()
    assert beat.hostname.startswith("test-")


def test_the_overview_shows_the_last_heartbeat(celery_worker_process, admin_client):
    heartbeat.delay()
    wait_until(WorkerHeartbeat.objects.exists, timeout=60, worker=celery_worker_process)
    page = admin_client.get("/").content.decode()
    beat = WorkerHeartbeat.objects.get()
    assert "1 worker taking work; last heartbeat from" in page
    assert f"<code>{beat.hostname}</code>" in page


def test_each_test_run_has_a_queue_of_its_own(celery_worker_process):
    """Tasks go to this run's queue and the worker listens there, so a second run on the same
    broker (or a demo worker) never takes them."""
    import os

    from django.conf import settings

    from dashboard.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    assert queue.endswith(f"-{os.getpid()}")
    assert app.conf.task_default_queue == queue
    heartbeat.delay()
    assert wait_until(WorkerHeartbeat.objects.exists, timeout=60, worker=celery_worker_process)
    assert queue in celery_worker_process.output()  # the banner lists the queues it consumes
