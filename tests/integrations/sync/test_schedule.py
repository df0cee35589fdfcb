"""Scheduled mirror refreshes and the watchdog."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from integrations.models import JobKind, JobSource, JobStatus, SyncJob
from integrations.sync.engine import jobs_needing_a_worker
from integrations.tasks import schedule_pulls
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_a_due_connection_gets_one_scheduled_pull():
    due = ConnectionFactory(provider="redflag", pull_interval_minutes=60)
    ConnectionFactory(provider="snappy")  # no schedule
    ConnectionFactory(provider="parcelvoy", pull_interval_minutes=60)  # nothing to pull
    ConnectionFactory(provider="redflag", pull_interval_minutes=60, is_active=False)
    assert schedule_pulls() == 1
    job = SyncJob.objects.get()
    assert job.connection == due and job.kind == JobKind.PULL
    assert job.source == JobSource.SCHEDULE and job.started_by_name == "system"
    assert schedule_pulls() == 0  # the first one is still queued


def test_the_next_pull_waits_for_the_interval():
    conn = ConnectionFactory(provider="redflag", pull_interval_minutes=60)
    schedule_pulls()
    SyncJob.objects.update(status=JobStatus.SUCCEEDED)
    assert schedule_pulls() == 0
    SyncJob.objects.update(created_at=timezone.now() - dt.timedelta(minutes=61))
    assert schedule_pulls() == 1
    assert SyncJob.objects.filter(connection=conn).count() == 2


def test_the_watchdog_finds_silent_running_jobs_and_lost_queued_ones(settings):
    settings.SYNC_STALE_AFTER = 120
    settings.SYNC_QUEUED_LOST_AFTER = 600
    conn = ConnectionFactory()
    now = timezone.now()

    def job(**kw):
        return SyncJob.objects.create(
            connection=conn, connection_name=conn.name, provider="redflag", kind="push", **kw
        )

    silent = job(status=JobStatus.RUNNING, heartbeat_at=now - dt.timedelta(minutes=5))
    job(status=JobStatus.RUNNING, heartbeat_at=now)
    lost = job(status=JobStatus.QUEUED, created_at=now - dt.timedelta(minutes=20))
    job(status=JobStatus.QUEUED, created_at=now)
    job(status=JobStatus.PAUSED, created_at=now - dt.timedelta(minutes=20))
    job(status=JobStatus.SUCCEEDED, heartbeat_at=now - dt.timedelta(minutes=5))
    assert sorted(jobs_needing_a_worker()) == sorted([silent.pk, lost.pk])
