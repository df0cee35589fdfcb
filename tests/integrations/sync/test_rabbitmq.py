"""Sync jobs on RabbitMQ: a job runs there, and a job longer than a task may hold a message
continues as a chain of tasks instead of being cut off by the consumer timeout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from kombu import Producer

from dashboard.celery import app
from integrations.models import ItemStatus, JobStatus
from integrations.sync.services import job_create_push
from integrations.tasks import run_sync_job
from tests.celery_fixtures import job_finished, wait_until
from tests.helpers.environment import skip_or_fail
from tests.integrations.sync.helpers import redflag_connection, redflag_records

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
ROOT = Path(__file__).resolve().parents[3]


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def rabbitmq(monkeypatch):
    """Queue this test's jobs on RabbitMQ (the suite's own broker stays as it is)."""
    if not _reachable(RABBITMQ_URL):
        skip_or_fail(
            f"RabbitMQ is not reachable at {RABBITMQ_URL}: start it (apt install "
            "rabbitmq-server) or set TEST_RABBITMQ_URL to run the RabbitMQ tests"
        )
    connection = app.connection_for_write(RABBITMQ_URL)
    producer = Producer(connection)

    def queue_on_rabbitmq(*args: Any, **kwargs: Any) -> None:
        transaction.on_commit(lambda: run_sync_job.apply_async(args, kwargs, producer=producer))

    monkeypatch.setattr(run_sync_job, "delay_on_commit", queue_on_rabbitmq)
    yield RABBITMQ_URL
    connection.release()


def _worker_env(sandbox_env: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "CELERY_BROKER_URL": RABBITMQ_URL,
        "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
        "SYNC_STALE_AFTER": "30",
        "SYNC_CONCURRENCY": "1",
        "SYNC_CLIENT_OPTIONS": json.dumps({"read_timeout": 2.0, "total_timeout": 30}),
        **(sandbox_env or {}),
    }


def _assert_each_record_once(sandbox, job, records) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.status, job.error_message)
    assert job.n_succeeded == job.total == len(records)
    assert not job.items.exclude(status=ItemStatus.SUCCEEDED).exists()
    creates = sandbox.counters()["creates"]["redflag"]
    assert {r["identifier"]: creates.get(r["identifier"]) for r in records} == {
        r["identifier"]: 1 for r in records
    }


def test_a_push_runs_on_rabbitmq(sandbox, rabbitmq, worker_starter):
    worker = worker_starter(env=_worker_env())
    records = redflag_records(20)
    job = job_create_push(connection=redflag_connection(sandbox), records=records)
    assert wait_until(job_finished(job), timeout=90, worker=worker), worker.output()[-3000:]
    _assert_each_record_once(sandbox, job, records)


@pytest.mark.timeout(240)
def test_a_job_longer_than_a_task_may_run_continues_in_new_tasks(sandbox, rabbitmq, worker_starter):
    """Each task ends at its soft limit (set under the consumer timeout on RabbitMQ) and hands
    the rest of the job to a new task: every record is sent once and the job succeeds."""
    sandbox.configure(faults={"latency_ms": 100})
    worker = worker_starter(
        pool="prefork",  # time limits need the prefork pool
        concurrency=1,
        env=_worker_env({"CELERY_TASK_SOFT_TIME_LIMIT": "3", "CELERY_TASK_TIME_LIMIT": "60"}),
    )
    records = redflag_records(60)  # ~6 s of calls at 100 ms each, one at a time
    job = job_create_push(connection=redflag_connection(sandbox), records=records)
    assert wait_until(job_finished(job), timeout=180, worker=worker), worker.output()[-3000:]
    _assert_each_record_once(sandbox, job, records)
    assert worker.output().count("Task sync.run_job[") >= 2 * 2  # received + done, twice


@pytest.mark.parametrize(
    ("env", "soft", "hard"),
    [
        ({}, 1450, 1740),
        ({"RABBITMQ_CONSUMER_TIMEOUT": "7200"}, 5950, 7140),
        ({"CELERY_TASK_SOFT_TIME_LIMIT": "600", "CELERY_TASK_TIME_LIMIT": "900"}, 600, 900),
    ],
)
def test_on_rabbitmq_every_task_ends_before_the_consumer_timeout(tmp_path, env, soft, hard):
    code = (
        "from django.conf import settings as s;"
        "print(s.CELERY_TASK_SOFT_TIME_LIMIT, s.CELERY_TASK_TIME_LIMIT)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_TASK_")},
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DEBUG": "true",
            "VAR_DIR": str(tmp_path),
            "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{uuid.uuid4().hex}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == [str(soft), str(hard)]
