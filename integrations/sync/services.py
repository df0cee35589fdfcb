"""Creating and steering sync jobs. Execution is in ``engine``; Celery tasks in ``tasks``.

Every function here commits its change and queues the work with ``delay_on_commit``, so a
worker never sees a job id before the job's rows exist.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
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
from integrations.sync.engine import lookup_keys

ITEM_BATCH = 1000


class JobStateError(ValueError):
    """The job is not in a state that allows this; the message is for the user."""


def _user_name(user: Any) -> str:
    return user.get_username() if getattr(user, "is_authenticated", False) else "system"


def _enqueue(job: SyncJob, copies: int = 1) -> None:
    from integrations.tasks import run_sync_job

    for _ in range(copies):
        run_sync_job.delay_on_commit(job.pk)


def job_slots(*, items: int) -> int:
    """How many executions (worker slots) a job of ``items`` items is spread over.

    ``SYNC_SLOTS_PER_JOB`` (what a provider account's rate limit can use), but no more than
    the items keep busy: one execution runs ``SYNC_CONCURRENCY`` calls at a time.
    """
    slots = max(1, int(getattr(settings, "SYNC_SLOTS_PER_JOB", 3)))
    per_slot = max(1, int(getattr(settings, "SYNC_CONCURRENCY", 8)))
    return max(1, min(slots, math.ceil(items / per_slot)))


def _new_job(
    *,
    connection: Any,
    kind: str,
    user: Any,
    source: str,
    source_label: str,
    retry_of: SyncJob | None = None,
    retry_root: SyncJob | None = None,
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
        retry_root=retry_root,
    )


@transaction.atomic
def job_create_push(
    *,
    connection: Any,
    records: Iterable[Mapping[str, Any]],
    user: Any = None,
    source: str = JobSource.PAGE,
    source_label: str = "",
    workers: int | None = None,
) -> SyncJob:
    """Create a push job from records and queue it.

    Each record is ``{"identifier", "operation", "payload", "remote_id"?}``; the payload is
    sent exactly as given (the client refuses it if it carries a disabled field). ``workers``
    queues that many executions, which share the job's items; by default ``job_slots``.
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
    _enqueue(job, copies=max(1, workers) if workers else job_slots(items=total))
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
    """Queue a paused job again; of two resumes at once, the database lets one through."""
    resumed = SyncJob.objects.filter(
        Q(status=JobStatus.PAUSED) | Q(pause_requested=True, status__in=ACTIVE_STATUSES),
        pk=job.pk,
    ).update(
        pause_requested=False,
        status=JobStatus.QUEUED,
        deliveries=0,  # a pause is not an interrupted run
    )
    job = SyncJob.objects.get(pk=job.pk)
    if not resumed:
        if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise JobStateError(
                f"Only a paused job can be resumed. Job {job.pk} is already "
                f"{job.get_status_display().lower()}."
            )
        raise JobStateError("Only a paused job can be resumed.")
    _enqueue(job, copies=job_slots(items=job.n_pending))
    return job


class RetryRunning(JobStateError):
    """A retry of the same job (or of a job of its family) is already queued or running."""

    def __init__(self, running: SyncJob) -> None:
        self.running = running
        who = f" by {running.started_by_name}" if running.started_by_name else ""
        super().__init__(
            f"Job {running.pk} (started{who}) is already retrying these items; wait for it to "
            "finish, then retry what is still failed."
        )


def _family_root(job: SyncJob) -> SyncJob:
    """The first job of ``job``'s family of retries."""
    if job.retry_root_id is not None:
        return SyncJob.objects.get(pk=job.retry_root_id)
    root = job
    while root.kind == JobKind.RETRY and root.retry_of_id is not None:  # retries made before
        root = SyncJob.objects.get(pk=root.retry_of_id)  # the family link was kept
    return root


def _latest_attempts(root: SyncJob, first_items: Iterable[int]) -> dict[int, tuple[str, str]]:
    """The status and operation of the latest attempt at each first item, across retries."""
    latest = (
        SyncItem.objects.filter(retry_of=OuterRef("pk"), job__retry_root=root)
        .order_by("-job_id")
        .values("status")[:1]
    )
    rows = (
        SyncItem.objects.filter(pk__in=list(first_items))
        .annotate(latest=Subquery(latest))
        .values_list("pk", "status", "latest")
    )
    return {pk: (latest or status, status) for pk, status, latest in rows}


RETRYABLE = (ItemStatus.FAILED, ItemStatus.SKIPPED, ItemStatus.UNKNOWN)


@transaction.atomic
def job_retry_failed(*, job: SyncJob, user: Any = None) -> SyncJob:
    """A new job, linked to ``job``, sending again only items whose latest attempt did not
    succeed (across earlier retries of the same first job).

    One retry per family runs at a time, enforced by the database (``one_active_retry``):
    of two admins pressing "Retry failed" at once, one starts the job, the other is told
    which job is already doing it. An item whose outcome is unknown is looked up first;
    one that cannot be looked up is left out (sending it could make a duplicate).
    """
    if not job.is_finished:
        raise JobStateError("Wait for the job to finish before retrying its failed items.")
    if job.connection is None:
        raise JobStateError("The connection of this job was deleted.")
    root = _family_root(job)
    running = (
        SyncJob.objects.filter(retry_root=root, kind=JobKind.RETRY, status__in=ACTIVE_STATUSES)
        .order_by("pk")
        .first()
    )
    if running is not None:
        raise RetryRunning(running)
    # The items of this job, each mapped to the first job's item it stands for, are sent
    # again when their latest attempt (in any retry of the family) did not succeed, except an
    # unknown create with nothing to look it up by: sending it could make a duplicate.
    candidates = list(job.items.filter(status__in=RETRYABLE).order_by("seq"))
    firsts = {item.pk: (item.retry_of_id or item.pk) for item in candidates}
    latest = _latest_attempts(root, set(firsts.values()))
    items, unresolvable, held = [], 0, 0
    for item in candidates:
        status = latest.get(firsts[item.pk], (item.status, ""))[0]
        if status in (ItemStatus.PENDING, ItemStatus.IN_FLIGHT):
            held += 1  # in a retry that started after the check above
            continue
        if status not in RETRYABLE:
            continue
        if (
            status == ItemStatus.UNKNOWN
            and item.operation == Operation.CREATE
            and not lookup_keys(item, provider=job.provider)
        ):
            unresolvable += 1
            continue
        items.append(item)
    if held:
        running = (
            SyncJob.objects.filter(retry_root=root, kind=JobKind.RETRY, status__in=ACTIVE_STATUSES)
            .order_by("pk")
            .first()
        )
        if running is not None:
            raise RetryRunning(running)
    if not items:
        if unresolvable:
            raise JobStateError(
                f"Nothing can be retried safely: {unresolvable} record(s) may exist at the "
                "provider and have no email or external id to look them up by; check them at "
                "the provider."
            )
        raise JobStateError(
            "Nothing to retry: every failed item of this job has succeeded in a later retry."
            if candidates
            else "This job has no failed or unsent items to retry."
        )
    try:
        with transaction.atomic():  # a savepoint: the refusal below leaves the caller usable
            retry = _new_job(
                connection=job.connection,
                kind=JobKind.RETRY,
                user=user,
                source=JobSource.RETRY,
                source_label=f"Retry of job {job.pk}",
                retry_of=job,
                retry_root=root,
            )
    except IntegrityError:
        running = (
            SyncJob.objects.filter(retry_root=root, kind=JobKind.RETRY, status__in=ACTIVE_STATUSES)
            .order_by("pk")
            .first()
        )
        if running is None:
            raise
        raise RetryRunning(running) from None
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
                retry_of_id=firsts[item.pk],
            )
            for seq, item in enumerate(items)
        ],
        batch_size=ITEM_BATCH,
    )
    retry.total = len(items)
    retry.save(update_fields=["total"])
    _enqueue(retry, copies=job_slots(items=len(items)))
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
