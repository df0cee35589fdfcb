"""What the overview reads about the background worker: heartbeat, queue depth, jobs waiting."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from kombu import Connection as BrokerConnection
from kombu.exceptions import ChannelError

from dashboard.core.models import WorkerHeartbeat
from integrations.models import JobStatus, SyncJob

logger = logging.getLogger(__name__)

# Workers beat every 30 s (CELERY_BEAT_SCHEDULE): after four missed beats nobody is consuming,
# or the one worker stopped consuming (the Celery-after-Redis-reconnect trouble in DESIGN.md).
HEARTBEAT_STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class WorkerStatus:
    """``queue_depth`` is ``None`` when the broker did not answer."""

    heartbeat: WorkerHeartbeat | None
    live_workers: int
    stale: bool
    queue_depth: int | None
    jobs_queued: int


def broker_connection() -> BrokerConnection:
    """A short-lived connection to the broker, for the health check and the overview."""
    return BrokerConnection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=2,
    )


def broker_queue_depth(queue: str) -> int | None:
    """Messages waiting in ``queue`` at the broker, or ``None`` if it cannot be asked."""
    try:
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            try:
                # kombu's stubs lack the virtual channels' queue_declare, which answers
                # (name, message count, consumer count).
                channel: Any = conn.default_channel
                _, count, _ = channel.queue_declare(queue=queue, passive=True)
            except ChannelError:
                return 0  # Redis drops an empty queue's key: nothing waits
            return int(count)
    except Exception as exc:  # any transport failure: the page shows "unknown"
        logger.warning("Overview: broker queue depth unavailable: %s", type(exc).__name__)
        return None


def worker_status() -> WorkerStatus:
    now = timezone.now()
    heartbeat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    live = WorkerHeartbeat.objects.filter(seen_at__gte=now - HEARTBEAT_STALE_AFTER).count()
    return WorkerStatus(
        heartbeat=heartbeat,
        live_workers=live,
        stale=heartbeat is None or heartbeat.seen_at < now - HEARTBEAT_STALE_AFTER,
        queue_depth=broker_queue_depth(settings.CELERY_TASK_DEFAULT_QUEUE),
        jobs_queued=SyncJob.objects.filter(status=JobStatus.QUEUED).count(),
    )
