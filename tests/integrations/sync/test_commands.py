"""The sync_push, sync_pull and sync_job management commands."""

from __future__ import annotations

import functools
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.models import FieldSetting, JobKind, JobSource, JobStatus, SyncItem, SyncJob
from integrations.sync.engine import job_execute
from tests.celery_fixtures import ROOT, _database_url
from tests.factories import ConnectionFactory
from tests.integrations.sync.helpers import (
    redflag_connection,
    redflag_records,
    snappy_connection,
    snappy_records,
)

WORKER_ENV = {
    "SYNC_CLIENT_OPTIONS": json.dumps(
        {"read_timeout": 2.0, "backoff_base": 0.05, "backoff_cap": 0.5, "total_timeout": 30}
    ),
    "SYNC_CONCURRENCY": "4",
    "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
}
FAST_CLIENT = {"read_timeout": 1.0, "backoff_base": 0.02, "backoff_cap": 0.2, "total_timeout": 15}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def run(*args):
    """Call a command; return (stdout, the CommandError raised or None)."""
    out = StringIO()
    try:
        call_command(*args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def redflag_connection_without_sandbox():
    """A RedFlag connection for tests that never call the provider."""
    conn = ConnectionFactory(provider="redflag", name="RedFlag HR")
    FieldSetting.objects.create(connection=conn, path="department", enabled=True)
    return conn


@pytest.fixture
def workers(worker_starter):
    return functools.partial(worker_starter, base_env=WORKER_ENV)


# -- checking the file ----------------------------------------------------------------------
GOOD = {"identifier": "a@example.com", "operation": "create", "payload": {"email": "a@example.com"}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('["a@example.com", "create"]', "line 2: expected a JSON object, found an array"),
        (
            '{"identifier": "b@example.com", "operation": "upsert", "payload": {"email": "b"}}',
            "line 2: unknown operation 'upsert'",
        ),
        ('{"operation": "create", "payload": {"email": "b@example.com"}}', 'line 2: "identifier"'),
        (
            '{"identifier": "", "operation": "create", "payload": {"email": "b@example.com"}}',
            'line 2: "identifier" is missing or empty',
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "unknown-operation",
        "missing-identifier",
        "empty-identifier",
    ],
)
def test_a_bad_line_is_named_by_its_number_and_nothing_is_queued(tmp_path, bad_line, message):
    conn = redflag_connection_without_sandbox()
    path = tmp_path / "records.jsonl"
    third = GOOD | {"identifier": "c@example.com"}
    path.write_text(f"{json.dumps(GOOD)}\n{bad_line}\n{json.dumps(third)}\n")

    _, error = run("sync_push", "--connection", conn.name, str(path))

    assert error is not None and message in str(error)
    assert "nothing was queued" in str(error)
    assert not SyncJob.objects.exists() and not SyncItem.objects.exists()


@pytest.mark.django_db
def test_every_bad_line_is_reported_at_once_including_disabled_fields_and_repeats(tmp_path):
    """One run lists all the problems, so the file is fixed in one go."""
    conn = redflag_connection_without_sandbox()
    records = [
        GOOD,
        {"identifier": "b@example.com", "operation": "create", "payload": {"salary": 1}},
        {"identifier": "A@EXAMPLE.COM", "operation": "update", "payload": {"firstName": "A"}},
        {"identifier": "d@example.com", "operation": "create", "payload": {}, "remoteId": "x"},
        {"identifier": "e@example.com", "payload": {"email": "e@example.com"}},
    ]
    path = write_jsonl(tmp_path / "records.jsonl", records)

    _, error = run("sync_push", "--connection", conn.name, str(path))

    text = str(error)
    assert "4 bad lines" in text
    assert "line 2: field(s) not enabled on 'RedFlag HR': salary" in text
    assert "line 3: identifier 'A@EXAMPLE.COM' is already on line 1" in text
    assert "line 4: unknown key(s) 'remoteId'" in text
    assert 'line 5: "operation" is missing' in text
    assert not SyncJob.objects.exists()


@pytest.mark.django_db
def test_an_empty_file_queues_nothing(tmp_path):
    conn = redflag_connection_without_sandbox()
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    _, error = run("sync_push", "--connection", conn.name, str(path))
    assert "has no records" in str(error)
    assert not SyncJob.objects.exists()


@pytest.mark.django_db
def test_an_unknown_connection_is_refused_with_the_names_there_are(tmp_path):
    redflag_connection_without_sandbox()
    path = write_jsonl(tmp_path / "records.jsonl", [GOOD])

    _, error = run("sync_push", "--connection", "Nope", str(path))

    assert str(error) == "No connection named 'Nope'. Connections: 'RedFlag HR'."
    _, error = run("sync_pull", "--connection", "Nope")
    assert "No connection named 'Nope'" in str(error)
    assert not SyncJob.objects.exists()


@pytest.mark.django_db
def test_no_follow_queues_the_job_and_returns(tmp_path):
    """The connection name matches in any letter case; the items are exactly the file's."""
    conn = redflag_connection_without_sandbox()
    records = [
        GOOD,
        {"identifier": "b@example.com", "operation": "update", "payload": {"department": "Ops"}},
        {"identifier": "c@example.com", "operation": "delete", "remote_id": "rf-3"},
    ]
    path = write_jsonl(tmp_path / "records.jsonl", records)

    out, error = run("sync_push", "--connection", "redflag hr", str(path), "--no-follow")

    assert error is None
    job = SyncJob.objects.get()
    assert f"Queued job {job.pk}: 3 records to 'RedFlag HR'" in out
    assert f"manage.py sync_job {job.pk}" in out
    assert (job.connection, job.kind, job.status) == (conn, JobKind.PUSH, JobStatus.QUEUED)
    assert job.source == JobSource.COMMAND and job.source_label.startswith("sync_push records")
    assert job.total == 3
    items = list(job.items.values_list("identifier", "operation", "payload", "remote_id"))
    assert items == [
        ("a@example.com", "create", {"email": "a@example.com"}, ""),
        ("b@example.com", "update", {"department": "Ops"}, ""),
        ("c@example.com", "delete", {}, "rf-3"),
    ]

    out, error = run("sync_pull", "--connection", "REDFLAG HR", "--no-follow")
    assert error is None
    pull = SyncJob.objects.get(kind=JobKind.PULL)
    assert f"Queued job {pull.pk}: refresh the mirror of 'RedFlag HR'" in out
    out, _ = run("sync_pull", "--connection", "RedFlag HR", "--no-follow")
    assert f"already queued as job {pull.pk}" in out
    assert SyncJob.objects.filter(kind=JobKind.PULL).count() == 1


@pytest.mark.django_db
def test_sync_job_refuses_unknown_jobs_and_retrying_an_unfinished_one():
    _, error = run("sync_job", "999999")
    assert str(error) == "No sync job 999999."
    conn = redflag_connection_without_sandbox()
    job = SyncJob.objects.create(
        connection=conn, connection_name=conn.name, provider="redflag", kind="push"
    )
    _, error = run("sync_job", str(job.pk), "--retry-failed")
    assert "Wait for the job to finish" in str(error)


# -- following ------------------------------------------------------------------------------
@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_a_partially_failed_job_exits_1_with_its_counts_and_reasons(sandbox, settings, tmp_path):
    settings.SYNC_CLIENT_OPTIONS = FAST_CLIENT
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 5)
    del records[2]["payload"]["country"]  # Snappy requires a country on create
    path = write_jsonl(tmp_path / "records.jsonl", records)
    out, error = run("sync_push", "--connection", conn.name, str(path), "--no-follow")
    job = SyncJob.objects.get()
    job_execute(job.pk)  # in this process: the follow below only reads the finished job

    out, error = run("sync_job", str(job.pk))

    assert error is not None and error.returncode == 1
    assert str(error) == f"Job {job.pk} partially failed."
    assert "5 items: 4 succeeded (4 created), 1 failed, 0 not sent." in out
    assert "Invalid: Snappy needs a first name, a country" in out

    out, error = run("sync_job", str(job.pk), "--retry-failed", "--no-follow")
    retry = SyncJob.objects.get(retry_of=job)
    assert f"Queued job {retry.pk}: retry 1 failed or unsent items of job {job.pk}." in out


@pytest.mark.worker
@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_sync_push_follows_a_real_worker_s_job_to_success(sandbox, workers, tmp_path):
    sandbox.configure(faults={"latency_ms": 20})
    worker = workers()
    conn = redflag_connection(sandbox)
    records = redflag_records(120)
    path = write_jsonl(tmp_path / "records.jsonl", records)

    out, error = run("sync_push", "--connection", conn.name, str(path), "--interval", "0.2")

    assert error is None, f"{out}\n{worker.output()[-3000:]}"
    job = SyncJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED
    assert f"Job {job.pk} (push records, connection {conn.name!r}) succeeded in" in out
    assert "120 items: 120 succeeded (120 created), 0 failed, 0 not sent." in out
    assert f"Job {job.pk} running" in out or f"Job {job.pk} queued" in out  # progress lines
    creates = sandbox.counters()["creates"]["redflag"]
    assert all(creates[r["identifier"]] == 1 for r in records)


@pytest.mark.worker
@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_sync_pull_follows_a_real_worker_s_refresh_to_success(sandbox, workers):
    worker = workers()
    conn = snappy_connection(sandbox)

    out, error = run("sync_pull", "--connection", conn.name, "--interval", "0.2")

    assert error is None, f"{out}\n{worker.output()[-3000:]}"
    job = SyncJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.n_succeeded > 0
    assert f"{job.n_succeeded} recipients read into the mirror." in out


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_ctrl_c_stops_following_and_leaves_the_job_running(tmp_path):
    """On a terminal the progress is redrawn in place; Ctrl-C exits 130, the job is untouched."""
    conn = redflag_connection_without_sandbox()
    # A queued job no worker will take (created directly: nothing is put on the queue).
    job = SyncJob.objects.create(
        connection=conn, connection_name=conn.name, provider="redflag", kind="push", total=3
    )
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "CREDENTIAL_KEYS": ",".join(settings.CREDENTIAL_KEYS),
        "COLUMNS": "100",
    }
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sync_job", str(job.pk), "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    output = b""
    try:
        deadline = time.monotonic() + 30
        while output.count(b"\rJob") < 3 and time.monotonic() < deadline:
            if select.select([primary], [], [], 0.2)[0]:
                output += os.read(primary, 4096)
        process.send_signal(signal.SIGINT)
        # Keep reading while it stops: a terminal nobody reads fills up, and the command's
        # last words would block it (a hang seen under a busy CI run).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if select.select([primary], [], [], 0.2)[0]:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # the terminal closes with the process
                    chunk = b""
                output += chunk
                if chunk:
                    continue
            if process.poll() is not None:
                break
        assert process.wait(timeout=1) == 130
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)

    text = output.decode()
    assert f"\rJob {job.pk} queued: waiting for a worker" in text
    assert f"Stopped following job {job.pk}; the job itself keeps running" in text
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and not job.cancel_requested
