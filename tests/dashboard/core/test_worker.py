"""A real Celery worker process consumes tasks from the configured broker."""

from __future__ import annotations

import socket

import pytest
from django.core.cache import cache

from dashboard.celery import app
from dashboard.core.beat import SingleBeatScheduler
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


def _worker_card(client) -> str:
    cache.clear()  # the overview keeps the workers' answer a few seconds
    page = client.get("/").content.decode()
    return page.split('id="worker-heading"', 1)[1].split("</section>", 1)[0]


def test_the_overview_counts_the_workers_that_answer_and_names_a_stopped_scheduler(
    celery_worker_process, admin_client, tmp_path
):
    """Workers answer Celery's ping; with no scheduler the overview blames the scheduler, not
    the worker; once a beat runs and a worker takes the heartbeat task, all is well."""
    hostname = celery_worker_process.hostname.replace("%h", socket.gethostname())
    assert wait_until(
        lambda: hostname in _worker_card(admin_client), timeout=60, worker=celery_worker_process
    )
    card = _worker_card(admin_client)
    assert f"1 worker answering: <code>{hostname}</code>" in card
    assert "The scheduler is not running: scheduled refreshes and recovery wait." in card
    assert "No worker answered" not in card and "No heartbeat" not in card

    beat = SingleBeatScheduler(app=app, schedule_filename=str(tmp_path / "beat"))
    try:
        beat.tick()  # a real scheduler holding the lock stamps its liveness
        assert beat.holding
        card = _worker_card(admin_client)
        assert "The scheduler is not running" not in card
        assert "No heartbeat yet." in card  # workers answer, but none has taken a task yet

        heartbeat.delay()
        assert wait_until(WorkerHeartbeat.objects.exists, timeout=60, worker=celery_worker_process)
        card = _worker_card(admin_client)
        assert f"Last heartbeat task taken by <code>{hostname}</code>" in card
        assert 'class="notice warn"' not in card
    finally:
        beat.close()


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
