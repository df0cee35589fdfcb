"""Benchmark: a mirror refresh of 100,000 RedFlag and 100,000 Snappy recipients.

Run: ``.venv/bin/python bench/mirror_pull.py [--recipients 100000] [--shape documented]``

1. Starts the provider sandbox in a separate process (``python -m integrations.sandbox``),
   so its own memory is not counted, seeded with ``--recipients`` people per provider:
   ``documented`` (default) gives every RedFlag record the documented shape (about 1.5 KB of
   JSON each: ~150 MB in RedFlag's one-reply list), ``compact`` a few fields each.
2. Sets Django up on PostgreSQL (``DATABASE_URL``, else a local ``bench_mirror_pull``
   database it creates; without PostgreSQL it says how to run it and prints a null result),
   migrates, creates one RedFlag and one Snappy connection.
3. Runs one pull job per connection in this process (``job_execute``: the code a Celery
   worker runs): RedFlag answers every recipient in one reply (its default list form);
   Snappy pages by 200 at its 100 requests/second limit. A sampler thread reads this
   process's resident memory every 20 ms.

Prints for each: time, peak resident memory of this process during the pull, recipients in
the mirror afterwards. Targets: <= 60 s and <= 300 MB each. The last line printed is one JSON
object (metric, value, unit, anchor, ratio, target, ...); its value is the slower pull's time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _machine, _postgres  # noqa: E402 - needs ROOT on sys.path

METRIC = "mirror_pull_100k"
TIME_TARGET_S = 60.0
MEMORY_TARGET_MB = 300.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Sample this process's resident memory (``/proc/self/statm``) in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE_SIZE

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def start_sandbox(recipients: int, shape: str, workdir: Path) -> tuple[subprocess.Popen, str, dict]:
    credentials = workdir / "sandbox-credentials.json"
    seed = ["--compact-seed", str(recipients)] if shape == "compact" else []
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.sandbox", "--port", "0", "--seed",
         str(recipients if shape == "documented" else 0), *seed,
         "--write-credentials", str(credentials)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert process.stdout is not None
    url = None
    for line in process.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
        if line.startswith("Credentials written"):
            break
    if url is None or not credentials.exists():
        process.kill()
        raise SystemExit("The sandbox did not start.")
    return process, url, json.loads(credentials.read_text())


def setup_django(var_dir: str, database_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ["DEBUG"] = "true"
    os.environ["VAR_DIR"] = var_dir
    os.environ["DATABASE_URL"] = database_url
    os.environ["ALLOW_LOOPBACK_PROVIDER_URLS"] = "true"
    os.environ["CELERY_QUEUE"] = f"bench-pull-{os.getpid()}"  # jobs run here, not queued
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    logging.getLogger("integrations").setLevel(logging.WARNING)
    settings.DEBUG = False  # no query log: a worker does not keep one


def create_connections(url: str, creds: dict, tag: str):
    from dashboard.connections.services import connection_create
    from integrations.catalogue import Provider

    redflag = connection_create(
        name=f"Bench pull RedFlag {tag}",
        provider=Provider.REDFLAG,
        environment="staging",
        base_url=f"{url}/redflag",
        secret=creds["redflag"]["token"],
        options={"location_id": creds["redflag"]["location_id"]},
        user=None,
    )
    snappy = connection_create(
        name=f"Bench pull Snappy {tag}",
        provider=Provider.SNAPPY,
        environment="staging",
        base_url=f"{url}/snappy",
        secret=creds["snappy"]["api_key"],
        options={"company_id": creds["snappy"]["company_id"]},
        user=None,
    )
    return redflag, snappy


def measure_pull(connection) -> dict:
    import gc

    from integrations.models import MirroredRecipient, SyncJob
    from integrations.sync.engine import job_execute
    from integrations.sync.services import job_create_pull

    gc.collect()
    job = job_create_pull(connection=connection)
    with PeakMemory() as memory:
        started = time.perf_counter()
        job_execute(job.pk)
        elapsed = time.perf_counter() - started
    job = SyncJob.objects.get(pk=job.pk)
    mirrored = MirroredRecipient.objects.filter(connection=connection, gone_at__isnull=True).count()
    return {
        "status": job.status,
        "error": job.error_message,
        "seconds": round(elapsed, 2),
        "peak_mb": round(memory.peak / 1024 / 1024, 1),
        "mirrored": mirrored,
        "per_second": round(mirrored / elapsed) if elapsed else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--shape", choices=("documented", "compact"), default="documented")
    args = parser.parse_args()

    machine = _machine.describe()
    print(_machine.line(machine))
    database_url = _postgres.postgres_url(
        database="bench_mirror_pull", metric=METRIC, anchor=TIME_TARGET_S,
        script="mirror_pull.py",
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as workdir:
        seeding = time.perf_counter()
        sandbox, url, creds = start_sandbox(args.recipients, args.shape, Path(workdir))
        print(
            f"Sandbox: {args.recipients:,} {args.shape} recipients per provider, ready in "
            f"{time.perf_counter() - seeding:.1f} s (a separate process)"
        )
        try:
            setup_django(workdir, database_url)
            redflag, snappy = create_connections(url, creds, uuid.uuid4().hex[:8])
            results = {}
            for name, connection in (("redflag", redflag), ("snappy", snappy)):
                result = measure_pull(connection)
                results[name] = result
                print(
                    f"  {name:8} {result['status']:9} {result['mirrored']:,} mirrored in "
                    f"{result['seconds']:.1f} s ({result['per_second']:,}/s), peak memory "
                    f"{result['peak_mb']:.0f} MB {result['error']}"
                )
            for connection in (redflag, snappy):
                connection.delete()  # the mirror rows go with it: the next run starts clean
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=30)

    slowest = max(r["seconds"] for r in results.values())
    peak = max(r["peak_mb"] for r in results.values())
    ok = all(r["mirrored"] == args.recipients for r in results.values())
    print(
        f"Targets: <= {TIME_TARGET_S:g} s and <= {MEMORY_TARGET_MB:g} MB each; "
        f"every recipient mirrored: {ok}"
    )
    print(
        json.dumps(
            {
                "metric": METRIC,
                "machine": machine,
                "value": slowest,
                "unit": "s",
                "anchor": TIME_TARGET_S,
                "ratio": round(slowest / TIME_TARGET_S, 3),
                "target": 1.0,
                "better": "lower",
                "peak_mb": peak,
                "memory_target_mb": MEMORY_TARGET_MB,
                "memory_ratio": round(peak / MEMORY_TARGET_MB, 3),
                "recipients": args.recipients,
                "shape": args.shape,
                "complete": ok,
                "redflag": results["redflag"],
                "snappy": results["snappy"],
            }
        )
    )


if __name__ == "__main__":
    main()
