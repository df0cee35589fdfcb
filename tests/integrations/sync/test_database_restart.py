"""PostgreSQL drops every connection (a restart, a failover) while a worker runs a job: the
worker reconnects and the job finishes with every record sent once."""

from __future__ import annotations

import functools
import time

import pytest
from django.db import connection

from integrations.models import JobStatus
from integrations.sync.services import job_create_push
from tests.celery_fixtures import job_finished, wait_until
from tests.helpers.postgres import require_postgresql
from tests.integrations.sync.helpers import redflag_connection, redflag_records
from tests.integrations.sync.test_worker_jobs import (
    WORKER_ENV,
    assert_no_duplicates_and_nothing_lost,
)

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def drop_other_connections() -> int:
    """What a restart does to the worker: every other session of this database is ended."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.timeout(300)
def test_a_job_finishes_after_the_database_drops_the_worker_s_connections(sandbox, worker_starter):
    require_postgresql()
    sandbox.configure(faults={"latency_ms": 30})
    worker = functools.partial(worker_starter, base_env=WORKER_ENV)(concurrency=1)
    records = redflag_records(200)
    job = job_create_push(connection=redflag_connection(sandbox), records=records)

    def some_done() -> bool:
        job.refresh_from_db()
        return job.n_done >= 30

    assert wait_until(some_done, timeout=90, worker=worker), worker.output()[-3000:]
    assert drop_other_connections() >= 1
    time.sleep(0.5)
    assert not job.is_finished
    assert wait_until(job_finished(job), timeout=180, interval=0.5, worker=worker), worker.output()[
        -4000:
    ]
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert_no_duplicates_and_nothing_lost(sandbox, job, records, "redflag")
