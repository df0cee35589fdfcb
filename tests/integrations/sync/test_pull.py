"""Mirror refreshes at real size and against every documented list form, over HTTP.

Also the two Snappy write rules that a push job relies on: nested objects sent whole, and the
update method remembered per connection in the database.
"""

from __future__ import annotations

import json
import uuid

import pytest

from integrations.connection import connection_recipient_client
from integrations.models import JobStatus, MirroredRecipient, SyncJob
from integrations.sync.engine import job_execute
from integrations.sync.services import job_create_pull, job_create_push
from tests.celery_fixtures import job_finished, start_worker, wait_until
from tests.integrations.clients.sandbox_helpers import snappy_client
from tests.integrations.sync.helpers import redflag_connection, snappy_connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]

FAST_CLIENT = {"read_timeout": 5.0, "backoff_base": 0.02, "backoff_cap": 0.2, "total_timeout": 30}
WORKER_ENV = {
    "SYNC_CLIENT_OPTIONS": json.dumps(FAST_CLIENT),
    "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
}


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SYNC_CLIENT_OPTIONS = FAST_CLIENT
    settings.SYNC_CONCURRENCY = 4


def pull(connection) -> SyncJob:
    job = job_create_pull(connection=connection)
    job_execute(job.pk)
    job.refresh_from_db()
    return job


def live(connection) -> int:
    return MirroredRecipient.objects.filter(connection=connection, gone_at__isnull=True).count()


@pytest.mark.worker
def test_a_redflag_mirror_of_100000_that_refuses_limit_fills_in_a_real_worker(
    sandbox, bulk_seed, tmp_path
):
    """A real worker, RedFlag refusing ``limit``: every recipient in one plain reply."""
    bulk_seed(100_000, providers=("redflag",))
    sandbox.configure(variants={"redflag_list": "strict"})
    conn = redflag_connection(sandbox)
    worker = start_worker(tmp_path, env=WORKER_ENV)
    try:
        job = job_create_pull(connection=conn)

        assert wait_until(job_finished(job), timeout=180, worker=worker), worker.output()[-3000:]
    finally:
        worker.stop()

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.total == job.n_succeeded == 100_000
    assert live(conn) == 100_000
    assert MirroredRecipient.objects.filter(
        connection=conn, email_lower="bulk99999@example.com"
    ).exists()
    requests = sandbox.counters()["requests"]
    assert requests["redflag GET /int/v1/recipient 200"] == 2  # refused paging, then plain


def test_a_redflag_server_that_refuses_limit_is_pulled_whole(sandbox):
    sandbox.configure(variants={"redflag_list": "strict"})
    conn = redflag_connection(sandbox)

    job = pull(conn)

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert live(conn) == job.total == sandbox.state()["redflag"]["recipients"]


@pytest.mark.parametrize("errors", ["200", "http"])
def test_a_refused_limit_in_either_error_form_is_pulled_whole(sandbox, errors):
    sandbox.configure(variants={"redflag_list": "strict", "redflag_errors": errors})
    conn = redflag_connection(sandbox)

    assert pull(conn).status == JobStatus.SUCCEEDED


def test_a_reply_over_20_mb_in_one_piece_is_pulled(sandbox, bulk_seed):
    bulk_seed(16_000, providers=("redflag",), compact=False)  # ~1.5 KB each: over 20 MB
    conn = redflag_connection(sandbox)

    job = pull(conn)

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert live(conn) == 16_000


def test_a_list_cut_short_fails_the_pull_and_marks_no_one_gone(sandbox, bulk_seed):
    """Records read before the cut are kept; only a complete listing proves who is gone."""
    bulk_seed(3_000, providers=("redflag",))
    conn = redflag_connection(sandbox)
    ghost = MirroredRecipient.objects.create(connection=conn, remote_id="f" * 24, email="x@y.z")
    sandbox.configure(faults={"rate_truncated": 1.0, "only": ["redflag"]})

    job = pull(conn)

    assert job.status == JobStatus.FAILED
    assert "The refresh stopped after" in job.error_message
    assert 0 < live(conn) - 1 < 3_000  # some records were read and kept
    ghost.refresh_from_db()
    assert ghost.gone_at is None
    assert not MirroredRecipient.objects.filter(gone_at__isnull=False).exists()
    conn.refresh_from_db()
    assert conn.mirror_refreshed_at is None


def test_a_list_cut_once_is_read_again_and_the_pull_succeeds(sandbox, bulk_seed):
    bulk_seed(3_000, providers=("redflag",))
    conn = redflag_connection(sandbox)
    sandbox.configure(faults={"rate_truncated": 0.5, "only": ["redflag"]})

    job = pull(conn)

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert live(conn) == job.total == 3_000


def test_a_snappy_pull_reads_every_page(sandbox, bulk_seed):
    bulk_seed(2_500, providers=("snappy",))
    conn = snappy_connection(sandbox)

    job = pull(conn)

    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert live(conn) == job.total == 2_500


# -- Snappy writes --------------------------------------------------------------------------


def _snappy_person(sandbox, conn):
    """A recipient with a start date, made outside the connection (which may not set it)."""
    client = snappy_client(sandbox)
    try:
        return client.create_recipient(
            {
                "firstName": "Ann",
                "country": "GB",
                "accounts": [sandbox.state()["snappy"]["accounts"][0]["id"]],
                "externalId": f"N-{uuid.uuid4().hex[:12]}",
                "employee": {"workingSince": "2021-03-01", "department": "Sales"},
            }
        )
    finally:
        client.close()


def test_a_push_update_of_the_department_keeps_working_since(sandbox):
    """On a server that replaces nested objects, a department edit sends employee whole."""
    sandbox.configure(variants={"snappy_nested": "replace"})
    conn = snappy_connection(sandbox)
    person = _snappy_person(sandbox, conn)
    job = job_create_push(
        connection=conn,
        records=[
            {
                "identifier": person.external_id,
                "operation": "update",
                "remote_id": person.remote_id,
                "payload": {"employee": {"department": "IT"}},
            }
        ],
    )

    job_execute(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, list(job.items.values("error_message"))
    client = connection_recipient_client(conn)
    employee = client.get_recipient(person.remote_id).raw["employee"]
    client.close()
    assert employee == {"workingSince": "2021-03-01T00:00:00.000Z", "department": "IT"}


def test_put_only_the_connection_remembers_and_later_clients_send_no_patch(sandbox):
    sandbox.configure(variants={"snappy_update": "put_only"})
    conn = snappy_connection(sandbox)
    person = _snappy_person(sandbox, conn)

    first = connection_recipient_client(conn)
    first.update_recipient(person.remote_id, {"lastName": "One"})
    first.close()
    conn.refresh_from_db()
    assert conn.snappy_update_method == "PUT"

    sandbox.reset()  # zero the counters
    sandbox.configure(variants={"snappy_update": "put_only"})
    second = connection_recipient_client(type(conn).objects.get(pk=conn.pk))
    second.update_recipient(person.remote_id, {"lastName": "Two"})
    second.close()

    requests = sandbox.counters()["requests"]
    assert not any(" PATCH " in key for key in requests)
    assert requests["snappy PUT /v2/recipients/{id} 200"] == 1
