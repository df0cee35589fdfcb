"""One scheduler (Celery beat) at a time, and its liveness for the overview.

A second beat started by mistake (two ``celery beat``, or ``worker --beat`` on two hosts)
would send every scheduled task twice. ``SingleBeatScheduler`` (``CELERY_BEAT_SCHEDULER``)
sends nothing until it holds the beat lock: in Redis when the broker is Redis (a key with a
time to live, redis-py's ``Lock``), else in the database (the ``SchedulerBeat`` row as a
lease). The holder renews it at least every ``BEAT_LOCK_REFRESH`` seconds; a beat that stops
lets it lapse after ``BEAT_LOCK_TTL`` seconds and one standing by takes over. Each renewal
also stamps ``SchedulerBeat.seen_at``, which the overview reads to tell whether a scheduler
is running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any, Protocol

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

LOCK_NAME = "beat"


class BeatLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock, or renew it if held; False when another beat holds it."""

    def release(self) -> None:
        """Let the lock go (only if held)."""


def _beat_row_stamp(*, holder: str, ttl: int) -> None:
    """Record the holder and when it was last seen (the overview reads ``seen_at``)."""
    from dashboard.core.models import SchedulerBeat

    now = timezone.now()
    updated = SchedulerBeat.objects.filter(name=LOCK_NAME, holder=holder).update(
        seen_at=now, expires_at=now + timedelta(seconds=ttl)
    )
    if not updated:
        SchedulerBeat.objects.update_or_create(
            name=LOCK_NAME,
            defaults={
                "holder": holder,
                "hostname": socket.gethostname(),
                "started_at": now,
                "seen_at": now,
                "expires_at": now + timedelta(seconds=ttl),
            },
        )


class DatabaseBeatLock:
    """The ``SchedulerBeat`` row as a lease: taken when free or lapsed, renewed by its holder."""

    def __init__(self, holder: str, ttl: int) -> None:
        self.holder, self.ttl = holder, ttl

    def acquire(self) -> bool:
        from dashboard.core.models import SchedulerBeat

        now = timezone.now()
        until = now + timedelta(seconds=self.ttl)
        if SchedulerBeat.objects.filter(name=LOCK_NAME, holder=self.holder).update(
            seen_at=now, expires_at=until
        ):
            return True
        if SchedulerBeat.objects.filter(name=LOCK_NAME, expires_at__lt=now).update(
            holder=self.holder,
            hostname=socket.gethostname(),
            started_at=now,
            seen_at=now,
            expires_at=until,
        ):
            return True
        try:
            with transaction.atomic():
                SchedulerBeat.objects.create(
                    name=LOCK_NAME,
                    holder=self.holder,
                    hostname=socket.gethostname(),
                    started_at=now,
                    seen_at=now,
                    expires_at=until,
                )
        except IntegrityError:
            return False  # another beat holds it
        return True

    def release(self) -> None:
        from dashboard.core.models import SchedulerBeat

        # Lapsed at once, so a beat standing by takes over at its next try; seen_at stays.
        SchedulerBeat.objects.filter(name=LOCK_NAME, holder=self.holder).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )


class RedisBeatLock:
    """A Redis key with a time to live (redis-py's ``Lock``); liveness still in the database."""

    def __init__(self, holder: str, ttl: int, url: str) -> None:
        import redis

        self.holder, self.ttl = holder, ttl
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        key = f"dashboard:beat-lock:{settings.CELERY_TASK_DEFAULT_QUEUE}"
        self.lock = self.client.lock(key, timeout=ttl, thread_local=False)

    def acquire(self) -> bool:
        from redis.exceptions import LockError

        try:
            if self.lock.owned():
                self.lock.reacquire()
            elif not self.lock.acquire(blocking=False):
                return False
        except LockError:
            return False  # lapsed and taken by another beat meanwhile
        _beat_row_stamp(holder=self.holder, ttl=self.ttl)
        return True

    def release(self) -> None:
        from redis.exceptions import LockError

        with contextlib.suppress(LockError):  # not ours any more
            self.lock.release()
        from dashboard.core.models import SchedulerBeat

        SchedulerBeat.objects.filter(name=LOCK_NAME, holder=self.holder).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )


def beat_lock(holder: str) -> BeatLock:
    """The lock for this deployment: Redis when the broker is Redis, else the database."""
    ttl = settings.BEAT_LOCK_TTL
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith(("redis://", "rediss://")):
        return RedisBeatLock(holder, ttl, url)
    return DatabaseBeatLock(holder, ttl)


class SingleBeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler that sends nothing unless it holds the beat lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.beat_lock = beat_lock(self.holder)
        self.holding = False
        self.renewed_at = 0.0
        self.standing_by = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        refresh = float(settings.BEAT_LOCK_REFRESH)
        if not self.holding or time.monotonic() - self.renewed_at >= refresh:
            self._hold()
        if not self.holding:
            return min(refresh, 5.0)
        # Never sleep past the next renewal, or the lock would lapse while this beat lives.
        return min(super().tick(*args, **kwargs), refresh)

    def _hold(self) -> None:
        try:
            held = self.beat_lock.acquire()
        except Exception as exc:  # the lock's store did not answer: send nothing meanwhile
            logger.error(
                "Scheduler: the beat lock could not be checked (%s); sending nothing until it can.",
                type(exc).__name__,
            )
            held = False
        if held:
            self.renewed_at = time.monotonic()
            if not self.holding:
                logger.info(
                    "Scheduler: this beat (%s) holds the beat lock; schedules are sent from here.",
                    self.holder,
                )
            self.standing_by = False
        elif self.holding:
            logger.error(
                "Scheduler: this beat (%s) lost the beat lock; another beat sends the "
                "schedules now. This one stands by.",
                self.holder,
            )
        elif not self.standing_by:
            logger.warning(
                "Scheduler: %s holds the beat lock, so this beat (%s) sends nothing and "
                "stands by: it takes over if that one stops. If this one was started by "
                "mistake, stop it.",
                _describe_holder(),
                self.holder,
            )
            self.standing_by = True
        self.holding = held

    def close(self) -> None:
        if self.holding:
            try:
                self.beat_lock.release()
            except Exception as exc:  # it lapses by itself
                logger.warning(
                    "Scheduler: the beat lock was not released (%s); it lapses by itself.",
                    type(exc).__name__,
                )
            self.holding = False
        super().close()


def _describe_holder() -> str:
    """Who holds the beat lock, for the log of a beat standing by."""
    from dashboard.core.models import SchedulerBeat

    try:
        row = SchedulerBeat.objects.filter(name=LOCK_NAME).first()
    except Exception:  # the log line must not stop the beat
        row = None
    if row is None:
        return "another beat"
    return f"the beat on {row.hostname} (last seen {row.seen_at:%Y-%m-%d %H:%M:%S %Z})"
