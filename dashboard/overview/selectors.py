"""Read what the overview shows about the background: workers, scheduler, queue, refreshes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from dashboard.celery import app
from dashboard.core.beat import LOCK_NAME
from dashboard.core.broker_probe import broker_connection, broker_queue_depth
from dashboard.core.models import SchedulerBeat, WorkerHeartbeat
from integrations.models import Connection, JobKind, JobStatus, SyncJob

logger = logging.getLogger(__name__)

# The heartbeat task is scheduled every 30 s (CELERY_BEAT_SCHEDULE): while the scheduler runs
# and workers answer, four missed beats mean no worker takes work (the Celery-after-Redis-
# reconnect trouble in DESIGN.md).
HEARTBEAT_STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class WorkerStatus:
    """``workers`` (the workers that answered a ping) and ``queue_depth`` are ``None`` when
    the broker did not answer; ``scheduler_alive`` says whether a beat renewed its lock
    lately (``dashboard.core.beat``)."""

    workers: list[str] | None
    heartbeat: WorkerHeartbeat | None
    stale: bool
    scheduler: SchedulerBeat | None
    scheduler_alive: bool
    queue_depth: int | None
    jobs_queued: int

    @property
    def live_workers(self) -> int:
        return len(self.workers or [])


def workers_answering() -> list[str] | None:
    """The workers that answer a ping (Celery's remote control), or ``None`` if the broker
    did not answer.

    Asked of Celery itself, not read from a task one worker happened to take. The ping waits
    ``OVERVIEW_PING_TIMEOUT`` seconds for the replies, so the answer is cached for
    ``OVERVIEW_WORKERS_CACHE_SECONDS``: the overview pays that wait once in a while, not on
    every load.
    """
    cached = cache.get(WORKERS_CACHE_KEY)
    if cached is not None:
        return None if cached == BROKER_DOWN else list(cached)
    try:
        # Our own connection, tried once: Celery's would retry a dead broker for seconds.
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            replies = app.control.ping(timeout=settings.OVERVIEW_PING_TIMEOUT, connection=conn)
    except Exception as exc:  # any transport failure: the page says the broker did not answer
        logger.warning("Overview: workers could not be pinged: %s", type(exc).__name__)
        cache.set(WORKERS_CACHE_KEY, BROKER_DOWN, settings.OVERVIEW_WORKERS_CACHE_SECONDS)
        return None
    workers = sorted(name for reply in replies or [] for name in reply)
    cache.set(WORKERS_CACHE_KEY, workers, settings.OVERVIEW_WORKERS_CACHE_SECONDS)
    return workers


WORKERS_CACHE_KEY = "overview:workers-answering"
BROKER_DOWN = "broker-down"


def scheduler_status() -> tuple[SchedulerBeat | None, bool]:
    """The scheduler last seen holding the beat lock, and whether it is alive.

    Alive: it renewed the lock within two of its lifetimes (``BEAT_LOCK_TTL``), so one late
    renewal does not raise the alarm.
    """
    beat = SchedulerBeat.objects.filter(name=LOCK_NAME).first()
    stale_after = timedelta(seconds=2 * settings.BEAT_LOCK_TTL)
    alive = beat is not None and beat.seen_at >= timezone.now() - stale_after
    return beat, alive


def worker_status() -> WorkerStatus:
    now = timezone.now()
    heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    scheduler, scheduler_alive = scheduler_status()
    return WorkerStatus(
        workers=workers_answering(),
        heartbeat=heartbeat,
        stale=heartbeat is None or heartbeat.seen_at < now - HEARTBEAT_STALE_AFTER,
        scheduler=scheduler,
        scheduler_alive=scheduler_alive,
        queue_depth=broker_queue_depth(settings.CELERY_TASK_DEFAULT_QUEUE),
        jobs_queued=SyncJob.objects.filter(status=JobStatus.QUEUED).count(),
    )


@dataclass(frozen=True)
class FailedRefresh:
    connection: Connection
    job: SyncJob


def connections_failed_refresh(*, connections: list[Connection]) -> list[FailedRefresh]:
    """The connections whose latest mirror refresh (pull job) failed, with that job.

    One query: each connection's latest pull, by the (connection, created_at) index.
    """
    by_pk = {c.pk: c for c in connections}
    if not by_pk:
        return []
    latest = SyncJob.objects.filter(connection=OuterRef("pk"), kind=JobKind.PULL).order_by(
        "-created_at", "-id"
    )
    job_ids = (
        Connection.objects.filter(pk__in=by_pk)
        .annotate(last_pull=Subquery(latest.values("pk")[:1]))
        .values_list("last_pull", flat=True)
    )
    failed = SyncJob.objects.filter(pk__in=job_ids, status=JobStatus.FAILED).order_by(
        "connection_name", "id"
    )
    return [
        FailedRefresh(connection=by_pk[job.connection_id], job=job)
        for job in failed
        if job.connection_id in by_pk
    ]
