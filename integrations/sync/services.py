"""Creating and steering sync jobs. Execution is in ``engine``; Celery tasks in ``tasks``.

Every function here commits its change and queues the work with ``delay_on_commit``, so a
worker never sees a job id before the job's rows exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.models import (
    ACTIVE_STATUSES,
    ItemStatus,
    JobKind,
    JobSource,
    JobStatus,
    Operation,
    SyncItem,
    SyncJob,
)

ITEM_BATCH = 1000


class JobStateError(ValueError):
    """The job is not in a state that allows this; the message is for the user."""


def _user_name(user: Any) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else "system"


def _enqueue(job: SyncJob, copies: int = 1) -> None:
    from integrations.tasks import run_sync_job

    for _ in range(copies):
        run_sync_job.delay_on_commit(job.pk)


def _new_job(
    *,
    connection: Any,
    kind: str,
    user: Any,
    source: str,
    source_label: str,
    retry_of: SyncJob | None = None,
) -> SyncJob:
    return SyncJob.objects.create(
        connection=connection,
        connection_name=connection.name,
        provider=connection.provider,
        kind=kind,
        source=source,
        source_label=source_label,
        started_by=user if getattr(user, "is_authenticated", False) else None,
        started_by_name=_user_name(user),
        retry_of=retry_of,
    )


@transaction.atomic
def job_create_push(
    *,
    connection: Any,
    records: Iterable[Mapping[str, Any]],
    user: Any = None,
    source: str = JobSource.PAGE,
    source_label: str = "",
    workers: int = 1,
) -> SyncJob:
    """Create a push job from records and queue it.

    Each record is ``{"identifier", "operation", "payload", "remote_id"?}``; the payload is
    sent exactly as given (the client refuses it if it carries a disabled field). ``workers``
    queues that many executions, which share the job's items.
    """
    job = _new_job(
        connection=connection,
        kind=JobKind.PUSH,
        user=user,
        source=source,
        source_label=source_label,
    )
    total = 0
    batch: list[SyncItem] = []
    for record in records:
        operation = record.get("operation", Operation.CREATE)
        if operation not in Operation.values:
            raise ValueError(f"Unknown operation {operation!r} in record {total + 1}.")
        batch.append(
            SyncItem(
                job=job,
                seq=total,
                identifier=str(record.get("identifier") or "")[:320],
                operation=operation,
                payload=dict(record.get("payload") or {}),
                remote_id=str(record.get("remote_id") or "")[:100],
            )
        )
        total += 1
        if len(batch) >= ITEM_BATCH:
            SyncItem.objects.bulk_create(batch)
            batch = []
    if batch:
        SyncItem.objects.bulk_create(batch)
    job.total = total
    job.save(update_fields=["total"])
    _enqueue(job, copies=max(1, workers))
    return job


@transaction.atomic
def job_create_pull(
    *, connection: Any, user: Any = None, source: str = JobSource.PAGE, source_label: str = ""
) -> SyncJob:
    """Queue a refresh of the connection's mirror, unless one is already queued or running."""
    running = SyncJob.objects.filter(
        connection=connection, kind=JobKind.PULL, status__in=ACTIVE_STATUSES
    ).first()
    if running is not None:
        return running
    job = _new_job(
        connection=connection,
        kind=JobKind.PULL,
        user=user,
        source=source,
        source_label=source_label,
    )
    _enqueue(job)
    return job


@transaction.atomic
def job_cancel(*, job: SyncJob, user: Any = None) -> SyncJob:
    """Stop claiming items; calls in flight finish and are recorded; the rest is not sent."""
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise JobStateError("This job has already finished.")
    job.cancel_requested = True
    job.save(update_fields=["cancel_requested"])
    if job.status in (JobStatus.QUEUED, JobStatus.PAUSED) or not _has_in_flight(job):
        from integrations.sync.engine import job_finish_if_done

        transaction.on_commit(lambda: job_finish_if_done(job.pk))
    return job


def _has_in_flight(job: SyncJob) -> bool:
    return job.items.filter(status=ItemStatus.IN_FLIGHT).exists()


@transaction.atomic
def job_pause(*, job: SyncJob, user: Any = None) -> SyncJob:
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished or job.kind == JobKind.PULL:
        raise JobStateError("Only a queued or running push can be paused.")
    job.pause_requested = True
    if job.status == JobStatus.QUEUED or not _has_in_flight(job):
        job.status = JobStatus.PAUSED
    job.save(update_fields=["pause_requested", "status"])
    return job


@transaction.atomic
def job_resume(*, job: SyncJob, user: Any = None) -> SyncJob:
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.PAUSED and not job.pause_requested:
        raise JobStateError("Only a paused job can be resumed.")
    job.pause_requested = False
    job.status = JobStatus.QUEUED
    job.deliveries = 0  # a pause is not an interrupted run
    job.save(update_fields=["pause_requested", "status", "deliveries"])
    _enqueue(job)
    return job


@transaction.atomic
def job_retry_failed(*, job: SyncJob, user: Any = None) -> SyncJob:
    """A new job, linked to ``job``, re-sending only its failed and unsent items."""
    if not job.is_finished:
        raise JobStateError("Wait for the job to finish before retrying its failed items.")
    if job.connection is None:
        raise JobStateError("The connection of this job was deleted.")
    items = list(
        job.items.filter(status__in=[ItemStatus.FAILED, ItemStatus.SKIPPED]).order_by("seq")
    )
    if not items:
        raise JobStateError("This job has no failed or unsent items to retry.")
    retry = _new_job(
        connection=job.connection,
        kind=JobKind.RETRY,
        user=user,
        source=JobSource.RETRY,
        source_label=f"Retry of job {job.pk}",
        retry_of=job,
    )
    SyncItem.objects.bulk_create(
        [
            SyncItem(
                job=retry,
                seq=seq,
                identifier=item.identifier,
                operation=item.operation,
                payload=item.payload,
                remote_id=item.remote_id,
                # The earlier attempt may have reached the provider: look before creating.
                needs_check=item.operation == Operation.CREATE,
                retry_of=item,
            )
            for seq, item in enumerate(items)
        ],
        batch_size=ITEM_BATCH,
    )
    retry.total = len(items)
    retry.save(update_fields=["total"])
    _enqueue(retry)
    return retry


@transaction.atomic
def job_acknowledge(*, job: SyncJob, user: Any, comment: str) -> SyncJob:
    job = SyncJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (JobStatus.FAILED, JobStatus.PARTIALLY_FAILED):
        raise JobStateError("Only failed or partially failed jobs can be acknowledged.")
    job.acknowledged_at = timezone.now()
    job.acknowledged_by = user
    job.acknowledgement = comment.strip()[:1000]
    job.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement"])
    return job
