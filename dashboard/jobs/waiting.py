"""What a job page says when a job waits for something, and which items a retry resolved.

Kept apart from ``selectors`` (the item table's reads) because both answers come from the
sync engine's recovery rules: a job whose heartbeat is older than ``SYNC_STALE_AFTER`` has no
live worker, and is taken over when a worker starts (its start-up watchdog) or when the
scheduler's watchdog runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format

from integrations.models import ItemStatus, JobKind, JobStatus, SyncItem, SyncJob

# A queued job nobody picked up for this long is said to wait for a worker.
QUEUED_WAIT_HINT_AFTER = timedelta(seconds=30)


def _clock(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "H:i:s")


def job_waiting_hint(*, job: SyncJob, now: datetime | None = None) -> str:
    """Say plainly what an unfinished job waits for, or "" when it is moving."""
    if job.is_finished or job.pause_requested or job.status == JobStatus.PAUSED:
        return ""
    now = now or timezone.now()
    stale_after = timedelta(seconds=int(getattr(settings, "SYNC_STALE_AFTER", 120)))
    if job.status == JobStatus.RUNNING:
        last = job.heartbeat_at or job.started_at
        if last is not None and last < now - stale_after:
            return (
                f"Waiting for a worker: the worker running this job stopped reporting at "
                f"{_clock(last)}. The job goes on by itself as soon as a worker starts, or when "
                "the scheduler's watchdog next runs (every minute). If neither the scheduler "
                "nor any worker is running, start a worker."
            )
        return ""
    if job.status == JobStatus.QUEUED and job.created_at < now - QUEUED_WAIT_HINT_AFTER:
        return (
            f"Waiting for a worker: no worker has picked this job up since it was queued at "
            f"{_clock(job.created_at)}. It starts as soon as a worker is free; if none is "
            "running, start one."
        )
    return ""


def job_items_waiting(*, job: SyncJob) -> int:
    """Items of a running push waiting for their next attempt after a passing failure."""
    if job.is_finished or job.kind == JobKind.PULL:
        return 0
    return job.items.filter(status=ItemStatus.PENDING, next_attempt_at__gt=timezone.now()).count()


def items_resolved_by_retry(*, items: Iterable[SyncItem]) -> dict[int, int]:
    """Map each failed, unsent or unknown item to the later retry job in which it succeeded.

    A retry's items point at the first job's item they stand for (``retry_of``), so one query
    answers for a page of items, whichever job of the family it shows.
    """
    unresolved = [
        item
        for item in items
        if item.status in (ItemStatus.FAILED, ItemStatus.SKIPPED, ItemStatus.UNKNOWN)
    ]
    if not unresolved:
        return {}
    first_of = {item.pk: item.retry_of_id or item.pk for item in unresolved}
    rows = (
        SyncItem.objects.filter(retry_of__in=set(first_of.values()), status=ItemStatus.SUCCEEDED)
        .order_by("job_id")
        .values_list("retry_of_id", "job_id")
    )
    succeeded: dict[int, list[int]] = {}
    for first, job_id in rows:
        succeeded.setdefault(first, []).append(job_id)
    resolved = {}
    for item in unresolved:
        later = [j for j in succeeded.get(first_of[item.pk], []) if j > item.job_id]
        if later:
            resolved[item.pk] = later[0]
    return resolved


def job_resolved_by_retries(*, job: SyncJob) -> int:
    """How many of this job's records that did not succeed succeeded in a later retry.

    From the retries' counters, not by counting items: a retry sends only records whose
    latest attempt did not succeed, so each record succeeds in at most one retry of a family.
    """
    if job.kind == JobKind.PULL or not (job.n_failed or job.n_skipped or job.n_unknown):
        return 0
    root_id = job.retry_root_id or job.pk
    later = SyncJob.objects.filter(retry_root_id=root_id, kind=JobKind.RETRY, pk__gt=job.pk)
    total = later.aggregate(n=Sum("n_succeeded"))["n"] or 0
    return min(total, job.n_failed + job.n_skipped + job.n_unknown)
