"""The sync engine against the real sandbox, executed in this process.

(One test per job kind also runs in a real Celery worker: see test_worker_jobs.py.)
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from integrations.models import (
    ItemStatus,
    JobKind,
    JobStatus,
    MirroredRecipient,
    SyncItem,
    SyncJob,
)
from integrations.sync.engine import job_execute, jobs_needing_a_worker
from integrations.sync.services import (
    JobStateError,
    job_cancel,
    job_create_pull,
    job_create_push,
    job_pause,
    job_resume,
    job_retry_failed,
)
from tests.helpers.postgres import mirror_analyze_count
from tests.integrations.sync.helpers import (
    redflag_connection,
    redflag_records,
    snappy_connection,
    snappy_records,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]

FAST_CLIENT = {"read_timeout": 1.0, "backoff_base": 0.02, "backoff_cap": 0.2, "total_timeout": 15}


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SYNC_CLIENT_OPTIONS = FAST_CLIENT
    settings.SYNC_CONCURRENCY = 8


def statuses(job):
    return {s: job.items.filter(status=s).count() for s in ItemStatus.values}


def assert_counts_add_up(job):
    job.refresh_from_db()
    assert job.n_succeeded + job.n_failed + job.n_skipped == job.total
    by_status = statuses(job)
    assert by_status["succeeded"] == job.n_succeeded
    assert by_status["failed"] == job.n_failed
    assert by_status["skipped"] == job.n_skipped
    assert by_status["pending"] == by_status["in_flight"] == 0


def test_a_push_creates_every_record_once_and_mirrors_the_replies(sandbox):
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 40)
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.n_succeeded == job.n_created == 40
    assert_counts_add_up(job)
    creates = sandbox.counters()["creates"]["snappy"]
    for record in records:
        assert creates[record["identifier"]] == 1
    assert MirroredRecipient.objects.filter(connection=conn).count() == 40
    item = job.items.first()
    assert item is not None
    assert item.remote_id and item.outcome == "created" and item.attempts == 1


def test_a_job_with_a_failed_item_is_partially_failed_never_succeeded(sandbox):
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 5)
    records[2]["payload"]["accounts"] = ["nosuchacct"]  # 422 business rule
    records[3]["payload"]["country"] = "G3"  # 400 validation
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.PARTIALLY_FAILED
    assert (job.n_succeeded, job.n_failed) == (3, 2)
    failed = {i.seq: i for i in job.items.filter(status=ItemStatus.FAILED)}
    assert failed[2].http_status == 422 and failed[2].error_message
    assert failed[3].http_status == 400 and failed[3].error_message
    assert_counts_add_up(job)


def test_a_disabled_field_is_never_sent(sandbox):
    conn = redflag_connection(sandbox)
    records = redflag_records(2)
    records[1]["payload"]["title"] = "Boss"  # title is disabled on this connection
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    item = job.items.get(seq=1)
    assert item.status == ItemStatus.FAILED
    assert "title" in item.error_message
    assert sandbox.counters()["creates"]["redflag"].get(records[1]["identifier"]) is None


def test_bad_credentials_fail_the_job_fast_with_one_reason(sandbox):
    conn = snappy_connection(sandbox, secret="WrongKeyWrongKeyWrong123")
    job = job_create_push(connection=conn, records=snappy_records(sandbox, 200))
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "refused the credentials" in job.error_message
    assert job.n_skipped == 200 and job.n_failed == 0
    assert_counts_add_up(job)
    requests = sum(
        n for key, n in sandbox.counters()["requests"].items() if key.startswith("snappy POST")
    )
    assert requests <= 20  # stopped at the first refusals, not 200 identical errors


def test_faults_at_ten_percent_each_lose_nothing_and_duplicate_nothing(sandbox):
    sandbox.configure(
        faults={
            "rate_429": 0.1,
            "rate_500": 0.1,
            "rate_503": 0.1,
            "rate_timeout": 0.1,
            "timeout_seconds": 3,
            "rate_drop": 0.1,
            "rate_malformed": 0.1,
        }
    )
    conn = redflag_connection(sandbox)
    records = redflag_records(150)
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.is_finished
    assert_counts_add_up(job)
    for item in job.items.all():
        assert item.status in (ItemStatus.SUCCEEDED, ItemStatus.FAILED)
        if item.status == ItemStatus.FAILED:
            assert item.error_message
    creates = sandbox.counters()["creates"]["redflag"]
    assert all(creates.get(r["identifier"], 0) <= 1 for r in records)
    assert job.n_succeeded > 100


def test_in_flight_items_of_a_dead_worker_are_checked_before_a_create_is_resent(sandbox, settings):
    conn = redflag_connection(sandbox)
    records = redflag_records(3)
    job = job_create_push(connection=conn, records=records)
    # A worker created record 0 at the provider, then died before recording it.
    from integrations.connection import connection_recipient_client

    connection_recipient_client(conn).create_recipient(records[0]["payload"])
    SyncJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
        deliveries=1,
    )
    SyncItem.objects.filter(job=job, seq=0).update(
        status=ItemStatus.IN_FLIGHT,
        claimed_by="dead-worker",
        claimed_at=timezone.now() - dt.timedelta(hours=1),
        attempts=1,
    )
    assert job.pk in jobs_needing_a_worker()
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert sandbox.counters()["creates"]["redflag"][records[0]["identifier"]] == 1
    item = job.items.get(seq=0)
    assert item.outcome == "created" and "interrupted" in item.error_message
    assert job.deliveries == 2


def test_succeeded_items_are_never_sent_again(sandbox):
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(5))
    job_execute(job.pk)
    before = sandbox.counters()["requests"]
    SyncJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at=None)
    job_execute(job.pk)
    assert sandbox.counters()["requests"] == before


def test_cancel_stops_claiming_and_marks_the_rest_not_sent(sandbox):
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(10))
    job_cancel(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.n_skipped == 10
    first_item = job.items.first()
    assert first_item is not None and "cancelled" in first_item.error_message
    job_execute(job.pk)  # a late delivery does nothing
    assert not sandbox.counters()["creates"].get("redflag")
    with pytest.raises(JobStateError):
        job_cancel(job=job)


def test_pause_and_resume(sandbox):
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(6))
    job_pause(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED
    job_execute(job.pk)
    assert job.items.filter(status=ItemStatus.PENDING).count() == 6
    job_resume(job=job)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.n_created == 6


def test_retry_failed_items_sends_only_those_in_a_linked_job(sandbox):
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 4)
    records[1]["payload"]["accounts"] = ["nosuchacct"]
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    with pytest.raises(JobStateError):
        job_retry_failed(
            job=SyncJob.objects.create(
                connection=conn, connection_name=conn.name, provider="snappy", kind="push"
            )
        )
    retry = job_retry_failed(job=job)
    assert retry.kind == JobKind.RETRY and retry.retry_of_id == job.pk and retry.total == 1
    retried = retry.items.get()
    assert retried.identifier == records[1]["identifier"] and retried.needs_check
    job_execute(retry.pk)
    retry.refresh_from_db()
    assert retry.status == JobStatus.FAILED  # still an unknown account
    assert sandbox.counters()["creates"]["snappy"][records[0]["identifier"]] == 1


def test_a_pull_fills_the_mirror_and_marks_who_is_gone(sandbox):
    conn = redflag_connection(sandbox)
    ghost = MirroredRecipient.objects.create(connection=conn, remote_id="f" * 24, email="x@y.z")
    job = job_create_pull(connection=conn)
    assert job_create_pull(connection=conn).pk == job.pk  # one refresh at a time
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    expected = sandbox.state()["redflag"]["recipients"]
    assert MirroredRecipient.objects.filter(connection=conn, gone_at__isnull=True).count() == (
        expected
    )
    assert job.total == expected and job.n_gone == 1
    ghost.refresh_from_db()
    assert ghost.gone_at is not None
    conn.refresh_from_db()
    assert conn.mirror_refreshed_at is not None
    row = MirroredRecipient.objects.filter(connection=conn).exclude(pk=ghost.pk).first()
    assert row is not None and row.email_lower == row.email.lower() and row.record


def test_a_pull_refreshes_the_mirror_s_planner_statistics(sandbox, always_stale):
    """Searches and previews started right after a refresh are planned for the new mirror."""
    conn = redflag_connection(sandbox)
    before = mirror_analyze_count()

    job_execute(job_create_pull(connection=conn).pk)

    assert mirror_analyze_count() == before + 1


def test_a_pull_with_paged_lists_gets_everyone(sandbox):
    sandbox.configure(variants={"redflag_list": "paged"})
    conn = redflag_connection(sandbox)
    job = job_create_pull(connection=conn)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.total == sandbox.state()["redflag"]["recipients"]


def test_a_pull_that_fails_midway_marks_no_one_gone(sandbox):
    conn = redflag_connection(sandbox, secret="wrong-token-value-1234")
    MirroredRecipient.objects.create(connection=conn, remote_id="f" * 24, email="x@y.z")
    job = job_create_pull(connection=conn)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_message
    assert not MirroredRecipient.objects.filter(gone_at__isnull=False).exists()


def test_a_poison_job_ends_failed_instead_of_looping(sandbox, settings):
    settings.SYNC_MAX_DELIVERIES = 2
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(1))
    SyncJob.objects.filter(pk=job.pk).update(deliveries=2, status=JobStatus.RUNNING)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "interrupted runs" in job.error_message
    assert_counts_add_up(job)


def test_a_deleted_connection_fails_the_job_with_the_reason(sandbox):
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(2))
    conn.delete()
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "deleted" in job.error_message
    assert job.connection_name
