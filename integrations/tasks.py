"""Celery tasks of the sync engine: thin, take ids, call the engine.

Delivery guarantees come from settings (``task_acks_late``, reject on worker loss) and from
the engine's bookkeeping: executing a job twice is safe, and the watchdog re-queues jobs whose
worker died.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import transaction
from django.utils import timezone

from integrations.models import ACTIVE_STATUSES, JobKind, JobSource, SyncJob

logger = logging.getLogger(__name__)


# DjangoTask (Celery's default task class under Django, named here so the type checker knows
# it) adds ``delay_on_commit``, which the services queue this task with.
@shared_task(name="sync.run_job", ignore_result=True, acks_late=True, base=DjangoTask)
def run_sync_job(job_id: int) -> None:
    from integrations.sync.engine import job_execute

    job_execute(job_id)


@shared_task(name="sync.watchdog", ignore_result=True)
def sync_watchdog() -> list[int]:
    """Re-queue jobs whose worker stopped reporting (crashed, killed, lost its broker)."""
    from integrations.sync.engine import jobs_needing_a_worker

    job_ids = jobs_needing_a_worker()
    for job_id in job_ids:
        logger.warning("Job %s has no live worker; queueing it again", job_id)
        run_sync_job.delay(job_id)
    return job_ids


@shared_task(name="sync.schedule_pulls", ignore_result=True)
def schedule_pulls() -> int:
    """Start the mirror refreshes that are due, by each connection's interval."""
    from dashboard.connections.models import Connection
    from integrations.sync.services import job_create_pull

    started = 0
    now = timezone.now()
    for connection in Connection.objects.filter(
        is_active=True, pull_interval_minutes__isnull=False
    ).exclude(provider="parcelvoy"):
        last = (
            SyncJob.objects.filter(connection=connection, kind=JobKind.PULL)
            .order_by("-created_at")
            .values_list("created_at", "status")
            .first()
        )
        interval = connection.pull_interval_minutes
        assert interval is not None  # the query above skips connections without one
        if last is not None:
            created_at, status = last
            if status in ACTIVE_STATUSES:
                continue
            if (now - created_at).total_seconds() < interval * 60:
                continue
        with transaction.atomic():
            job_create_pull(
                connection=connection,
                source=JobSource.SCHEDULE,
                source_label=f"Every {interval} min",
            )
        started += 1
    return started
