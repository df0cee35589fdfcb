"""Jobs in the states the history pages show, built with the ORM (the engine never runs)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from integrations.models import ItemStatus, JobStatus, Outcome
from tests.factories import ConnectionFactory, SyncItemFactory, SyncJobFactory


@pytest.fixture
def connection():
    return ConnectionFactory(name="Acme RedFlag")


@pytest.fixture
def running_job(connection, admin_user):
    """A push of 10 records, 4 done (3 succeeded, 1 failed) in the 20 seconds since it began."""
    job = SyncJobFactory(
        connection=connection,
        status=JobStatus.RUNNING,
        started_by=admin_user,
        started_by_name="ada",
        started_at=timezone.now() - dt.timedelta(seconds=20),
        total=10,
        n_succeeded=3,
        n_failed=1,
        n_created=3,
    )
    for seq in range(10):
        if seq < 3:
            SyncItemFactory(
                job=job,
                seq=seq,
                status=ItemStatus.SUCCEEDED,
                outcome=Outcome.CREATED,
                remote_id=f"r-{seq}",
                attempts=1,
                http_status=201,
            )
        elif seq == 3:
            SyncItemFactory(
                job=job,
                seq=seq,
                status=ItemStatus.FAILED,
                attempts=1,
                http_status=422,
                error_code="Invalid:email",
                error_message="The email address is not valid.",
            )
        else:
            SyncItemFactory(job=job, seq=seq)
    return job


@pytest.fixture
def failed_job(connection):
    """A finished push: 2 succeeded, 2 failed, 1 not sent; partially failed."""
    now = timezone.now()
    job = SyncJobFactory(
        connection=connection,
        status=JobStatus.PARTIALLY_FAILED,
        started_at=now - dt.timedelta(minutes=3),
        finished_at=now - dt.timedelta(minutes=1),
        total=5,
        n_succeeded=2,
        n_failed=2,
        n_skipped=1,
        n_created=1,
        n_updated=1,
    )
    SyncItemFactory(job=job, seq=0, status=ItemStatus.SUCCEEDED, outcome=Outcome.CREATED)
    SyncItemFactory(job=job, seq=1, status=ItemStatus.SUCCEEDED, outcome=Outcome.UPDATED)
    SyncItemFactory(
        job=job,
        seq=2,
        status=ItemStatus.FAILED,
        http_status=409,
        attempts=1,
        error_code="Conflict",
        error_message="A recipient with this email already exists.",
    )
    SyncItemFactory(
        job=job,
        seq=3,
        status=ItemStatus.FAILED,
        http_status=503,
        attempts=8,
        error_code="Unavailable",
        error_message="The provider was unavailable (503) 8 times.",
    )
    SyncItemFactory(
        job=job, seq=4, status=ItemStatus.SKIPPED, error_message="Not sent: the job was cancelled."
    )
    return job
