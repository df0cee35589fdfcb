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
    assert "Last heartbeat from" in page
