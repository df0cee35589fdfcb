"""Outcomes that are never wrong: unknown creates, in-run retries with backoff, 409s, one retry.

The engine runs in this process against the real sandbox over HTTP and the test database;
faults are the sandbox's own. (The same behaviours under a real worker: test_worker_faults.py.)
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.connection import ClientOptions, connection_client, connection_recipient_client
from integrations.models import ItemStatus, JobKind, JobStatus, Outcome, SyncItem, SyncJob
from integrations.sync import engine
from integrations.sync.engine import (
    PushContext,
    RetryPolicy,
    backoff_delay,
    job_execute,
    payload_differences,
)
from integrations.sync.services import (
    JobStateError,
    RetryRunning,
    job_create_push,
    job_resume,
    job_retry_failed,
    job_slots,
)
from tests.integrations.sync.helpers import (
    redflag_connection,
    redflag_records,
    snappy_connection,
    snappy_records,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]

FAST_CLIENT: ClientOptions = {
    "read_timeout": 0.3,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "total_timeout": 5,
    "max_attempts": 2,
}


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SYNC_CLIENT_OPTIONS = FAST_CLIENT
    settings.SYNC_CONCURRENCY = 4
    settings.SYNC_RETRY_BACKOFF_BASE = 0.01
    settings.SYNC_RETRY_BACKOFF_CAP = 0.05
    settings.SYNC_ITEM_MAX_ATTEMPTS = 3


def run_one_round(job: SyncJob) -> list[SyncItem]:
    """Claim what is due, send it, record the batch: one pass of the engine's loop."""
    connection = job.connection
    assert connection is not None
    client = connection_client(connection, **FAST_CLIENT)
    ctx = PushContext(client, connection.provider)
    try:
        items = engine._claim(job, "test-worker", 100)
        pairs = [(item, engine._call(ctx, item)) for item in items]
        engine._record_batch(
            job, pairs, "test-worker", connection, RetryPolicy.for_connection(connection)
        )
    finally:
        client.close()
    return items


# -- backoff ---------------------------------------------------------------------------------
def test_backoff_is_exponential_with_full_jitter_and_capped():
    assert backoff_delay(1, base=1, cap=60, jitter=0.0) == 0.0
    assert backoff_delay(1, base=1, cap=60, jitter=0.999) == pytest.approx(0.999)
    assert backoff_delay(4, base=1, cap=60, jitter=0.5) == pytest.approx(4.0)  # half of 8
    assert backoff_delay(30, base=1, cap=60, jitter=0.5) == pytest.approx(30.0)  # half the cap


def test_a_retry_after_is_never_shortened_by_the_jitter():
    policy = RetryPolicy(max_attempts=3, base=0.01, cap=0.05)
    now = timezone.now()
    assert policy.next_attempt(1, now, retry_after=2.0) >= now + dt.timedelta(seconds=2)


def test_a_connection_may_allow_more_attempts_than_the_setting(sandbox):
    conn = redflag_connection(sandbox, options={"sync_max_attempts": 11})
    assert RetryPolicy.for_connection(conn).max_attempts == 11


# -- unknown outcomes ------------------------------------------------------------------------
def test_a_create_whose_reply_and_check_were_lost_stays_unknown_then_is_found(sandbox):
    """The provider holds the record although no reply proved it: unknown, never failed."""
    conn = redflag_connection(sandbox)
    records = redflag_records(1)
    job = job_create_push(connection=conn, records=records)
    # Every request times out after the provider acted: the create lands, the check too.
    sandbox.configure(faults={"rate_timeout": 1.0, "timeout_seconds": 1})
    run_one_round(job)
    item = job.items.get()
    job.refresh_from_db()
    assert item.status == ItemStatus.UNKNOWN and item.needs_check
    assert "Outcome unknown" in item.error_message
    assert item.next_attempt_at is not None
    assert (job.n_unknown, job.n_failed) == (1, 0)
    assert sandbox.counters()["creates"]["redflag"][records[0]["identifier"]] == 1

    # Not due yet: a claim skips it.
    SyncItem.objects.filter(pk=item.pk).update(
        next_attempt_at=timezone.now() + dt.timedelta(hours=1)
    )
    assert engine._claim(job, "test-worker", 10) == []

    sandbox.configure(faults={"rate_timeout": 0.0})
    SyncItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    job_execute(job.pk)
    job.refresh_from_db()
    item.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.n_unknown, job.n_created) == (0, 1)
    assert item.status == ItemStatus.SUCCEEDED and item.outcome == Outcome.CREATED
    assert sandbox.counters()["creates"]["redflag"][records[0]["identifier"]] == 1


def test_an_unknown_create_the_provider_lacks_is_sent_again_once(sandbox):
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, 2)
    job = job_create_push(connection=conn, records=records)
    job.items.update(status=ItemStatus.UNKNOWN, needs_check=True, next_attempt_at=timezone.now())
    SyncJob.objects.filter(pk=job.pk).update(n_unknown=2)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.n_created == 2 and job.n_unknown == 0
    creates = sandbox.counters()["creates"]["snappy"]
    assert [creates[r["identifier"]] for r in records] == [1, 1]


def test_a_job_does_not_finish_while_an_outcome_is_being_checked(sandbox):
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(1))
    job.items.update(
        status=ItemStatus.UNKNOWN,
        needs_check=True,
        next_attempt_at=timezone.now() + dt.timedelta(hours=1),
    )
    SyncJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    running = engine.job_finish_if_done(job.pk)
    assert running is not None and running.status == JobStatus.RUNNING
    # Cancelled, it ends with the item still unknown: never "failed", never "not sent".
    SyncJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    engine.job_finish_if_done(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert (job.n_unknown, job.n_failed, job.n_skipped) == (1, 0, 0)
    assert job.items.get().next_attempt_at is None


def test_an_unknown_create_with_nothing_to_look_it_up_by_is_settled_unknown(sandbox):
    """No email, no external id: the item cannot be checked, so it is neither re-sent (a
    duplicate) nor failed (the provider may hold it); a retry leaves it out."""
    conn = snappy_connection(sandbox)
    record = snappy_records(sandbox, 1)[0]
    del record["payload"]["email"]
    record["identifier"] = ""
    job = job_create_push(connection=conn, records=[record])
    job.items.update(status=ItemStatus.UNKNOWN, needs_check=True, next_attempt_at=timezone.now())
    SyncJob.objects.filter(pk=job.pk).update(n_unknown=1)
    job_execute(job.pk)
    job.refresh_from_db()
    item = job.items.get()
    assert item.status == ItemStatus.UNKNOWN and item.next_attempt_at is None
    assert "no email or external id" in item.error_message
    assert job.status == JobStatus.PARTIALLY_FAILED and job.n_unknown == 1 and job.n_failed == 0
    assert not sandbox.counters()["creates"]["snappy"]
    with pytest.raises(JobStateError):
        job_retry_failed(job=job)


# -- transient failures ----------------------------------------------------------------------
def test_a_429_is_tried_again_in_the_run_then_fails_saying_how_often(sandbox):
    """Refused before it acted (429): known not to exist, so failing it is the truth."""
    sandbox.configure(faults={"rate_429": 1.0, "retry_after_seconds": 0})
    conn = redflag_connection(sandbox)
    records = redflag_records(2)
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.n_failed == 2
    for item in job.items.all():
        assert item.attempts == 3
        assert item.error_message.startswith("Gave up after 3 attempts")
    assert not sandbox.counters()["creates"]["redflag"]


def test_a_transient_failure_passes_on_a_later_attempt_in_the_same_run(sandbox):
    conn = redflag_connection(sandbox)
    records = redflag_records(3)
    job = job_create_push(connection=conn, records=records)
    sandbox.configure(faults={"rate_429": 1.0, "retry_after_seconds": 0})
    run_one_round(job)
    waiting = list(job.items.all())
    assert {i.status for i in waiting} == {ItemStatus.PENDING}
    assert all(i.next_attempt_at is not None and i.attempts == 1 for i in waiting)
    sandbox.configure(faults={"rate_429": 0.0})
    job_execute(job.pk)  # waits for the backoff, then sends
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.n_created == 3
    assert {i.attempts for i in job.items.all()} == {2}


def test_an_update_that_keeps_failing_with_503_fails_after_the_limit(sandbox):
    conn = redflag_connection(sandbox)
    client = connection_recipient_client(conn)
    created = client.create_recipient(redflag_records(1)[0]["payload"])
    sandbox.configure(faults={"rate_503": 1.0})
    job = job_create_push(
        connection=conn,
        records=[
            {
                "identifier": created.email,
                "operation": "update",
                "remote_id": created.remote_id,
                "payload": {"firstName": "Renamed"},
            }
        ],
    )
    job_execute(job.pk)
    item = job.items.get()
    assert item.status == ItemStatus.FAILED and item.attempts == 3
    assert item.http_status == 503 and "Gave up after 3 attempts" in item.error_message
    # A 503 may come after the provider acted: the page must not let "failed" read as "not
    # applied".
    assert "may have been applied at the provider" in item.error_message


def test_an_update_refused_as_invalid_does_not_say_it_may_have_been_applied(sandbox):
    conn = redflag_connection(sandbox)
    client = connection_recipient_client(conn)
    created = client.create_recipient(redflag_records(1)[0]["payload"])
    job = job_create_push(
        connection=conn,
        records=[
            {
                "identifier": created.email,
                "operation": "update",
                "remote_id": created.remote_id,
                "payload": {"mobileCountry": "12345"},
            }
        ],
    )
    job_execute(job.pk)
    item = job.items.get()
    assert item.status == ItemStatus.FAILED
    assert "may have been applied" not in item.error_message


# -- 409 on create ---------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["redflag", "snappy"])
def test_a_409_for_the_same_data_is_a_success_and_for_other_data_a_failure_saying_so(
    sandbox, provider
):
    if provider == "redflag":
        conn = redflag_connection(sandbox)
        records = redflag_records(2)
    else:
        conn = snappy_connection(sandbox)
        records = snappy_records(sandbox, 2)
    client = connection_recipient_client(conn)
    for record in records:
        client.create_recipient(record["payload"])
    records[1]["payload"]["firstName"] = "Someone Else"
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    same, other = job.items.order_by("seq")
    assert same.status == ItemStatus.SUCCEEDED and same.outcome == Outcome.UNCHANGED
    assert same.http_status == 409 and same.remote_id
    assert other.status == ItemStatus.FAILED and other.http_status == 409
    assert other.error_message.startswith("Already exists at the provider with different data:")
    assert "firstName" in other.error_message and "Someone Else" in other.error_message
    assert (job.n_succeeded, job.n_failed) == (1, 1)
    creates = sandbox.counters()["creates"][provider]
    assert [creates[r["identifier"]] for r in records] == [1, 1]


def test_payload_differences_compare_what_was_sent_as_the_provider_stores_it():
    stored = {
        "email": "Ann@Example.com",
        "birthday": "1990-04-01T00:00:00.000Z",
        "employee": {"department": "Sales", "workingSince": "2020-01-01T00:00:00.000Z"},
        "accounts": ["b", "a"],
        "tags": [{"key": "z_site", "value": "Leeds", "id": 7}],
        "id": "abc",
    }
    sent = {
        "email": "ann@example.com",
        "birthday": "1990-04-01",
        "employee": {"department": "Sales"},
        "accounts": ["a", "b"],
        "tags": [{"key": "z_site", "value": "Leeds"}],
        "lastName": "",
    }
    assert payload_differences(sent, stored) == []
    (difference,) = payload_differences({"employee": {"department": "HR"}}, stored)
    assert difference.startswith('employee (provider: {"department": "Sales", ')
    assert difference.endswith('sent: {"department": "HR"})')


# -- one retry, one resume at a time ---------------------------------------------------------
def _failed_push(sandbox, n=4):
    sandbox.configure(faults={"rate_429": 1.0, "retry_after_seconds": 0})
    conn = snappy_connection(sandbox)
    records = snappy_records(sandbox, n)
    for record in records[: n // 2]:  # half without an email: found by external id only
        del record["payload"]["email"]
        external_id = "ext-" + record["identifier"].split("@")[0]
        record["payload"]["externalId"] = record["identifier"] = external_id
    job = job_create_push(connection=conn, records=records)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.n_failed == n
    sandbox.configure(faults={"rate_429": 0.0})
    return job, records


def test_the_database_allows_one_active_retry_per_family(sandbox):
    job, _ = _failed_push(sandbox, 2)
    job_retry_failed(job=job)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncJob.objects.create(
            connection=job.connection,
            connection_name="x",
            provider="snappy",
            kind=JobKind.RETRY,
            retry_of=job,
            retry_root=job,
        )


def test_a_second_retry_is_refused_naming_the_running_one(sandbox, admin_user):
    job, _ = _failed_push(sandbox, 2)
    first = job_retry_failed(job=job, user=admin_user)
    with pytest.raises(RetryRunning) as refused:
        job_retry_failed(job=job)
    assert f"Job {first.pk} (started by ada) is already retrying" in str(refused.value)


def test_a_later_retry_sends_only_what_has_not_succeeded_in_any_retry(sandbox):
    job, records = _failed_push(sandbox, 4)
    retry = job_retry_failed(job=job)
    # The first retry: one record fails again (an unknown account), the others succeed.
    bad = retry.items.get(seq=3)
    bad.payload = {**bad.payload, "accounts": ["nosuchacct"]}
    bad.save(update_fields=["payload"])
    job_execute(retry.pk)
    retry.refresh_from_db()
    assert (retry.n_succeeded, retry.n_failed) == (3, 1)

    again = job_retry_failed(job=job)  # pressed on the original job
    assert again.total == 1 and again.retry_root_id == job.pk
    assert again.items.get().retry_of_id == job.items.get(seq=3).pk
    job_execute(again.pk)
    creates = sandbox.counters()["creates"]["snappy"]
    assert all(creates.get(r["identifier"]) == 1 for r in records)
    with pytest.raises(JobStateError, match="succeeded in a later retry"):
        job_retry_failed(job=job)


def test_a_second_resume_is_refused_by_the_database(sandbox):
    conn = redflag_connection(sandbox)
    job = job_create_push(connection=conn, records=redflag_records(2))
    SyncJob.objects.filter(pk=job.pk).update(status=JobStatus.PAUSED, pause_requested=False)
    job_resume(job=job)
    with pytest.raises(JobStateError, match="already queued"):
        job_resume(job=job)


def test_a_job_is_spread_over_the_slots_its_items_keep_busy(settings):
    settings.SYNC_SLOTS_PER_JOB = 3
    settings.SYNC_CONCURRENCY = 8
    assert [job_slots(items=n) for n in (0, 1, 8, 9, 17, 10_000)] == [1, 1, 1, 2, 3, 3]


def test_a_409_whose_identifiers_lead_to_two_records_is_left_to_a_person(sandbox):
    """Email and external id point at two different provider records: either may be the
    item's, so nothing is chosen, nothing more is sent, and the item is not called failed."""
    conn = snappy_connection(sandbox)
    first, second = snappy_records(sandbox, 2)
    first["payload"]["externalId"] = "EXT-FIRST"
    second["payload"]["externalId"] = "EXT-SECOND"
    client = connection_recipient_client(conn)
    for record in (first, second):
        client.create_recipient(record["payload"])
    mixed = {**first, "payload": {**first["payload"], "externalId": "EXT-SECOND"}}
    job = job_create_push(connection=conn, records=[mixed])
    job_execute(job.pk)
    job.refresh_from_db()
    item = job.items.get()
    assert item.status == ItemStatus.UNKNOWN and item.next_attempt_at is None
    assert item.error_code == "AmbiguousMatch"
    assert "several records at the provider" in item.error_message
    assert job.n_failed == 0 and job.n_unknown == 1 and job.is_finished
    creates = sandbox.counters()["creates"]["snappy"]
    assert creates[first["identifier"]] == 1 and creates[second["identifier"]] == 1
