"""Executing sync jobs: claim items, call the provider, record each outcome at once.

Invariants:
- The database is the truth. An item is claimed (``in_flight``, ``claimed_by``) in the same
  transaction that selects it, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
  executions (on several workers) share a job and no item is claimed twice.
- An item's outcome is committed right after its call; a succeeded item is never sent again.
- A claim older than ``SYNC_CLAIM_TIMEOUT`` belonged to a worker that died: the item goes back
  to pending with ``needs_check``, and a create is only re-sent after the record was looked
  up at the provider and not found.
- Only this module's main thread touches the database; provider calls run in a thread pool.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.expressions import Combinable
from django.utils import timezone
from django.utils.module_loading import import_string

from integrations.clients import Recipient
from integrations.clients.errors import (
    CredentialsMissing,
    Forbidden,
    NotFound,
    ProviderError,
    RateLimited,
    Unauthorized,
)
from integrations.connection import (
    BaseURLRefused,
    connection_client,
)
from integrations.models import (
    FINISHED_STATUSES,
    ItemStatus,
    JobKind,
    JobStatus,
    Operation,
    Outcome,
    SyncItem,
    SyncJob,
)
from integrations.sync.mirror import mirror_mark_gone, mirror_upsert

logger = logging.getLogger(__name__)

# Errors that stop the whole job with one reason instead of failing every item alike.
JOB_STOPPING_ERRORS = (Unauthorized, Forbidden, CredentialsMissing, BaseURLRefused)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# -- outcomes -------------------------------------------------------------------------------
@dataclass
class ItemResult:
    item_id: int
    status: str  # succeeded, failed, released (back to pending)
    outcome: str = ""
    remote_id: str = ""
    http_status: int | None = None
    error_code: str = ""
    error_message: str = ""
    recipient: Recipient | None = None
    gone: bool = False
    stop_error: ProviderError | None = None
    retry_after: float | None = None
    started_at: Any = None


def _describe(error: ProviderError) -> tuple[str, str]:
    code = type(error).__name__
    if error.code not in (None, ""):
        code = f"{code}:{error.code}"
    message = error.message
    field_errors = getattr(error, "field_errors", None)
    if field_errors:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in field_errors.items())
        message = f"{message} ({details})"
    return code[:60], message[:1000]


# -- one item -------------------------------------------------------------------------------
class PushContext:
    """What the worker threads share for one execution of a job."""

    def __init__(self, client: Any, provider: str) -> None:
        self.client = client
        self.provider = provider
        self.stop = threading.Event()
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def slow_down(self, seconds: float) -> None:
        """A 429 slows every call of the job, not just the one that got it."""
        with self._lock:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def wait_turn(self) -> None:
        while True:
            with self._lock:
                remaining = self._pause_until - time.monotonic()
            if remaining <= 0 or self.stop.is_set():
                return
            time.sleep(min(remaining, 0.5))


def _find_remote(ctx: PushContext, item: SyncItem) -> Recipient | None:
    """Look the item's record up at the provider (by remote id, email or external id)."""
    client = ctx.client
    payload = item.payload or {}
    if ctx.provider == "redflag":
        key = item.remote_id or payload.get("email") or item.identifier
        try:
            return client.get_recipient(key)
        except NotFound:
            return None
    if item.remote_id:
        try:
            return client.get_recipient(item.remote_id)
        except NotFound:
            return None
    email = payload.get("email") or (item.identifier if "@" in item.identifier else None)
    external_id = payload.get("externalId") or (None if email else item.identifier)
    return client.find_recipient(email=email, external_id=external_id)


def _call(ctx: PushContext, item: SyncItem) -> ItemResult:
    """Send one item (in a pool thread; no database access here)."""
    started = timezone.now()
    if ctx.stop.is_set():
        return ItemResult(item.pk, "released", started_at=started)
    ctx.wait_turn()
    client = ctx.client
    op = item.operation
    try:
        if op == Operation.CREATE:
            if item.needs_check:
                found = _find_remote(ctx, item)
                if found is not None:
                    return ItemResult(
                        item.pk,
                        "succeeded",
                        Outcome.CREATED,
                        found.remote_id,
                        recipient=found,
                        error_message="Found at the provider after an interrupted attempt.",
                        started_at=started,
                    )
            created = client.create_recipient(item.payload)
            return ItemResult(
                item.pk,
                "succeeded",
                Outcome.CREATED,
                created.remote_id,
                recipient=created,
                started_at=started,
            )
        if op == Operation.UPDATE:
            target = item.remote_id
            if ctx.provider == "snappy" and not target:
                found = _find_remote(ctx, item)
                if found is None:
                    raise NotFound(
                        "The recipient no longer exists at the provider.",
                        provider=ctx.provider,
                        status=404,
                    )
                target = found.remote_id
            updated = client.update_recipient(target or item.identifier, item.payload)
            return ItemResult(
                item.pk,
                "succeeded",
                Outcome.UPDATED,
                updated.remote_id,
                recipient=updated,
                started_at=started,
            )
        if op == Operation.DELETE:
            target = item.remote_id or item.identifier
            try:
                client.delete_recipient(target)
            except NotFound:
                return ItemResult(
                    item.pk,
                    "succeeded",
                    Outcome.DELETED,
                    item.remote_id,
                    http_status=404,
                    error_message="Already gone at the provider.",
                    gone=True,
                    started_at=started,
                )
            return ItemResult(
                item.pk,
                "succeeded",
                Outcome.DELETED,
                item.remote_id,
                gone=True,
                started_at=started,
            )
        return ItemResult(
            item.pk,
            "failed",
            error_code="UnknownOperation",
            error_message=f"Unknown operation {op!r}.",
            started_at=started,
        )
    except JOB_STOPPING_ERRORS as exc:
        ctx.stop.set()
        return ItemResult(
            item.pk, "released", stop_error=exc, http_status=exc.status, started_at=started
        )
    except RateLimited as exc:
        ctx.slow_down(exc.retry_after or 5.0)
        code, message = _describe(exc)
        return ItemResult(
            item.pk,
            "released",
            http_status=429,
            error_code=code,
            error_message=message,
            retry_after=exc.retry_after,
            started_at=started,
        )
    except ProviderError as exc:  # Conflict, Invalid, NotFound, Unavailable…: this item fails
        code, message = _describe(exc)
        return ItemResult(
            item.pk,
            "failed",
            http_status=exc.status,
            error_code=code,
            error_message=message,
            started_at=started,
        )
    except Exception:  # a bug of ours must fail the item, never lose it
        logger.exception("Unexpected error sending item %s of job %s", item.pk, item.job_id)
        return ItemResult(
            item.pk,
            "failed",
            error_code="InternalError",
            error_message="Unexpected error in the sync engine (logged).",
            started_at=started,
        )


# -- recording ------------------------------------------------------------------------------
OUTCOME_COUNTER: dict[str, str] = {
    Outcome.CREATED: "n_created",
    Outcome.UPDATED: "n_updated",
    Outcome.DELETED: "n_deleted",
    Outcome.UNCHANGED: "n_unchanged",
}


def _record(job: SyncJob, result: ItemResult, worker: str, connection: Any) -> None:
    """Commit one item's outcome and the job's counters together."""
    now = timezone.now()
    max_attempts = _setting("SYNC_ITEM_MAX_ATTEMPTS", 8)
    with transaction.atomic():
        mine = SyncItem.objects.filter(
            pk=result.item_id, status=ItemStatus.IN_FLIGHT, claimed_by=worker
        )
        if result.status == "released":
            item = mine.first()
            if item is None:
                return
            if result.stop_error is None and item.attempts >= max_attempts:
                result.status = "failed"
                result.error_message = (
                    f"Gave up after {item.attempts} attempts: {result.error_message}"
                )[:1000]
            else:
                mine.update(
                    status=ItemStatus.PENDING,
                    claimed_by="",
                    claimed_at=None,
                    http_status=result.http_status,
                    error_code=result.error_code,
                    error_message=result.error_message,
                )
                return
        fields = {
            "status": result.status,
            "outcome": result.outcome,
            "http_status": result.http_status,
            "error_code": result.error_code,
            "error_message": result.error_message,
            "started_at": result.started_at,
            "finished_at": now,
            "needs_check": False,
        }
        if result.remote_id:
            fields["remote_id"] = result.remote_id[:100]
        if not mine.update(**fields):
            # The claim was taken over (this worker was thought dead): the other execution
            # records the item; counting it here would count it twice.
            logger.warning("Lost the claim of item %s of job %s", result.item_id, job.pk)
            return
        counters: dict[str, datetime | Combinable] = {"heartbeat_at": now}
        if result.status == ItemStatus.SUCCEEDED:
            counters["n_succeeded"] = F("n_succeeded") + 1
            if result.outcome in OUTCOME_COUNTER:
                name = OUTCOME_COUNTER[result.outcome]
                counters[name] = F(name) + 1
        else:
            counters["n_failed"] = F("n_failed") + 1
        SyncJob.objects.filter(pk=job.pk).update(**counters)
        if connection is not None and result.status == ItemStatus.SUCCEEDED:
            if result.recipient is not None:
                mirror_upsert(connection, [result.recipient])
            elif result.gone and result.remote_id:
                mirror_mark_gone(connection, remote_id=result.remote_id)


# -- claiming -------------------------------------------------------------------------------
def _release_stale_claims(job: SyncJob) -> int:
    """Items claimed by a worker that died go back to pending, to be checked before re-sent."""
    cutoff = timezone.now() - timedelta(seconds=_setting("SYNC_CLAIM_TIMEOUT", 300))
    return SyncItem.objects.filter(
        job=job, status=ItemStatus.IN_FLIGHT, claimed_at__lt=cutoff
    ).update(status=ItemStatus.PENDING, claimed_by="", claimed_at=None, needs_check=True)


def _claim(job: SyncJob, worker: str, size: int) -> list[SyncItem]:
    with transaction.atomic():
        pending = SyncItem.objects.filter(job=job, status=ItemStatus.PENDING).order_by("seq")
        if db_connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        items = list(pending[:size])
        if not items:
            return []
        now = timezone.now()
        SyncItem.objects.filter(pk__in=[i.pk for i in items]).update(
            status=ItemStatus.IN_FLIGHT,
            claimed_by=worker,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    for item in items:
        item.status, item.claimed_by, item.claimed_at = ItemStatus.IN_FLIGHT, worker, now
        item.attempts += 1
    return items


# -- job lifecycle --------------------------------------------------------------------------
def _begin(job_id: int) -> SyncJob | None:
    """Mark the job running, or return None when there is nothing to do."""
    stale = timezone.now() - timedelta(seconds=_setting("SYNC_STALE_AFTER", 120))
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED_STATUSES:
            return None
        if job.pause_requested or job.status == JobStatus.PAUSED:
            return None
        if job.cancel_requested:
            transaction.on_commit(lambda: job_finish_if_done(job_id))
            return None
        joining = job.status == JobStatus.RUNNING and (
            job.heartbeat_at is not None and job.heartbeat_at >= stale
        )
        if not joining:
            # A (re)start: a poison job ends failed instead of looping through re-deliveries.
            if job.deliveries >= _setting("SYNC_MAX_DELIVERIES", 5):
                _fail(
                    job,
                    "too_many_deliveries",
                    f"Stopped after {job.deliveries} interrupted runs; retry the failed items "
                    "when the cause is fixed.",
                )
                return None
            job.deliveries += 1
            # The previous execution (if any) is gone: what it had in flight may or may not
            # have reached the provider, so it is looked up before being sent again.
            job.items.filter(status=ItemStatus.IN_FLIGHT).update(
                status=ItemStatus.PENDING, claimed_by="", claimed_at=None, needs_check=True
            )
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at", "deliveries"])
    return job


def _fail(job: SyncJob, code: str, message: str) -> None:
    """Stop the job with one reason; items not sent are marked as such (in the caller's txn)."""
    job.error_code = code[:40]
    job.error_message = message[:1000]
    job.save(update_fields=["error_code", "error_message"])
    transaction.on_commit(lambda: job_finish_if_done(job.pk, failing=True))


def job_execute(job_id: int, *, worker: str | None = None) -> None:
    """Run a job until its items are done, it is cancelled or paused, or it cannot go on."""
    job = _begin(job_id)
    if job is None:
        return
    if job.kind == JobKind.PULL:
        from integrations.sync.pull import execute_pull

        execute_pull(job)
        return
    _execute_push(job, worker or worker_name())


def _execute_push(job: SyncJob, worker: str) -> None:
    connection = job.connection
    if connection is None:
        with transaction.atomic():
            _fail(job, "connection_deleted", "The connection was deleted; nothing was sent.")
        return
    try:
        client = connection_client(connection, **_setting("SYNC_CLIENT_OPTIONS", {}))
    except ProviderError as exc:
        with transaction.atomic():
            _fail(job, type(exc).__name__, exc.message)
        return
    concurrency = max(1, int(_setting("SYNC_CONCURRENCY", 8)))
    ctx = PushContext(client, connection.provider)
    in_flight: dict[Future[ItemResult], SyncItem] = {}
    stop_error: ProviderError | None = None
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sync") as pool:
            _release_stale_claims(job)
            last_check = 0.0
            while True:
                if time.monotonic() - last_check > 1.0:
                    last_check = time.monotonic()
                    flags = (
                        SyncJob.objects.filter(pk=job.pk)
                        .values("cancel_requested", "pause_requested", "status")
                        .first()
                    )
                    if (
                        flags is None
                        or flags["status"] in FINISHED_STATUSES
                        or flags["cancel_requested"]
                        or flags["pause_requested"]
                    ):
                        ctx.stop.set()
                    SyncJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
                room = concurrency * 2 - len(in_flight)
                if not ctx.stop.is_set() and room > 0:
                    for item in _claim(job, worker, room):
                        in_flight[pool.submit(_call, ctx, item)] = item
                if not in_flight:
                    break
                done, _ = wait(list(in_flight), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.pop(future)
                    result = future.result()
                    if result.stop_error is not None and stop_error is None:
                        stop_error = result.stop_error
                    _record(job, result, worker, connection)
    except SoftTimeLimitExceeded:
        # Out of time for this task: hand back what is not done and continue in a new task.
        ctx.stop.set()
        for future, item in in_flight.items():
            try:
                _record(job, future.result(timeout=60), worker, connection)
            except Exception:
                logger.exception("Item %s of job %s was interrupted", item.pk, job.pk)
        from integrations.tasks import run_sync_job

        run_sync_job.delay(job.pk)
        return
    finally:
        client.close()
    if stop_error is not None:
        code, message = _describe(stop_error)
        reason = {
            "Unauthorized": "The provider refused the credentials",
            "UnknownApiKey": "The provider does not know this key",
            "Forbidden": "The credentials are not allowed to do this",
        }.get(type(stop_error).__name__, "The job could not go on")
        with transaction.atomic():
            job.refresh_from_db()
            _fail(job, code, f"{reason}: {message} Nothing more was sent.")
        return
    job_finish_if_done(job.pk)


def job_finish_if_done(job_id: int, *, failing: bool = False) -> SyncJob | None:
    """Give the job its final status when no item is pending or in flight (idempotent).

    Cancelled, paused and failing jobs mark their pending items as not sent (cancel, fail) or
    leave them (pause). Counts are recomputed from the items, so they always add up.
    """
    finished = None
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED_STATUSES:
            return job
        failing = failing or bool(job.error_code)
        counts = dict(
            job.items.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        pending = counts.get(ItemStatus.PENDING, 0)
        in_flight = counts.get(ItemStatus.IN_FLIGHT, 0)
        if in_flight:
            return job  # another execution is still working; it finishes the job
        if pending and job.pause_requested and not (job.cancel_requested or failing):
            job.status = JobStatus.PAUSED
            job.save(update_fields=["status"])
            return job
        if pending and (job.cancel_requested or failing):
            reason = (
                "Not sent: the job was cancelled."
                if job.cancel_requested and not failing
                else "Not sent: the job stopped. " + job.error_message
            )
            job.items.filter(status=ItemStatus.PENDING).update(
                status=ItemStatus.SKIPPED, error_message=reason[:1000], claimed_by=""
            )
        elif pending:
            return job  # items remain to be claimed by a running execution
        _recount(job)
        if failing:
            job.status = JobStatus.FAILED
        elif job.cancel_requested:
            job.status = JobStatus.CANCELLED
        elif job.n_failed and not job.n_succeeded:
            job.status = JobStatus.FAILED
            job.error_code = job.error_code or "all_failed"
            job.error_message = job.error_message or "Every item failed; see the items below."
        elif job.n_failed or job.n_skipped:
            job.status = JobStatus.PARTIALLY_FAILED
        else:
            job.status = JobStatus.SUCCEEDED
        job.finished_at = timezone.now()
        job.save()
        finished = job
        transaction.on_commit(lambda: _run_finished_hooks(job_id))
    return finished


def _recount(job: SyncJob) -> None:
    agg = job.items.aggregate(
        total=Count("id"),
        succeeded=Count("id", filter=Q(status=ItemStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=ItemStatus.FAILED)),
        skipped=Count("id", filter=Q(status=ItemStatus.SKIPPED)),
        created=Count("id", filter=Q(outcome=Outcome.CREATED)),
        updated=Count("id", filter=Q(outcome=Outcome.UPDATED)),
        deleted=Count("id", filter=Q(outcome=Outcome.DELETED)),
        unchanged=Count("id", filter=Q(outcome=Outcome.UNCHANGED)),
    )
    job.total = agg["total"]
    job.n_succeeded, job.n_failed, job.n_skipped = (
        agg["succeeded"],
        agg["failed"],
        agg["skipped"],
    )
    job.n_created, job.n_updated = agg["created"], agg["updated"]
    job.n_deleted, job.n_unchanged = agg["deleted"], agg["unchanged"]


def _run_finished_hooks(job_id: int) -> None:
    for path in _setting("SYNC_JOB_FINISHED_HOOKS", []):
        try:
            hook: Callable[[int], None] = import_string(path)
            hook(job_id)
        except Exception:
            logger.exception("Job-finished hook %s failed for job %s", path, job_id)


# -- watchdog -------------------------------------------------------------------------------
def jobs_needing_a_worker() -> list[int]:
    """Running jobs whose worker stopped reporting, and queued jobs nobody picked up."""
    now = timezone.now()
    stale = now - timedelta(seconds=_setting("SYNC_STALE_AFTER", 120))
    lost = now - timedelta(seconds=_setting("SYNC_QUEUED_LOST_AFTER", 600))
    return list(
        SyncJob.objects.filter(
            Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=JobStatus.QUEUED, created_at__lt=lost, pause_requested=False)
        ).values_list("pk", flat=True)
    )
