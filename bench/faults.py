"""Benchmark: outcomes under faults, proven by the provider's own records.

Run: ``.venv/bin/python bench/faults.py [--records 1000] [--concurrency 16]``

Sets Django up itself like ``bench/sync_throughput.py`` (a fresh SQLite database in a
temporary ``VAR_DIR``; PostgreSQL and Redis instead if ``DATABASE_URL`` and
``CELERY_BROKER_URL`` are set) and starts the provider sandbox in this process with 10 % each
of 429, 5xx (500, 502, 503), timeouts, dropped connections and malformed replies on every
request (half the requests fail). For RedFlag and for Snappy, ``--records`` creates run as one
push job through the engine in this process (``job_execute``, the code a worker runs), with
no manual retry. Then, per provider, from the sandbox's create tally:

- lost: a record with no final outcome (still pending or in flight);
- duplicated: a record the provider created more than once;
- misreported: an item failed, not sent or unknown whose record the provider holds, or an
  item succeeded whose record it lacks;
- succeeded without retry: the share of items succeeded in the one run (target >= 99.5 %).

Timeouts are kept short (the sandbox's ``timeout_seconds`` and the client's read timeout) so
the run takes well under a minute per provider. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _machine  # noqa: E402 - needs ROOT on sys.path

TARGET = 0.995
FAULTS = {
    "rate_429": 0.1,
    "rate_500": 0.034,
    "rate_502": 0.033,
    "rate_503": 0.033,
    "rate_timeout": 0.1,
    "rate_drop": 0.1,
    "rate_malformed": 0.1,
    "timeout_seconds": 0.6,
    "retry_after_seconds": 1,
}
CLIENT = {
    "read_timeout": 0.3,
    "backoff_base": 0.02,
    "backoff_cap": 0.2,
    "total_timeout": 10,
    "max_attempts": 5,
}


def setup_django(var_dir: str, concurrency: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ["DEBUG"] = "true"
    os.environ["VAR_DIR"] = var_dir
    os.environ["SYNC_CONCURRENCY"] = str(concurrency)
    os.environ["SYNC_CLIENT_OPTIONS"] = json.dumps(CLIENT)
    os.environ["SYNC_RETRY_BACKOFF_BASE"] = "0.05"
    os.environ["SYNC_RETRY_BACKOFF_CAP"] = "1"
    os.environ["ALLOW_LOOPBACK_PROVIDER_URLS"] = "true"
    os.environ["CELERY_QUEUE"] = f"bench-faults-{os.getpid()}"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    logging.getLogger("integrations").setLevel(logging.ERROR)
    settings.DEBUG = False


def records_for(provider: str, n: int, tag: str, account: str) -> list[dict]:
    rows = []
    for i in range(n):
        email = f"fault-{provider[0]}{i}-{tag}@example.com"
        payload: dict = {"email": email, "firstName": f"Fault{i}", "lastName": "Bench"}
        if provider == "snappy":
            payload.update(country="GB", accounts=[account])
        rows.append({"identifier": email, "operation": "create", "payload": payload})
    return rows


def figures(job, records: list[dict], creates: dict[str, int]) -> dict:
    from integrations.models import ItemStatus

    items = {item.identifier: item for item in job.items.all()}
    lost = duplicated = misreported = succeeded = 0
    for record in records:
        identifier = record["identifier"]
        held = creates.get(identifier.lower(), 0)
        item = items.get(identifier)
        if item is None or item.status in (ItemStatus.PENDING, ItemStatus.IN_FLIGHT):
            lost += 1
            continue
        duplicated += held > 1
        if item.status == ItemStatus.SUCCEEDED:
            succeeded += 1
            misreported += not held
        elif held:
            misreported += 1
    return {
        "lost": lost,
        "duplicated": duplicated,
        "misreported": misreported,
        "succeeded": succeeded,
        "failed": job.n_failed,
        "unknown": job.n_unknown,
        "share": succeeded / len(records),
    }


def run(sandbox, connection, records: list[dict], provider: str) -> dict:
    from integrations.models import JobSource
    from integrations.sync.engine import job_execute
    from integrations.sync.services import job_create_push

    job = job_create_push(
        connection=connection,
        records=records,
        source=JobSource.COMMAND,
        source_label="bench/faults.py",
        workers=1,
    )
    sandbox.reset()
    sandbox.configure(faults=FAULTS)
    started = time.perf_counter()
    job_execute(job.pk, worker="bench")
    elapsed = time.perf_counter() - started
    counters = sandbox.counters()
    sandbox.configure(faults={name: 0 for name in FAULTS if name.startswith("rate_")})
    job.refresh_from_db()
    result = figures(job, records, counters["creates"][provider])
    requests = {k: n for k, n in counters["requests"].items() if k.startswith(provider + " ")}
    faults = {
        kind: sum(n for k, n in requests.items() if k.endswith(" " + kind))
        for kind in ("429", "500", "502", "503", "timeout", "drop", "malformed")
    }
    return {
        **result,
        "elapsed": elapsed,
        "requests": sum(requests.values()),
        "faults": faults,
        "status": job.status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    machine = _machine.describe()
    print(_machine.line(machine))

    with tempfile.TemporaryDirectory(prefix="bench-faults-") as var_dir:
        setup_django(var_dir, args.concurrency)
        from django.db import connection as db

        from bench.sync_throughput import cleanup, create_connections, purge_bench_queue
        from integrations.sandbox.server import SandboxServer

        sandbox = SandboxServer(host="127.0.0.1", port=0, seed=20, random_seed=11)
        sandbox.start()
        tag = uuid.uuid4().hex[:8]
        snappy, redflag = create_connections(sandbox, tag)
        account = sandbox.state()["snappy"]["accounts"][0]["id"]
        print(
            f"Faults: {args.records} creates per provider, 10 % each of 429, 5xx, timeouts, "
            f"drops and malformed replies; concurrency {args.concurrency}; database "
            f"{db.vendor}"
        )
        results = {}
        try:
            for provider, connection in (("redflag", redflag), ("snappy", snappy)):
                records = records_for(provider, args.records, tag, account)
                results[provider] = run(sandbox, connection, records, provider)
        finally:
            sandbox.stop()
            if os.environ.get("DATABASE_URL"):
                cleanup([snappy, redflag])
            purge_bench_queue()
            db.close()

    header = ("provider", "lost", "duplicated", "misreported", "succeeded", "failed", "seconds")
    rows = [header]
    for provider, r in results.items():
        rows.append(
            (
                provider,
                r["lost"],
                r["duplicated"],
                r["misreported"],
                f"{r['succeeded']} ({100 * r['share']:.1f} %)",
                r["failed"],
                f"{r['elapsed']:.1f}",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    for provider, r in results.items():
        met = ", ".join(f"{kind} {n}" for kind, n in r["faults"].items())
        print(f"  {provider}: {r['requests']} requests; faults met: {met}")
    worst = min(r["share"] for r in results.values())
    print(
        json.dumps(
            {
                "metric": "fault_matrix_succeeded_without_retry",
                "machine": machine,
                "value": round(worst * 100, 2),
                "unit": "% succeeded (worst provider)",
                "anchor": 100,
                "ratio": round(worst, 4),
                "target": TARGET,
                "lost": sum(r["lost"] for r in results.values()),
                "duplicated": sum(r["duplicated"] for r in results.values()),
                "misreported": sum(r["misreported"] for r in results.values()),
                "per_provider": {
                    p: {k: r[k] for k in ("lost", "duplicated", "misreported", "succeeded")}
                    | {"seconds": round(r["elapsed"], 1)}
                    for p, r in results.items()
                },
                "records": args.records,
            }
        )
    )


if __name__ == "__main__":
    main()
