from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task (shown on the overview)."""

    hostname = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class SchedulerBeat(models.Model):
    """The scheduler (Celery beat) that holds the one-beat-at-a-time lock, and its liveness.

    ``seen_at`` is refreshed by the beat holding the lock (``dashboard.core.beat``), with
    either lock backend; the overview reads it. Without Redis the row is the lock itself: a
    lease until ``expires_at`` that only ``holder`` may renew.
    """

    name = models.CharField(max_length=50, unique=True)
    holder = models.CharField(max_length=200)
    hostname = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Scheduler {self.name}: {self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
