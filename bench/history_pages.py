"""Benchmark: server time of the sync history pages with 5,000 jobs and 1,000,000 items.

Run: ``.venv/bin/python bench/history_pages.py [--requests 60] [--regenerate] [--cleanup]``

Needs PostgreSQL (the production database; SQLite's planner says nothing about it):

* ``DATABASE_URL=postgres://...`` uses that database. The benchmark adds its own rows (its
  connections are named "Bench history NN") and keeps them for the next run; ``--cleanup``
  removes them afterwards. Prefer a dedicated database over a development one.
* Without ``DATABASE_URL``, if PostgreSQL answers on 127.0.0.1:5432 (user ``postgres``,
  trust authentication), the database ``bench_history`` is created there and used.
* Otherwise the benchmark prints how to run it and exits 0 with ``"value": null``.

1. Migrates, then (unless the rows are already there) generates 5,000 jobs over a year on 20
   connections and 1,000,000 items in a few SQL statements (``INSERT ... SELECT`` over
   ``generate_series``): ten big pushes of 50,000 items, the rest spread over the other
   pushes and retries; succeeded, partially failed (5 % of items failed), failed, cancelled,
   running and queued jobs; the jobs' counters computed from their items; then ``ANALYZE``.
2. Signs an admin in with Django's test ``Client`` (``force_login``) and times full requests
   in this process (middleware, queries, template rendering; no network), after a warm-up:
   ``GET /jobs/`` with a mix of filters, sorts and pages, a job's failed items
   (``GET /jobs/<id>/?items=failed``, the parameter the page uses) on big and small jobs, and
   the last and deep pages (``?page=last``, ``?after=<seq>``, ``?before=<seq>``: keyset
   cursors) of one more job of 1,000,000 items, generated once on a connection of its own.
3. Prints p50/p95/max per page and per URL, the queries per request and the slowest query;
   when a p95 misses the 100 ms target, its slowest query's ``EXPLAIN (ANALYZE, BUFFERS)``.

The last line printed is one JSON object (metric, value, unit, anchor, ratio, target,
"better": "lower", the item page's p95, the last page's p95, ...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _machine, _postgres  # noqa: E402 - needs ROOT on sys.path

TARGET_MS = 100.0
JOBS = 5_000
ITEMS = 1_000_000
CONNECTIONS = 20
BIG_JOBS, BIG_JOB_ITEMS = 10, 50_000
# One more push of a million items on a connection of its own, for the deep pages.
DEEP_ITEMS = 1_000_000
DEEP_CONNECTION = "Bench history deep"
PREFIX = "Bench history "
METRIC = "history_list_p95_ms"


def skip(reason: str) -> None:
    _postgres.skip(
        reason=reason,
        metric=METRIC,
        anchor=TARGET_MS,
        script="history_pages.py",
        database="bench_history",
    )


def database_url() -> str:
    """DATABASE_URL if it is PostgreSQL; else a local ``bench_history`` database; else skip."""
    return _postgres.postgres_url(
        database="bench_history", metric=METRIC, anchor=TARGET_MS, script="history_pages.py"
    )


def setup_django(url: str, var_dir: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ["DEBUG"] = "true"
    os.environ["VAR_DIR"] = var_dir
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    logging.getLogger("axes").setLevel(logging.WARNING)  # one line per force_login
    # DEBUG was only needed for the development secrets: measure what production runs
    # (no query log), and let the test client's host in.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


# -- data -------------------------------------------------------------------------------------
def bench_connections() -> list:
    from integrations.crypto import SealedSecret
    from integrations.models import Connection

    existing = list(
        Connection.objects.filter(name__startswith=PREFIX)
        .exclude(name=DEEP_CONNECTION)
        .order_by("name")
    )
    if len(existing) == CONNECTIONS:
        return existing
    rows = []
    for n in range(CONNECTIONS):
        name = f"{PREFIX}{n:02d}"
        if any(c.name == name for c in existing):
            continue
        provider = "snappy" if n % 2 else "redflag"
        rows.append(
            Connection(
                name=name,
                provider=provider,
                base_url=f"https://{provider}.invalid/api",
                secret=SealedSecret.seal(f"bench-secret-{n:04d}-not-real"),
                secret_hint="real",
            )
        )
    Connection.objects.bulk_create(rows)
    return list(
        Connection.objects.filter(name__startswith=PREFIX)
        .exclude(name=DEEP_CONNECTION)
        .order_by("name")
    )


def deep_job():
    """The push of a million items (5 % failed), generated on first use; its job."""
    from django.db import connection as db
    from django.db import transaction
    from django.utils import timezone

    from integrations.crypto import SealedSecret
    from integrations.models import Connection, SyncItem, SyncJob

    connection, _ = Connection.objects.get_or_create(
        name=DEEP_CONNECTION,
        defaults={
            "provider": "snappy",
            "base_url": "https://snappy.invalid/api",
            "secret": SealedSecret.seal("bench-secret-deep-not-real"),
            "secret_hint": "real",
        },
    )
    job = SyncJob.objects.filter(connection=connection).first()
    if job is not None and job.items.count() == DEEP_ITEMS:
        print(f"Reusing the job of {DEEP_ITEMS} items already there")
        return job
    print(f"Generating one job of {DEEP_ITEMS} items ...")
    started = time.perf_counter()
    SyncJob.objects.filter(connection=connection).delete()
    created = timezone.now() - dt.timedelta(hours=1)
    job = SyncJob.objects.create(
        connection=connection,
        connection_name=connection.name,
        provider=connection.provider,
        kind="push",
        status="partially_failed",
        source="import",
        source_label="bench deep",
        started_by_name="ada",
        created_at=created,
        started_at=created,
        finished_at=created + dt.timedelta(minutes=40),
    )
    items_table, jobs_table = SyncItem._meta.db_table, SyncJob._meta.db_table
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            ITEMS_SQL.format(table=items_table),
            {
                "job_ids": [job.pk],
                "sizes": [DEEP_ITEMS],
                "statuses": ["partially_failed"],
                "created": [created],
            },
        )
        cursor.execute(COUNTS_SQL.format(jobs=jobs_table, items=items_table), {"job_ids": [job.pk]})
    with db.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {items_table}")
    print(f"  {DEEP_ITEMS} items in {time.perf_counter() - started:.1f} s")
    job.refresh_from_db()
    return job


def data_present(connections) -> bool:
    from integrations.models import SyncItem, SyncJob

    jobs = SyncJob.objects.filter(connection__in=connections)
    if jobs.count() != JOBS:
        return False
    return SyncItem.objects.filter(job__in=jobs).count() == ITEMS


def delete_data(connections) -> None:
    from django.db import connection as db

    from integrations.models import SyncItem, SyncJob

    ids = [c.pk for c in connections]
    with db.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SyncItem._meta.db_table} WHERE job_id IN "  # noqa: S608
            f"(SELECT id FROM {SyncJob._meta.db_table} WHERE connection_id = ANY(%s))",
            [ids],
        )
        cursor.execute(
            f"DELETE FROM {SyncJob._meta.db_table} WHERE connection_id = ANY(%s)",  # noqa: S608
            [ids],
        )


# Job columns: how each is generated. ``s`` is the row of the generating subquery (g, kind,
# status, created_at). A column not listed gets its model default, so a field added later does
# not break the benchmark.
JOB_COLUMNS = {
    "connection_id": "(%(conn_ids)s::bigint[])[1 + s.g %% %(n_conn)s]",
    "connection_name": "(%(conn_names)s::text[])[1 + s.g %% %(n_conn)s]",
    "provider": "(%(conn_providers)s::text[])[1 + s.g %% %(n_conn)s]",
    "kind": "s.kind",
    "status": "s.status",
    "source": (
        "CASE WHEN s.kind = 'retry' THEN 'retry' WHEN s.kind = 'pull' THEN 'schedule' "
        "ELSE (ARRAY['import', 'page', 'command'])[1 + s.g %% 3] END"
    ),
    "source_label": "'bench'",
    "started_by_id": "NULL",
    "started_by_name": (
        "CASE WHEN s.kind = 'pull' THEN 'system' "
        "ELSE (ARRAY['ada', 'sam', 'mia', 'olu'])[1 + s.g %% 4] END"
    ),
    "retry_of_id": "NULL",
    "created_at": "s.created_at",
    "started_at": "CASE WHEN s.status = 'queued' THEN NULL ELSE s.created_at + interval '2 s' END",
    "finished_at": (
        "CASE WHEN s.status IN ('queued', 'running') THEN NULL "
        "ELSE s.created_at + make_interval(secs => 5 + (s.g * 37) %% 900) END"
    ),
    "heartbeat_at": "CASE WHEN s.status = 'queued' THEN NULL ELSE s.created_at END",
    "cancel_requested": "s.status = 'cancelled'",
    "pause_requested": "false",
    "deliveries": "CASE WHEN s.status = 'queued' THEN 0 ELSE 1 END",
    "error_code": "CASE WHEN s.status = 'failed' THEN 'Unauthorized:401' ELSE '' END",
    "error_message": (
        "CASE WHEN s.status = 'failed' THEN 'The provider refused the credentials: "
        "Invalid token. Nothing more was sent.' ELSE '' END"
    ),
    "acknowledged_at": "NULL",
    "acknowledged_by_id": "NULL",
    "acknowledgement": "''",
}

JOBS_SQL = """
INSERT INTO {table} ({columns})
SELECT {values}
FROM (
    SELECT g,
        CASE WHEN g %% 10 < 6 THEN 'push' WHEN g %% 10 < 9 THEN 'pull' ELSE 'retry' END AS kind,
        CASE WHEN g <= 3 THEN 'running' WHEN g <= 5 THEN 'queued'
             WHEN (g * 37) %% 100 < 72 THEN 'succeeded'
             WHEN (g * 37) %% 100 < 87 THEN 'partially_failed'
             WHEN (g * 37) %% 100 < 94 THEN 'failed'
             ELSE 'cancelled' END AS status,
        now() - g * interval '105 minutes' AS created_at
    FROM generate_series(1, %(jobs)s) AS g
) AS s
"""

ITEMS_SQL = """
INSERT INTO {table} (job_id, seq, identifier, operation, payload, remote_id, status, outcome,
                     attempts, needs_check, http_status, error_code, error_message, claimed_by,
                     claimed_at, started_at, finished_at, retry_of_id)
SELECT job_id, seq, identifier, operation,
       jsonb_build_object('email', identifier, 'firstName', 'Person', 'lastName', seq::text),
       CASE WHEN status = 'succeeded' THEN substr(md5(identifier), 1, 24) ELSE '' END,
       status,
       CASE WHEN status <> 'succeeded' THEN ''
            WHEN operation = 'create' THEN 'created'
            WHEN operation = 'update' THEN 'updated' ELSE 'deleted' END,
       CASE WHEN status IN ('pending', 'skipped') THEN 0 ELSE 1 END,
       false,
       CASE WHEN status = 'succeeded' THEN 200 WHEN status = 'failed' THEN 422 END,
       CASE WHEN status = 'failed' THEN 'Invalid:validation' ELSE '' END,
       CASE WHEN status = 'failed' THEN 'The provider refused the record: email is not valid.'
            WHEN status = 'skipped' THEN 'Not sent: the job stopped.' ELSE '' END,
       CASE WHEN status = 'in_flight' THEN 'bench:1:1' ELSE '' END,
       CASE WHEN status = 'in_flight' THEN now() END,
       CASE WHEN status IN ('succeeded', 'failed') THEN created_at END,
       CASE WHEN status IN ('succeeded', 'failed') THEN created_at + interval '1 s' END,
       NULL
FROM (
    SELECT p.job_id, s.seq, p.created_at,
           'person' || p.job_id || '-' || s.seq || '@example.com' AS identifier,
           CASE WHEN s.seq %% 10 < 7 THEN 'create'
                WHEN s.seq %% 10 < 9 THEN 'update' ELSE 'delete' END AS operation,
           CASE p.status
               WHEN 'succeeded' THEN 'succeeded'
               WHEN 'partially_failed' THEN
                   CASE WHEN s.seq %% 20 = 7 THEN 'failed' ELSE 'succeeded' END
               WHEN 'failed' THEN CASE WHEN s.seq < 3 THEN 'failed' ELSE 'skipped' END
               WHEN 'cancelled' THEN
                   CASE WHEN s.seq < p.n / 2 THEN 'succeeded' ELSE 'skipped' END
               WHEN 'running' THEN
                   CASE WHEN s.seq < p.n / 2 THEN 'succeeded'
                        WHEN s.seq < p.n / 2 + 16 THEN 'in_flight' ELSE 'pending' END
               ELSE 'pending' END AS status
    FROM (
        SELECT unnest(%(job_ids)s::bigint[]) AS job_id, unnest(%(sizes)s::int[]) AS n,
               unnest(%(statuses)s::text[]) AS status,
               unnest(%(created)s::timestamptz[]) AS created_at
    ) AS p
    CROSS JOIN LATERAL generate_series(0, p.n - 1) AS s(seq)
) AS i
"""

COUNTS_SQL = """
UPDATE {jobs} AS j SET
    total = c.total, n_succeeded = c.succeeded, n_failed = c.failed, n_skipped = c.skipped,
    n_created = c.created, n_updated = c.updated, n_deleted = c.deleted
FROM (
    SELECT job_id, count(*) AS total,
           count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'skipped') AS skipped,
           count(*) FILTER (WHERE outcome = 'created') AS created,
           count(*) FILTER (WHERE outcome = 'updated') AS updated,
           count(*) FILTER (WHERE outcome = 'deleted') AS deleted
    FROM {items} WHERE job_id = ANY(%(job_ids)s) GROUP BY job_id
) AS c
WHERE j.id = c.job_id
"""


def item_plan(jobs: list[tuple[int, str, dt.datetime]]) -> list[tuple[int, int, str, dt.datetime]]:
    """(job id, items, status, created) for every push and retry job: ten big recent
    partially failed pushes of 50,000 items, the other 500,000 items spread evenly."""
    big = [job for job in jobs if job[1] == "partially_failed"][:BIG_JOBS]
    big_ids = {job[0] for job in big}
    rest = [job for job in jobs if job[0] not in big_ids]
    left = ITEMS - BIG_JOBS * BIG_JOB_ITEMS
    share, extra = divmod(left, len(rest))
    plan = [(pk, BIG_JOB_ITEMS, status, created) for pk, status, created in big]
    plan += [
        (pk, share + (1 if n < extra else 0), status, created)
        for n, (pk, status, created) in enumerate(rest)
    ]
    return plan


def generate(connections) -> None:
    from django.db import connection as db
    from django.db import transaction

    from integrations.models import SyncItem, SyncJob

    jobs_table, items_table = SyncJob._meta.db_table, SyncItem._meta.db_table
    columns, values, params = [], [], {}
    for field in SyncJob._meta.concrete_fields:
        if field.primary_key:
            continue
        column = field.column
        assert column is not None  # a concrete field has one
        columns.append(column)
        if column in JOB_COLUMNS:
            values.append(JOB_COLUMNS[column])
        else:
            params[f"default_{column}"] = field.get_db_prep_save(field.get_default(), db)
            values.append(f"%(default_{column})s")
    params |= {
        "jobs": JOBS,
        "n_conn": len(connections),
        "conn_ids": [c.pk for c in connections],
        "conn_names": [c.name for c in connections],
        "conn_providers": [c.provider for c in connections],
    }
    started = time.perf_counter()
    with transaction.atomic(), db.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            JOBS_SQL.format(table=jobs_table, columns=", ".join(columns), values=", ".join(values)),
            params,
        )
        cursor.execute(
            f"SELECT id, status, created_at FROM {jobs_table} "  # noqa: S608
            "WHERE connection_id = ANY(%s) AND kind <> 'pull' ORDER BY created_at DESC",
            [params["conn_ids"]],
        )
        plan = item_plan(cursor.fetchall())
        print(f"  {JOBS} jobs in {time.perf_counter() - started:.1f} s")
        cursor.execute(
            ITEMS_SQL.format(table=items_table),
            {
                "job_ids": [p[0] for p in plan],
                "sizes": [p[1] for p in plan],
                "statuses": [p[2] for p in plan],
                "created": [p[3] for p in plan],
            },
        )
        print(f"  {cursor.rowcount} items in {time.perf_counter() - started:.1f} s")
        cursor.execute(
            COUNTS_SQL.format(jobs=jobs_table, items=items_table),
            {"job_ids": [p[0] for p in plan]},
        )
        cursor.execute(
            f"UPDATE {jobs_table} SET total = 480 + id %% 40, n_succeeded = 480 + id %% 40 "  # noqa: S608
            "WHERE connection_id = ANY(%s) AND kind = 'pull' AND status = 'succeeded'",
            [params["conn_ids"]],
        )
    with db.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {jobs_table}")
        cursor.execute(f"VACUUM ANALYZE {items_table}")
    print(f"  counters and ANALYZE done in {time.perf_counter() - started:.1f} s")


# -- measuring --------------------------------------------------------------------------------
class QueryTimer:
    """A database execute wrapper: the SQL, parameters and time of every query of a request."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params))


def measure(client, urls: list[str], requests: int) -> dict:
    """Time ``requests`` GETs spread over ``urls`` (after one warm-up each)."""
    from django.db import connection as db

    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}; is the page built?")
    times: list[float] = []
    per_url: dict[str, list[float]] = defaultdict(list)
    query_counts: list[int] = []
    # Each query's times by its SQL text; the slowest is the one with the highest median, so
    # a single pause (a garbage collection) does not pick a query that is fast.
    by_sql: dict[str, list[float]] = defaultdict(list)
    example: dict[str, tuple[object, str]] = {}
    for n in range(requests):
        url = urls[n % len(urls)]
        timer = QueryTimer()
        with db.execute_wrapper(timer):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        times.append(elapsed)
        per_url[url].append(elapsed)
        query_counts.append(len(timer.queries))
        for seconds, sql, params in timer.queries:
            by_sql[sql].append(seconds * 1000)
            example.setdefault(sql, (params, url))
    ranked = sorted(by_sql, key=lambda sql: statistics.median(by_sql[sql]), reverse=True)
    return {
        "p50": statistics.median(times),
        "p95": statistics.quantiles(times, n=20, method="inclusive")[18],
        "max": max(times),
        "requests": len(times),
        "per_url": {url: statistics.median(values) for url, values in per_url.items()},
        "queries": max(query_counts),
        "query_ms": sum(sum(values) for values in by_sql.values()) / len(times),
        "top_queries": [(statistics.median(by_sql[sql]), sql) for sql in ranked[:3]],
        "slowest_sql": ranked[0],
        "slowest_params": example[ranked[0]][0],
        "slowest_url": example[ranked[0]][1],
    }


def explain(sql: str, params) -> str:
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def item_filter_param(client, job_id: int) -> str:
    """The query parameter the job page filters its items by ("items" today).

    The page is new; find the parameter rather than measure an unfiltered page by mistake.
    """
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()  # the test client records the template context only in it
    try:
        for name in ("items", "status"):
            response = client.get(f"/jobs/{job_id}/?{name}=failed")
            context = response.context
            if context is not None and context.get("item_status") == "failed":
                return name
    finally:
        teardown_test_environment()
        from django.conf import settings

        if "testserver" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    raise SystemExit("The job page did not filter its items by ?items= or ?status=.")


def query_shape(sql: str, width: int = 260) -> str:
    """The query without its select list, which says nothing about its cost."""
    if sql.startswith("SELECT ") and " FROM " in sql:
        sql = "SELECT ... " + sql[sql.index(" FROM ") + 1 :]  # noqa: S608 (display only)
    return sql if len(sql) <= width else sql[: width - 3] + "..."


def report(title: str, result: dict) -> None:
    verdict = "meets" if result["p95"] < TARGET_MS else "MISSES"
    print(
        f"{title}: p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, max "
        f"{result['max']:.1f} ms over {result['requests']} requests ({verdict} the "
        f"{TARGET_MS:g} ms target); up to {result['queries']} queries per request"
    )
    for url, median in result["per_url"].items():
        print(f"    {median:7.1f} ms  {url}")
    print(f"  database time per request (mean): {result['query_ms']:.1f} ms")
    print("  slowest queries (median):")
    for median, sql in result["top_queries"]:
        print(f"    {median:7.2f} ms  {query_shape(sql)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the bench's rows")
    parser.add_argument("--cleanup", action="store_true", help="delete the bench's rows after")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the slowest queries")
    args = parser.parse_args()
    machine = _machine.describe()
    print(_machine.line(machine))

    url = database_url()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as var_dir:
        setup_django(url, var_dir)
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.db import connection as db
        from django.test import Client
        from django.utils import timezone

        from dashboard.accounts.services import roles_ensure
        from integrations.models import Connection, SyncJob

        major = db.get_database_version()[0]
        print(f"History pages on PostgreSQL {major} ({db.settings_dict['NAME']})")
        connections = bench_connections()
        if args.regenerate or not data_present(connections):
            print(f"Generating {JOBS} jobs and {ITEMS} items ...")
            delete_data(connections)
            generate(connections)
        else:
            print(f"Reusing the {JOBS} jobs and {ITEMS} items already there (--regenerate)")

        roles_ensure()
        admin, _ = get_user_model().objects.get_or_create(username="bench-history-admin")
        admin.groups.set([Group.objects.get(name="admin")])
        client = Client()
        client.force_login(admin)

        jobs = SyncJob.objects.filter(connection__in=connections)
        big = list(jobs.filter(total=BIG_JOB_ITEMS).values_list("pk", flat=True)[:BIG_JOBS])
        small = list(
            jobs.filter(status="partially_failed", total__lt=1000).values_list("pk", flat=True)[
                :BIG_JOBS
            ]
        )
        today = timezone.localdate()
        list_urls = [
            "/jobs/",
            "/jobs/?page=40",
            f"/jobs/?connection={connections[3].pk}",
            "/jobs/?status=failed",
            "/jobs/?status=partially_failed&kind=push",
            f"/jobs/?since={today - dt.timedelta(days=30)}&until={today}",
            "/jobs/?started_by=sam&kind=retry",
            "/jobs/?sort=failed",
            "/jobs/?sort=longest",
            "/jobs/?sort=oldest&page=3",
        ]
        param = item_filter_param(client, big[0])
        item_urls = []
        for pk in big:
            item_urls += [f"/jobs/{pk}/?{param}=failed", f"/jobs/{pk}/?{param}=failed&after=40000"]
        item_urls += [f"/jobs/{pk}/?{param}=failed" for pk in small]
        # The last and deep pages of one job of a million items, every record and failed only.
        deep = deep_job()
        deep_urls = [
            f"/jobs/{deep.pk}/?page=last",
            f"/jobs/{deep.pk}/?{param}=failed&page=last",
            f"/jobs/{deep.pk}/?after=987654",
            f"/jobs/{deep.pk}/?{param}=failed&after=987654",
            f"/jobs/{deep.pk}/?before=999900",
            f"/jobs/{deep.pk}/?{param}=succeeded&page=last",
        ]

        history = measure(client, list_urls, max(args.requests, 50))
        items = measure(client, item_urls, max(args.requests, 50))
        last = measure(client, deep_urls, max(args.requests, 60))
        print()
        report("GET /jobs/ (history list)", history)
        report(f"GET /jobs/<id>/?{param}=failed (a job's failed items)", items)
        report(f"GET /jobs/<id>/?page=last and deep pages ({DEEP_ITEMS:,} items)", last)
        for title, result in (
            ("history list", history),
            ("item page", items),
            ("last page", last),
        ):
            if args.explain or result["p95"] >= TARGET_MS:
                print(f"\nEXPLAIN of the slowest {title} query ({result['slowest_url']}):")
                print(result["slowest_sql"])
                print(explain(result["slowest_sql"], result["slowest_params"]))
        if args.cleanup:
            delete_data(connections)
            for connection in connections:
                connection.delete()
            deep.delete()  # its items go with it
            Connection.objects.filter(name=DEEP_CONNECTION).delete()
            print("Removed the benchmark's rows.")
        db.close()

    print(
        json.dumps(
            {
                "metric": METRIC,
                "machine": machine,
                "value": round(history["p95"], 2),
                "unit": "ms",
                "anchor": TARGET_MS,
                "ratio": round(history["p95"] / TARGET_MS, 4),
                "target": 1.0,
                "better": "lower",
                "history_list_p50_ms": round(history["p50"], 2),
                "history_list_queries": history["queries"],
                "item_page_p95_ms": round(items["p95"], 2),
                "item_page_p50_ms": round(items["p50"], 2),
                "item_page_ratio": round(items["p95"] / TARGET_MS, 4),
                "item_page_queries": items["queries"],
                "last_page_p95_ms": round(last["p95"], 2),
                "last_page_p50_ms": round(last["p50"], 2),
                "last_page_ratio": round(last["p95"] / TARGET_MS, 4),
                "last_page_queries": last["queries"],
                "deep_job_items": DEEP_ITEMS,
                "requests_per_page": history["requests"],
                "jobs": JOBS,
                "items": ITEMS,
            }
        )
    )


if __name__ == "__main__":
    main()
