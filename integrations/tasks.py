"""Celery tasks of the sync engine: thin, take ids, call the engine.

Delivery guarantees come from settings (``task_acks_late``, reject on worker loss) and from
the engine's bookkeeping: executing a job twice is safe, and the watchdog re-queues jobs whose
worker died.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db import connections as db_connections
from django.utils import timezone

from integrations.models import ACTIVE_STATUSES, Connection, JobKind, JobSource, SyncJob

logger = logging.getLogger(__name__)

# A job that lost the database is queued again up to this many times, waiting 2, 4 ... 60 s
# between tries: about an hour for the database to come back.
DATABASE_RETRIES = 70


# DjangoTask (Celery's default task class under Django, named here so the type checker knows
# it) adds ``delay_on_commit``, which the services queue this task with.
@shared_task(
    name="sync.run_job",
    bind=True,
    ignore_result=True,
    acks_late=True,
    base=DjangoTask,
    max_retries=DATABASE_RETRIES,
)
def run_sync_job(self: Task, job_id: int, gone: str | None = None) -> None:
    """Run a job; when the database goes away mid-run, run it again once it answers.

    A restart or failover of PostgreSQL ends every connection: the run stops at its next
    query. Its dead connection is dropped and the task queued again with a growing delay
    (the broker does not need the database), so the job continues without waiting for the
    watchdog: the items it had claimed are released by the next run (they are looked up
    before anything is resent), so none waits for the claim timeout.
    """
    from integrations.sync.engine import job_execute, worker_name

    try:
        job_execute(job_id, gone=gone)
    except (OperationalError, InterfaceError) as exc:
        db_connections.close_all()
        delay = min(2 ** (self.request.retries + 1), 60)
        logger.warning(
            "Job %s lost the database (%s); running it again in %s s",
            job_id,
            type(exc).__name__,
            delay,
        )
        # What this execution had claimed is released by the next one (by name, at once).
        raise self.retry(
            kwargs={"job_id": job_id, "gone": worker_name()}, exc=exc, countdown=delay
        ) from exc


@shared_task(name="sync.watchdog", ignore_result=True)
def sync_watchdog() -> list[int]:
    """Re-queue jobs whose worker stopped reporting (crashed, killed, lost its broker)."""
    from integrations.sync.engine import jobs_needing_a_worker
    from integrations.sync.services import job_slots

    job_ids = jobs_needing_a_worker()
    for job in SyncJob.objects.filter(pk__in=job_ids):
        logger.warning("Job %s has no live worker; queueing it again", job.pk)
        # The first execution takes the job over; the others join it (spread as it was).
        for _ in range(job_slots(items=job.n_pending) if job.kind != JobKind.PULL else 1):
            run_sync_job.delay(job.pk)
    return job_ids


@worker_ready.connect
def recover_jobs_on_worker_start(sender: Any = None, **kwargs: Any) -> None:
    """Run the watchdog when a worker starts, so a dead worker's job needs no scheduler.

    Once now (jobs already stale), and once more just after ``SYNC_STALE_AFTER`` (a job
    whose worker died moments ago still has a fresh heartbeat now). One deferred check, not
    a chain: while the scheduler runs, it keeps watching.
    """
    try:
        sync_watchdog.delay()
        stale_after = int(getattr(settings, "SYNC_STALE_AFTER", 120))
        sync_watchdog.apply_async(countdown=stale_after + 2)
    except Exception:  # a broker hiccup at start must not stop the worker
        logger.exception("Could not queue the start-up watchdog")


@shared_task(name="sync.schedule_pulls", ignore_result=True)
def schedule_pulls() -> int:
    """Start the mirror refreshes that are due, by each connection's interval."""
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
