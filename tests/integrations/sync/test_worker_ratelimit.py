"""Three real worker processes on one Snappy job keep to the company's one rate limit."""

from __future__ import annotations

import json

import pytest

from integrations.models import ItemStatus, JobStatus
from integrations.sync.services import job_create_push
from tests.celery_fixtures import start_worker, wait_until
from tests.integrations.clients.redis_helpers import rate_limit_redis_url
from tests.integrations.sync.helpers import snappy_connection, snappy_records

pytestmark = [
    pytest.mark.worker,
    pytest.mark.sandbox,
    pytest.mark.django_db(transaction=True),
]

SNAPPY_LIMIT = 100  # requests/second per company (CONTRACT-NOTES "Snappy"; the sandbox's)
WORKERS = 3
CREATES = 3000


def rejected(sandbox) -> int:
    """How many Snappy requests the sandbox answered with 429."""
    requests = sandbox.counters()["requests"]
    return sum(
        n for name, n in requests.items() if name.startswith("snappy ") and name.endswith(" 429")
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("store", ["redis", "folder"])
def test_three_workers_on_one_snappy_job_stay_within_the_company_s_limit(sandbox, tmp_path, store):
    """The rate limit is one bucket for all workers: at most a second's worth of 429s.

    In Redis (production: every host), or in a folder (the embedded broker: the worker
    processes of one host, as ``make demo WORKERS=3`` runs them). With a bucket per process,
    three workers sent three times the limit (485 429s per 3,000 creates in issue 16).
    """
    folder = f"file://{tmp_path / 'ratelimit'}"
    redis_url = rate_limit_redis_url() if store == "redis" else folder
    sandbox.configure(variants={"snappy_rate_limit": SNAPPY_LIMIT})
    env = {
        "RATE_LIMIT_REDIS_URL": redis_url,
        "SYNC_CONCURRENCY": "4",
        "SYNC_CLIENT_OPTIONS": json.dumps({"read_timeout": 5.0}),
        "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
    }
    workers = [start_worker(tmp_path, concurrency=1, env=env) for _ in range(WORKERS)]
    try:
        conn = snappy_connection(sandbox)
        records = snappy_records(sandbox, CREATES)
        job = job_create_push(connection=conn, records=records, workers=WORKERS)

        def finished() -> bool:
            job.refresh_from_db()
            return job.is_finished

        assert wait_until(finished, timeout=240, interval=1, worker=workers[0]), "\n".join(
            w.output()[-2000:] for w in workers
        )
    finally:
        for worker in workers:
            worker.stop()

    too_many = rejected(sandbox)
    print(f"{WORKERS} workers, {CREATES} creates in {job.duration_seconds:.1f} s: {too_many} 429s")
    assert too_many <= SNAPPY_LIMIT
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.n_succeeded == CREATES
    assert not job.items.exclude(status=ItemStatus.SUCCEEDED).exists()
    creates = sandbox.counters()["creates"]["snappy"]
    assert all(creates.get(r["identifier"]) == 1 for r in records)
    processes = {c.rsplit(":", 1)[0] for c in job.items.values_list("claimed_by", flat=True)}
    assert len(processes) == WORKERS, processes
    for worker in workers:  # every worker paced through the shared store, none on its own
        assert "unreachable" not in worker.output()
        assert "cannot be used" not in worker.output()
