from celery import shared_task
from django.utils import timezone

from dashboard.core.models import WorkerHeartbeat


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is consuming: the overview and ``make demo`` read it."""
    hostname = heartbeat.request.hostname or "unknown"
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"seen_at": timezone.now()}
    )
