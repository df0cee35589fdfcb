"""A worker's log lines of a whole job: JSON, each naming the job, connection and worker, and
never the connection's secret."""

from __future__ import annotations

import json

import pytest

from integrations.models import JobStatus
from integrations.sync.services import job_create_push
from tests.celery_fixtures import job_finished, wait_until
from tests.integrations.sync.helpers import snappy_connection, snappy_records

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_a_job_s_lines_name_the_job_connection_and_worker_and_never_the_secret(
    sandbox, worker_starter
):
    sandbox.configure(faults={"rate_429": 0.3})  # lines from the client's waits too
    worker = worker_starter(
        env={"LOG_FORMAT": "json", "ALLOW_LOOPBACK_PROVIDER_URLS": "true", "LOG_LEVEL": "INFO"}
    )
    conn = snappy_connection(sandbox)
    secret = sandbox.credentials["snappy"]["api_key"]
    records = snappy_records(sandbox, 20)
    job = job_create_push(connection=conn, records=records)
    assert wait_until(job_finished(job), timeout=120, worker=worker), worker.output()[-3000:]
    assert job.status == JobStatus.SUCCEEDED

    output = worker.output()
    assert secret not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, output[-2000:]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    about_job = [line for line in lines if line.get("job_id") == job.pk]
    messages = " | ".join(line["message"] for line in about_job)
    assert "running" in messages and f"Job {job.pk} succeeded: 20 succeeded" in messages
    for line in about_job:
        assert line["connection_id"] == conn.pk
        assert line["worker"] == worker.hostname.replace("%h", line["worker"].split("@")[1])
    task_lines = [line for line in lines if line.get("task") == "sync.run_job"]
    assert task_lines and all(line.get("task_id") for line in task_lines)
