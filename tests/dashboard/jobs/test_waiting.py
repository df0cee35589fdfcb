"""What a job page says while the job waits: for a worker, for a next attempt, for a check."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from integrations.models import ItemStatus, JobStatus, SyncJob
from tests.factories import SyncItemFactory, SyncJobFactory

pytestmark = pytest.mark.django_db


def test_a_running_job_whose_worker_stopped_reporting_says_it_waits_for_one(
    admin_client, running_job, settings
):
    settings.SYNC_STALE_AFTER = 120
    SyncJob.objects.filter(pk=running_job.pk).update(heartbeat_at=timezone.now())
    moving = admin_client.get(f"/jobs/{running_job.pk}/").content.decode()
    assert "Waiting for a worker" not in moving

    SyncJob.objects.filter(pk=running_job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=5)
    )
    page = admin_client.get(
        f"/jobs/{running_job.pk}/", headers={"HX-Request": "true", "HX-Target": "progress"}
    ).content.decode()
    assert "Waiting for a worker: the worker running this job stopped reporting at" in page
    assert "as soon as a worker starts, or when the scheduler" in page


def test_a_queued_job_nobody_picked_up_says_it_waits_for_a_worker(admin_client, connection):
    job = SyncJobFactory(
        connection=connection,
        status=JobStatus.QUEUED,
        created_at=timezone.now() - dt.timedelta(minutes=2),
        total=3,
    )
    page = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Waiting for a worker: no worker has picked this job up since it was queued" in page


def test_unknown_outcomes_are_counted_apart_from_failed_ones(admin_client, connection):
    job = SyncJobFactory(
        connection=connection, status=JobStatus.RUNNING, heartbeat_at=timezone.now(), total=3
    )
    SyncItemFactory(job=job, seq=0, status=ItemStatus.UNKNOWN, identifier="maybe@example.com")
    SyncItemFactory(
        job=job,
        seq=1,
        status=ItemStatus.PENDING,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=30),
    )
    SyncJob.objects.filter(pk=job.pk).update(n_unknown=1)
    page = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Unknown, being checked <strong>1</strong>" in page
    assert "Failed <strong>0</strong>" in page
    assert "1 record waits for another attempt" in page
    unknown_tab = admin_client.get(f"/jobs/{job.pk}/", {"items": "unknown"}).content.decode()
    assert "maybe@example.com" in unknown_tab
