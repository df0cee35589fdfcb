"""Benchmark: sync engine throughput against the sandbox, at Snappy's limit and unlimited.

Run: ``.venv/bin/python bench/sync_throughput.py [--records 5000] [--concurrency 16]``

Sets Django up itself (``dashboard.settings``, ``DEBUG=true``, a fresh SQLite database in a
temporary ``VAR_DIR``; PostgreSQL or Redis instead if ``DATABASE_URL`` or
``CELERY_BROKER_URL`` are set), migrates, starts the provider sandbox in this process with
50 ms added latency on every provider, and creates one Snappy and one RedFlag connection.

1. Snappy engine: ``--records`` creates as one push job, run by the engine in this process
   (``job_execute`` with ``SYNC_CONCURRENCY`` = ``--concurrency``; the same code a Celery
   worker runs, without the queue hop). Achieved creates/second against the provider's limit
   of 100 requests/second (target ratio >= 0.9). The sandbox counts every Snappy request
   against that limit, so the 429s it had to send are reported too (ideally none).
2. Naive loop: one ``create_recipient`` at a time through the same connection's client.
   Only ``--naive-sample`` records are timed (a full run would take minutes); the time for
   ``--records`` is extrapolated from that rate. Prints the engine's speed-up over it.
3. RedFlag engine (no provider limit): ``--records`` creates with the same concurrency;
   achieved rate against the bound ``concurrency / latency`` (16 / 50 ms = 320/s).
4. Real Celery workers (only with PostgreSQL and Redis: ``DATABASE_URL`` and
   ``CELERY_BROKER_URL``), ``--worker-latency-ms`` (20 ms) on every provider: one RedFlag job
   of ``--worker-records`` creates spread over 1 and then 3 worker processes (items/s from the
   job's start to its end; target >= 1,000/s with 3: the engine, not the provider, is the
   bound), and one Snappy job over 3 workers (creates/s against the 100/s limit, target
   >= 0.9, with the 429s the sandbox sent). Each worker process runs one execution of the
   job with ``--concurrency`` calls at a time.

Duplicates are counted from the sandbox's own create counters (every identifier must have
been created exactly once), and every job must end "succeeded" with all its items created.
The sandbox, the engine and the database share this process and its cores, so the figures
are a floor for a worker talking to a remote provider. The job's items are written to the
database as they finish, exactly as in production.

The last line printed is one JSON object (metric, value, unit, anchor, ratio, target, ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _machine  # noqa: E402 - needs ROOT on sys.path

SNAPPY_LIMIT = 100.0  # requests/second per company (CONTRACT-NOTES "Snappy")
TARGET_RATIO = 0.9


def setup_django(var_dir: str, concurrency: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ["DEBUG"] = "true"
    os.environ["VAR_DIR"] = var_dir
    os.environ["SYNC_CONCURRENCY"] = str(concurrency)
    os.environ["ALLOW_LOOPBACK_PROVIDER_URLS"] = "true"
    # Jobs run in this process; their queue messages go to a queue no worker listens to.
    os.environ["CELERY_QUEUE"] = f"bench-sync-{os.getpid()}"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The clients log every 429 and retry; the sandbox's counters report them instead.
    logging.getLogger("integrations").setLevel(logging.WARNING)
    # DEBUG was only needed for the development secrets; the query log it keeps is not
    # something a production worker pays for.
    settings.DEBUG = False


def create_connections(sandbox, tag: str):
    from dashboard.connections.services import connection_create, field_setting_set
    from integrations.catalogue import Provider

    creds = sandbox.credentials
    snappy = connection_create(
        name=f"Bench Snappy {tag}",
        provider=Provider.SNAPPY,
        environment="staging",
        base_url=sandbox.base_urls["snappy"],
        secret=creds["snappy"]["api_key"],
        options={"company_id": creds["snappy"]["company_id"]},
        user=None,
    )
    for path in ("country", "accounts"):  # required on create, off by default
        field_setting_set(connection=snappy, path=path, enabled=True, user=None)
    redflag = connection_create(
        name=f"Bench RedFlag {tag}",
        provider=Provider.REDFLAG,
        environment="staging",
        base_url=sandbox.base_urls["redflag"],
        secret=creds["redflag"]["token"],
        options={"location_id": creds["redflag"]["location_id"]},
        user=None,
    )
    return snappy, redflag


def snappy_records(n: int, tag: str, account: str, start: int = 0) -> list[dict]:
    return [
        {
            "identifier": f"bench-s{i}-{tag}@example.com",
            "operation": "create",
            "payload": {
                "firstName": f"Bench{i}",
                "lastName": "Snappy",
                "email": f"bench-s{i}-{tag}@example.com",
                "country": "GB",
                "accounts": [account],
            },
        }
        for i in range(start, start + n)
    ]


def redflag_records(n: int, tag: str) -> list[dict]:
    return [
        {
            "identifier": f"bench-r{i}-{tag}@example.com",
            "operation": "create",
            "payload": {
                "email": f"bench-r{i}-{tag}@example.com",
                "firstName": f"Bench{i}",
                "lastName": "RedFlag",
            },
        }
        for i in range(n)
    ]


def sandbox_tally(sandbox, provider: str, records: list[dict]) -> dict:
    """Requests, 429s and duplicate/missing creates, from the sandbox's own counters."""
    counters = sandbox.counters()
    requests = {k: n for k, n in counters["requests"].items() if k.startswith(provider + " ")}
    creates = counters["creates"][provider]
    wanted = [r["identifier"].lower() for r in records]
    return {
        "requests": sum(requests.values()),
        "http_429": sum(n for k, n in requests.items() if k.endswith(" 429")),
        "duplicates": sum(max(creates.get(i, 0) - 1, 0) for i in wanted),
        "missing": sum(1 for i in wanted if not creates.get(i)),
        "in_flight_max": counters["in_flight_max"],
    }


def run_engine_push(sandbox, connection, records: list[dict], provider: str) -> dict:
    from integrations.models import JobSource, JobStatus
    from integrations.sync.engine import job_execute
    from integrations.sync.services import job_create_push

    job = job_create_push(
        connection=connection,
        records=records,
        source=JobSource.COMMAND,
        source_label="bench/sync_throughput.py",
    )
    sandbox.reset()  # zero the counters and the rate window; data and latency stay
    time.sleep(1.1)  # let the provider's one-second window drain before timing
    started = time.perf_counter()
    job_execute(job.pk, worker="bench")
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    tally = sandbox_tally(sandbox, provider, records)
    if job.status != JobStatus.SUCCEEDED or job.n_created != len(records):
        raise SystemExit(
            f"The {provider} job did not create every record: {job.status}, "
            f"{job.n_created}/{len(records)} created, {job.n_failed} failed "
            f"({job.error_message or 'see the items'})."
        )
    return {
        "job": job.pk,
        "elapsed": elapsed,
        "rate": len(records) / elapsed,
        "request_rate": tally["requests"] / elapsed,
        **tally,
    }


def run_naive(sandbox, connection, records: list[dict]) -> dict:
    """One request at a time, through the client the engine would build."""
    from integrations.connection import connection_recipient_client

    client = connection_recipient_client(connection)
    sandbox.reset()
    time.sleep(1.1)
    started = time.perf_counter()
    for record in records:
        client.create_recipient(record["payload"])
    elapsed = time.perf_counter() - started
    client.close()
    tally = sandbox_tally(sandbox, "snappy", records)
    return {"elapsed": elapsed, "rate": len(records) / elapsed, **tally}


def cleanup(connections) -> None:
    """Leave an external database as it was (a temporary SQLite file simply goes away)."""
    from integrations.models import SyncJob

    for connection in connections:
        SyncJob.objects.filter(connection=connection).delete()
        connection.delete()


def purge_bench_queue() -> None:
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return  # the broker folder is in the temporary VAR_DIR
    from kombu import Queue

    from dashboard.celery import app

    routes = getattr(settings, "CELERY_TASK_ROUTES", {})
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *(r["queue"] for r in routes.values())}
    with app.connection_for_write() as connection:
        for name in names:
            Queue(name, channel=connection.default_channel).purge()


def all_queues() -> str:
    from django.conf import settings

    routes = getattr(settings, "CELERY_TASK_ROUTES", {})
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *(r["queue"] for r in routes.values())}
    return ",".join(sorted(names))


def start_workers(n: int) -> list[subprocess.Popen[bytes]]:
    """Start ``n`` Celery worker processes on this run's queues; wait until each answers."""
    from dashboard.celery import app

    env = {**os.environ, "SYNC_SLOTS_PER_JOB": str(n)}
    argv = [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--pool", "threads",
            "--concurrency", "1", "--queues", all_queues(), "--without-gossip",
            "--without-mingle", "--loglevel", "WARNING"]  # fmt: skip
    processes = [
        subprocess.Popen(
            [*argv, "--hostname", f"bench-{os.getpid()}-{i}@%h"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        mine = [r for r in replies if any(k.startswith(f"bench-{os.getpid()}-") for k in r)]
        if len(mine) >= n:
            return processes
    stop_workers(processes)
    raise SystemExit(f"{n} Celery workers did not answer within 60 seconds.")


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_worker_push(sandbox, connection, records: list[dict], provider: str, workers: int) -> dict:
    """One push job spread over ``workers`` real worker processes; items/s start to end."""
    from integrations.models import JobSource, JobStatus, SyncJob
    from integrations.sync.services import job_create_push

    processes = start_workers(workers)
    try:
        sandbox.reset()
        time.sleep(1.1)  # let the provider's one-second window drain
        job = job_create_push(
            connection=connection,
            records=records,
            source=JobSource.COMMAND,
            source_label="bench/sync_throughput.py (workers)",
            workers=workers,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.is_finished:
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"The {provider} job over {workers} workers did not finish.")
    finally:
        stop_workers(processes)
    job = SyncJob.objects.get(pk=job.pk)
    if job.status != JobStatus.SUCCEEDED or job.n_created != len(records):
        raise SystemExit(
            f"The {provider} job over {workers} workers did not create every record: "
            f"{job.status}, {job.n_created}/{len(records)}."
        )
    assert job.started_at is not None and job.finished_at is not None
    elapsed = (job.finished_at - job.started_at).total_seconds()
    claimed_by = {c.rsplit(":", 1)[0] for c in job.items.values_list("claimed_by", flat=True)}
    return {
        "job": job.pk,
        "elapsed": elapsed,
        "rate": len(records) / elapsed,
        "processes": len(claimed_by),
        **sandbox_tally(sandbox, provider, records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--worker-records", type=int, default=3000)
    parser.add_argument("--worker-latency-ms", type=float, default=20.0)
    parser.add_argument("--skip-engine", action="store_true", help="Only the worker runs.")
    args = parser.parse_args()
    machine = _machine.describe()
    print(_machine.line(machine))

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as var_dir:
        setup_django(var_dir, args.concurrency)
        from django.conf import settings
        from django.db import connection as db

        from integrations.sandbox.server import Faults, SandboxConfig, SandboxServer

        config = SandboxConfig(faults=Faults(latency_ms=args.latency_ms))
        sandbox = SandboxServer(host="127.0.0.1", port=0, seed=20, random_seed=7, config=config)
        sandbox.start()
        tag = uuid.uuid4().hex[:8]
        snappy, redflag = create_connections(sandbox, tag)
        account = sandbox.state()["snappy"]["accounts"][0]["id"]
        database = db.vendor
        broker = settings.CELERY_BROKER_URL.split(":", 1)[0]
        print(
            f"Sync engine throughput: {args.records} creates per job, concurrency "
            f"{args.concurrency}, {args.latency_ms:g} ms added latency; database {database}, "
            f"broker {broker} (jobs run in this process)"
        )
        workers_possible = database == "postgresql" and broker == "redis"
        with_workers: dict[str, dict] = {}
        try:
            if not args.skip_engine:
                snappy_result = run_engine_push(
                    sandbox, snappy, snappy_records(args.records, tag, account), "snappy"
                )
                naive = run_naive(
                    sandbox,
                    snappy,
                    snappy_records(args.naive_sample, tag, account, start=args.records),
                )
                redflag_result = run_engine_push(
                    sandbox, redflag, redflag_records(args.records, tag), "redflag"
                )
            if workers_possible:
                sandbox.configure(faults={"latency_ms": args.worker_latency_ms})
                for n in (1, 3):
                    with_workers[f"redflag_{n}"] = run_worker_push(
                        sandbox,
                        redflag,
                        redflag_records(args.worker_records, f"w{n}{tag}"),
                        "redflag",
                        n,
                    )
                with_workers["snappy_3"] = run_worker_push(
                    sandbox,
                    snappy,
                    snappy_records(args.worker_records // 2, f"w3{tag}", account),
                    "snappy",
                    3,
                )
            else:
                print("  Worker runs skipped: they need PostgreSQL and Redis.")
        finally:
            sandbox.stop()
            if os.environ.get("DATABASE_URL"):
                cleanup([snappy, redflag])
            purge_bench_queue()
            db.close()

    workers_summary = print_worker_runs(with_workers, args)
    if args.skip_engine:
        print(
            json.dumps({"metric": "redflag_rate_3_workers", "machine": machine, **workers_summary})
        )
        return
    snappy_ratio = snappy_result["rate"] / SNAPPY_LIMIT
    naive_total = args.records / naive["rate"]
    speedup = snappy_result["rate"] / naive["rate"]
    redflag_bound = args.concurrency / (args.latency_ms / 1000)
    redflag_ratio = redflag_result["rate"] / redflag_bound
    duplicates = snappy_result["duplicates"] + redflag_result["duplicates"] + naive["duplicates"]
    missing = snappy_result["missing"] + redflag_result["missing"]

    rows = [
        ("run", "records", "seconds", "creates/s", "anchor", "ratio", "requests", "429s"),
        (
            "Snappy, engine",
            args.records,
            f"{snappy_result['elapsed']:.1f}",
            f"{snappy_result['rate']:.1f}",
            f"{SNAPPY_LIMIT:g}/s limit",
            f"{snappy_ratio:.3f}",
            snappy_result["requests"],
            snappy_result["http_429"],
        ),
        (
            "Snappy, naive loop",
            f"{args.naive_sample} timed",
            f"{naive['elapsed']:.1f} (~{naive_total:.0f} for {args.records})",
            f"{naive['rate']:.1f}",
            "",
            "",
            naive["requests"],
            naive["http_429"],
        ),
        (
            "RedFlag, engine",
            args.records,
            f"{redflag_result['elapsed']:.1f}",
            f"{redflag_result['rate']:.1f}",
            f"{redflag_bound:g}/s = C/latency",
            f"{redflag_ratio:.3f}",
            redflag_result["requests"],
            redflag_result["http_429"],
        ),
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  "
            + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        )
    print(
        f"  Snappy engine vs the {SNAPPY_LIMIT:g}/s limit: {snappy_ratio:.3f} "
        f"(target >= {TARGET_RATIO}); all Snappy requests: {snappy_result['request_rate']:.1f}/s"
    )
    print(
        f"  Speed-up over the naive loop: {speedup:.1f}x (naive rate measured on "
        f"{args.naive_sample} records and extrapolated to {args.records}: ~{naive_total:.0f} s)"
    )
    print(
        f"  Duplicates: {duplicates}, missing: {missing} (sandbox create counters); "
        f"most requests in flight at once: Snappy {snappy_result['in_flight_max']}, "
        f"RedFlag {redflag_result['in_flight_max']}"
    )
    print(
        json.dumps(
            {
                "metric": "snappy_push_rate_vs_limit",
                "machine": machine,
                "value": round(snappy_result["rate"], 2),
                "unit": "creates/s",
                "anchor": SNAPPY_LIMIT,
                "ratio": round(snappy_ratio, 4),
                "target": TARGET_RATIO,
                "snappy_requests_per_s": round(snappy_result["request_rate"], 2),
                "snappy_http_429": snappy_result["http_429"],
                "naive_rate": round(naive["rate"], 2),
                "naive_sample": args.naive_sample,
                "naive_extrapolated_s": round(naive_total, 1),
                "speedup_vs_naive": round(speedup, 2),
                "redflag_rate": round(redflag_result["rate"], 2),
                "redflag_bound": redflag_bound,
                "redflag_ratio": round(redflag_ratio, 4),
                "redflag_http_429": redflag_result["http_429"],
                "duplicates": duplicates,
                "missing": missing,
                "records": args.records,
                "concurrency": args.concurrency,
                "latency_ms": args.latency_ms,
                "database": database,
                **workers_summary,
            }
        )
    )


WORKERS_TARGET = 1000.0  # items/s of one RedFlag job over 3 workers (issue 16)


def print_worker_runs(runs: dict[str, dict], args: argparse.Namespace) -> dict:
    """Print the real-worker runs; return their figures for the JSON line."""
    if not runs:
        return {}
    print(
        f"  Real Celery workers, {args.worker_latency_ms:g} ms latency, one job each, "
        f"concurrency {args.concurrency} per worker:"
    )
    for name, r in runs.items():
        provider, n = name.split("_")
        anchor = (
            f"{r['rate'] / SNAPPY_LIMIT:.3f} of the {SNAPPY_LIMIT:g}/s limit"
            if provider == "snappy"
            else f"{r['rate'] / WORKERS_TARGET:.3f} of {WORKERS_TARGET:g}/s"
        )
        print(
            f"    {provider:<8} {n} worker{'s' if n != '1' else ' '}: {r['rate']:7.1f} items/s "
            f"({anchor}); {r['elapsed']:.1f} s; {r['requests']} requests, {r['http_429']} 429s; "
            f"sent by {r['processes']} process(es); duplicates {r['duplicates']}, "
            f"missing {r['missing']}"
        )
    summary: dict = {}
    for name, r in runs.items():
        summary[f"{name}_workers_rate"] = round(r["rate"], 1)
        summary[f"{name}_workers_http_429"] = r["http_429"]
    if "redflag_3" in runs:
        summary |= (
            {
                "value": round(runs["redflag_3"]["rate"], 1),
                "unit": "items/s",
                "anchor": WORKERS_TARGET,
                "ratio": round(runs["redflag_3"]["rate"] / WORKERS_TARGET, 4),
                "target": 1.0,
            }
            if args.skip_engine
            else {}
        )
    if "snappy_3" in runs:
        summary["snappy_3_workers_ratio"] = round(runs["snappy_3"]["rate"] / SNAPPY_LIMIT, 4)
    return summary


if __name__ == "__main__":
    main()
