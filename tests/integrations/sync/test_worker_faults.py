"""Faults a real deployment meets, each in real Celery worker processes (no scheduler).

PostgreSQL and Redis where CI has them, the sandbox over HTTP, and the sandbox's own tally of
creates as the proof of every figure: lost, duplicated, misreported.
"""

from __future__ import annotations

import functools
import json
import signal
import threading
import time

import pytest
from django.db import connection as db_connection
from django.test import Client

from integrations.models import ItemStatus, JobStatus, SyncJob
from integrations.sync.engine import job_execute
from integrations.sync.services import job_create_push
from tests.celery_fixtures import job_finished, wait_until
from tests.factories import UserFactory
from tests.integrations.sync.helpers import (
    redflag_connection,
    redflag_records,
    snappy_connection,
    snappy_records,
)

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "SYNC_CLIENT_OPTIONS": json.dumps(
        {
            "read_timeout": 0.3,
            "backoff_base": 0.02,
            "backoff_cap": 0.2,
            "total_timeout": 10,
            "max_attempts": 5,
        }
    ),
    "SYNC_RETRY_BACKOFF_BASE": "0.05",
    "SYNC_RETRY_BACKOFF_CAP": "1",
    "SYNC_STALE_AFTER": "3",
    "SYNC_CLAIM_TIMEOUT": "5",
    "SYNC_CONCURRENCY": "16",
    "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
}

# 10 % each of 429, 5xx, timeouts, dropped connections and malformed replies.
FAULT_MATRIX = {
    "rate_429": 0.1,
    "rate_500": 0.034,
    "rate_502": 0.033,
    "rate_503": 0.033,
    "rate_timeout": 0.1,
    "timeout_seconds": 0.6,
    "rate_drop": 0.1,
    "rate_malformed": 0.1,
}


@pytest.fixture
def workers(worker_starter):
    return functools.partial(worker_starter, base_env=WORKER_ENV)


def provider_figures(job, records, creates):
    """Lost, duplicated and misreported records, proven by what the sandbox created."""
    items = {item.identifier: item for item in job.items.all()}
    lost = duplicated = misreported = 0
    for record in records:
        identifier = record["identifier"]
        held = creates.get(identifier.lower(), 0)
        item = items.get(identifier)
        if item is None or item.status in (ItemStatus.PENDING, ItemStatus.IN_FLIGHT):
            lost += 1
            continue
        duplicated += held > 1
        if item.status == ItemStatus.SUCCEEDED and not held:
            misreported += 1
        if item.status in (ItemStatus.FAILED, ItemStatus.SKIPPED, ItemStatus.UNKNOWN) and held:
            misreported += 1
    return lost, duplicated, misreported


@pytest.mark.timeout(240)
def test_a_thousand_creates_under_every_fault_lose_duplicate_and_misreport_nothing(
    sandbox, workers, settings
):
    sandbox.configure(faults=FAULT_MATRIX)
    settings.SYNC_SLOTS_PER_JOB = 3
    settings.SYNC_CONCURRENCY = 16
    worker = workers(concurrency=3)
    conn = redflag_connection(sandbox)
    records = redflag_records(1000)
    job = job_create_push(connection=conn, records=records)
    assert wait_until(job_finished(job), timeout=200, interval=0.5, worker=worker), worker.output()[
        -3000:
    ]
    creates = sandbox.counters()["creates"]["redflag"]
    assert provider_figures(job, records, creates) == (0, 0, 0)
    assert job.n_succeeded >= 995, job.items.exclude(status="succeeded").values_list(
        "error_message", flat=True
    )[:5]
    assert job.n_unknown == 0
    assert job.n_succeeded + job.n_failed == job.total == 1000
    # Each kind of fault was met (the sandbox counts the requests it answered with one).
    outcomes = " ".join(sandbox.counters()["requests"])
    for fault in ("429", "500", "timeout", "drop", "malformed"):
        assert fault in outcomes


@pytest.mark.timeout(240)
def test_retry_pressed_by_two_admins_at_once_starts_one_job_and_each_record_exists_once(
    sandbox, workers, admin_user, settings
):
    settings.SYNC_CLIENT_OPTIONS = {"read_timeout": 1, "max_attempts": 1}
    settings.SYNC_RETRY_BACKOFF_BASE = 0.01
    settings.SYNC_RETRY_BACKOFF_CAP = 0.02
    settings.SYNC_ITEM_MAX_ATTEMPTS = 1
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 20)
    for record in records[:10]:  # without an email: only the external id finds them
        del record["payload"]["email"]
        external_id = "ext-" + record["identifier"].split("@")[0]
        record["payload"]["externalId"] = record["identifier"] = external_id
    # The first run: every create refused with a 429, so every record fails, none exists.
    sandbox.configure(faults={"rate_429": 1.0, "retry_after_seconds": 0})
    job = job_create_push(connection=conn, records=records, workers=1)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.n_failed == 20
    sandbox.configure(faults={"rate_429": 0.0, "latency_ms": 30})

    second_admin = UserFactory(username="bea", role="admin")
    clients = [Client(), Client()]
    clients[0].force_login(admin_user)
    clients[1].force_login(second_admin)
    barrier = threading.Barrier(2)
    pages: list[str] = []
    errors: list[BaseException] = []

    def press(client: Client) -> None:
        try:
            barrier.wait()
            response = client.post(f"/jobs/{job.pk}/retry/", follow=True)
            pages.append(response.content.decode())
        except BaseException as exc:  # shown by the assertion below, not lost in the thread
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=press, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    retries = list(SyncJob.objects.filter(retry_of=job))
    assert len(retries) == 1
    retry = retries[0]
    said = [p.split('<ul class="messages"', 1)[-1].split("</ul>")[0] for p in pages]
    assert sum(f"Retrying 20 failed or unsent items of job {job.pk}" in p for p in said) == 1, said
    assert sum(f"Job {retry.pk} (started by " in p for p in said) == 1, said

    worker = workers(concurrency=2)
    assert wait_until(job_finished(retry), timeout=120, worker=worker), worker.output()[-3000:]
    assert retry.status == JobStatus.SUCCEEDED and retry.n_succeeded == 20

    # Pressed again afterwards: nothing is sent twice.
    page = clients[0].post(f"/jobs/{job.pk}/retry/", follow=True).content.decode()
    assert "succeeded in a later retry" in page
    assert SyncJob.objects.filter(retry_of=job).count() == 1
    creates = sandbox.counters()["creates"]["snappy"]
    assert [creates.get(r["identifier"].lower()) for r in records] == [1] * 20

    original = clients[0].get(f"/jobs/{job.pk}/").content.decode()
    assert "20 of the records that did not succeed here succeeded in a retry" in original
    assert f"Succeeded in retry job {retry.pk}" in original


@pytest.mark.timeout(240)
def test_a_killed_worker_s_push_finishes_when_a_new_worker_starts_without_a_scheduler(
    sandbox, workers, settings, admin_client
):
    settings.SYNC_SLOTS_PER_JOB = 1  # one execution: nothing else is left in the queue
    settings.SYNC_STALE_AFTER = 3  # as the workers' (the job page reads it)
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
    time.sleep(4)  # longer than SYNC_STALE_AFTER: nobody reports on the job now
    page = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Waiting for a worker: the worker running this job stopped reporting" in page
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING

    second = workers(concurrency=1)  # no beat, no watchdog call: the worker's start does it
    assert wait_until(job_finished(job), timeout=120, interval=0.5, worker=second), second.output()[
        -3000:
    ]
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.deliveries == 2
    creates = sandbox.counters()["creates"]["redflag"]
    assert provider_figures(job, records, creates) == (0, 0, 0)
    assert "Waiting for a worker" not in admin_client.get(f"/jobs/{job.pk}/").content.decode()


@pytest.mark.timeout(240)
def test_a_push_started_without_a_worker_count_spreads_over_the_slots_by_itself(
    sandbox, workers, settings
):
    """As from the UI or an import: no ``workers`` argument, yet two processes share it."""
    settings.SYNC_SLOTS_PER_JOB = 2
    settings.SYNC_CONCURRENCY = 4
    sandbox.configure(faults={"latency_ms": 30})
    slow = {"SYNC_CONCURRENCY": "4"}  # a few seconds of work: both workers get to it
    first = workers(concurrency=1, env=slow)
    _second = workers(concurrency=1, env=slow)
    conn = redflag_connection(sandbox)
    records = redflag_records(300)
    job = job_create_push(connection=conn, records=records)
    assert wait_until(job_finished(job), timeout=180, worker=first), first.output()[-3000:]
    assert job.status == JobStatus.SUCCEEDED
    processes = {c.rsplit(":", 1)[0] for c in job.items.values_list("claimed_by", flat=True)}
    assert len(processes) == 2, processes
    creates = sandbox.counters()["creates"]["redflag"]
    assert provider_figures(job, records, creates) == (0, 0, 0)
