"""One beat at a time: a second scheduler stands by, sends nothing, and takes over when the
first stops or its lock lapses. Real schedulers publishing to the real broker (filesystem on
a laptop; Redis, and then the Redis lock, with ``CELERY_BROKER_URL=redis://...``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Queue

from dashboard.celery import app
from dashboard.core.beat import SingleBeatScheduler
from dashboard.core.broker_probe import broker_connection, broker_queue_depth
from dashboard.core.models import SchedulerBeat
from tests.celery_fixtures import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe_queue() -> Iterator[str]:
    """A queue of this test's own, where the probe schedule's tasks are counted."""
    queue = f"beat-test-{uuid.uuid4().hex[:8]}"
    yield queue
    with broker_connection() as conn:
        Queue(queue, channel=conn.default_channel).purge()


def scheduler(tmp_path: Path, name: str, queue: str) -> SingleBeatScheduler:
    """A beat with the project's schedule plus a probe due at every tick."""
    beat = SingleBeatScheduler(app=app, schedule_filename=str(tmp_path / name))
    beat.update_from_dict(
        {"probe": {"task": "core.heartbeat", "schedule": 0.001, "options": {"queue": queue}}}
    )
    return beat


def sent(beat: SingleBeatScheduler) -> int:
    return beat.schedule["probe"].total_run_count


def test_a_second_beat_stands_by_sends_nothing_and_takes_over_when_the_first_stops(
    tmp_path, probe_queue, caplog
):
    first, second = scheduler(tmp_path, "a", probe_queue), scheduler(tmp_path, "b", probe_queue)
    try:
        with caplog.at_level(logging.INFO, logger="dashboard.core.beat"):
            for _ in range(5):
                first.tick()
                second.tick()
        assert first.holding and not second.holding
        assert sent(first) >= 3 and sent(second) == 0
        assert broker_queue_depth(probe_queue) == sent(first)  # each schedule sent once
        standing_by = [r.getMessage() for r in caplog.records if "stands by" in r.getMessage()]
        assert len(standing_by) == 1  # said once, clearly, not at every tick
        assert "holds the beat lock, so this beat" in standing_by[0]
        assert "If this one was started by mistake, stop it." in standing_by[0]
        row = SchedulerBeat.objects.get()
        assert row.holder == first.holder  # the overview's liveness comes from the holder

        first.close()
        for _ in range(3):
            second.tick()
        assert second.holding and sent(second) >= 1
        assert SchedulerBeat.objects.get().holder == second.holder
    finally:
        first.close()
        second.close()


def test_the_lock_of_a_beat_that_stopped_answering_lapses_and_it_stops_sending(
    tmp_path, probe_queue, settings
):
    settings.BEAT_LOCK_TTL = 1
    settings.BEAT_LOCK_REFRESH = 0  # renew at every tick
    first, second = scheduler(tmp_path, "a", probe_queue), scheduler(tmp_path, "b", probe_queue)
    try:
        first.tick()
        assert first.holding
        # The first beat hangs (no tick); the second takes over once the lock lapses.
        assert wait_until(lambda: second.tick() is not None and second.holding, timeout=15)
        before = sent(first)
        first.tick()  # it wakes up: the lock is no longer its own
        assert not first.holding and sent(first) == before
    finally:
        first.close()
        second.close()
