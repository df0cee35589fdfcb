"""Each kind of work has its own queue, and a worker started plainly consumes them all."""

from __future__ import annotations

from django.conf import settings

from dashboard.celery import app


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_syncs_previews_and_housekeeping_go_to_their_own_queues():
    base = settings.CELERY_TASK_DEFAULT_QUEUE
    assert _queue_of("sync.run_job") == f"{base}.syncs"
    assert _queue_of("imports.build_preview") == f"{base}.previews"
    for housekeeping in (
        "sync.watchdog",
        "sync.schedule_pulls",
        "core.heartbeat",
        "housekeeping.prune",
        "imports.watchdog",
    ):
        assert _queue_of(housekeeping) == f"{base}.housekeeping"


def test_a_worker_without_a_queue_option_consumes_every_kind_of_work():
    consumed = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= consumed and settings.CELERY_TASK_DEFAULT_QUEUE in consumed
