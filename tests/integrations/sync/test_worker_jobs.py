"""Sync jobs in real Celery worker processes: each job kind, a killed worker, two workers."""

from __future__ import annotations

import functools
import json
import signal
import time

import pytest

from integrations.models import ItemStatus, JobStatus, MirroredRecipient, SyncJob
from integrations.sync.services import job_create_pull, job_create_push, job_retry_failed
from integrations.tasks import sync_watchdog
from tests.celery_fixtures import job_finished, wait_until
from tests.integrations.sync.helpers import (
    redflag_connection,
    redflag_records,
    snappy_connection,
    snappy_records,
)

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "SYNC_CLIENT_OPTIONS": json.dumps(
        {"read_timeout": 2.0, "backoff_base": 0.05, "backoff_cap": 0.5, "total_timeout": 30}
    ),
    "SYNC_STALE_AFTER": "3",
    "SYNC_CLAIM_TIMEOUT": "5",
    "SYNC_CONCURRENCY": "4",
    "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
}


@pytest.fixture
def workers(worker_starter):
    return functools.partial(worker_starter, base_env=WORKER_ENV)


def assert_no_duplicates_and_nothing_lost(sandbox, job, records, provider):
    job.refresh_from_db()
    assert job.n_succeeded + job.n_failed + job.n_skipped == job.total == len(records)
    assert not job.items.filter(status__in=[ItemStatus.PENDING, ItemStatus.IN_FLIGHT]).exists()
    creates = sandbox.counters()["creates"][provider]
    duplicates = {
        r["identifier"]: creates[r["identifier"]]
        for r in records
        if creates.get(r["identifier"], 0) > 1
    }
    assert not duplicates


def test_a_push_runs_in_a_real_worker(sandbox, workers):
    worker = workers()
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 30)
    job = job_create_push(connection=conn, records=records)
    assert wait_until(job_finished(job), timeout=90, worker=worker), worker.output()[-3000:]
    assert job.status == JobStatus.SUCCEEDED
    assert_no_duplicates_and_nothing_lost(sandbox, job, records, "snappy")


def test_a_pull_and_a_retry_run_in_a_real_worker(sandbox, workers):
    worker = workers()
    conn = redflag_connection(sandbox)
    pull = job_create_pull(connection=conn)
    assert wait_until(job_finished(pull), timeout=90, worker=worker), worker.output()[-3000:]
    assert pull.status == JobStatus.SUCCEEDED
    assert MirroredRecipient.objects.filter(connection=conn).count() == pull.total > 0

    records = redflag_records(3)
    records[1]["payload"]["title"] = "disabled field"
    push = job_create_push(connection=conn, records=records)
    assert wait_until(job_finished(push), timeout=90, worker=worker)
    assert push.status == JobStatus.PARTIALLY_FAILED
    retry = job_retry_failed(job=push)
    assert wait_until(job_finished(retry), timeout=90, worker=worker)
    assert retry.total == 1 and retry.status == JobStatus.FAILED


@pytest.mark.timeout(600)
def test_a_thousand_record_push_under_ten_percent_faults_loses_and_duplicates_nothing(
    sandbox, workers
):
    sandbox.configure(
        faults={
            "rate_429": 0.1,
            "rate_502": 0.05,
            "rate_503": 0.05,
            "rate_timeout": 0.1,
            "timeout_seconds": 2,
            "rate_drop": 0.1,
            "rate_malformed": 0.1,
        }
    )
    fast = {
        **WORKER_ENV,
        "SYNC_CONCURRENCY": "16",
        "SYNC_CLIENT_OPTIONS": json.dumps(
            {"read_timeout": 1.0, "backoff_base": 0.05, "backoff_cap": 0.5, "total_timeout": 20}
        ),
    }
    worker = workers(concurrency=1, env=fast)
    conn = redflag_connection(sandbox)
    records = redflag_records(1000)
    job = job_create_push(connection=conn, records=records)
    assert wait_until(job_finished(job), timeout=400, interval=1, worker=worker), worker.output()[
        -3000:
    ]
    assert_no_duplicates_and_nothing_lost(sandbox, job, records, "redflag")
    for item in job.items.filter(status=ItemStatus.FAILED):
        assert item.error_message
    assert job.n_succeeded >= 900


@pytest.mark.timeout(300)
def test_a_killed_worker_s_job_completes_after_a_new_worker_starts(sandbox, workers):
    sandbox.configure(faults={"latency_ms": 60})
    first = workers(concurrency=1)
    conn = redflag_connection(sandbox)
    records = redflag_records(240)
    job = job_create_push(connection=conn, records=records)

    def some_done():
        job.refresh_from_db()
        return job.n_done >= 40

    assert wait_until(some_done, timeout=90, worker=first), first.output()[-3000:]
    first.kill(signal.SIGKILL)
    job.refresh_from_db()
    assert not job.is_finished
    time.sleep(4)  # longer than SYNC_STALE_AFTER: the job's heartbeat is now stale

    second = workers(concurrency=1)
    sync_watchdog.delay()
    assert wait_until(job_finished(job), timeout=180, interval=0.5, worker=second), second.output()[
        -3000:
    ]
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.deliveries == 2
    assert_no_duplicates_and_nothing_lost(sandbox, job, records, "redflag")


@pytest.mark.timeout(300)
def test_two_workers_share_one_job_and_no_item_runs_twice(sandbox, workers):
    sandbox.configure(faults={"latency_ms": 20})
    first, _second = workers(concurrency=1), workers(concurrency=1)
    conn = redflag_connection(sandbox)
    records = redflag_records(200)
    job = job_create_push(connection=conn, records=records, workers=2)
    assert wait_until(job_finished(job), timeout=180, worker=first), first.output()[-3000:]
    assert job.status == JobStatus.SUCCEEDED
    assert_no_duplicates_and_nothing_lost(sandbox, job, records, "redflag")
    assert set(job.items.values_list("attempts", flat=True)) == {1}
    processes = {c.rsplit(":", 1)[0] for c in job.items.values_list("claimed_by", flat=True)}
    assert len(processes) == 2, processes
    assert SyncJob.objects.get(pk=job.pk).deliveries == 1
