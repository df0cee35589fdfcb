"""A real Celery worker process for tests (pytest plugin).

The worker runs ``celery -A dashboard worker`` against the same broker and the same test
database as the test (committed rows only: use ``transactional_db``), on the test queue
(``CELERY_QUEUE``, set by pytest-env, plus this run's process id), so neither a demo worker
nor another test run on the same machine (and broker) ever takes this run's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """One queue per test run: two runs sharing a broker (a laptop running the suite twice,
    helpers in parallel) would otherwise take each other's tasks."""
    from dashboard.celery import app

    old = settings.CELERY_TASK_DEFAULT_QUEUE
    queue = f"{os.environ.get('CELERY_QUEUE', 'dashboard-test')}-{os.getpid()}"
    os.environ["CELERY_QUEUE"] = queue  # the workers started below inherit it
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.task_default_queue = queue
    # The queues per kind of work are named after the default queue (settings).
    routes = {
        name: {**route, "queue": queue + route["queue"].removeprefix(old)}
        for name, route in getattr(settings, "CELERY_TASK_ROUTES", {}).items()
    }
    settings.CELERY_TASK_ROUTES = routes
    app.conf.task_routes = routes
    app.amqp.flush_routes()
    from kombu import Queue

    queues = [Queue(name) for name in worker_queues().split(",")]
    settings.CELERY_TASK_QUEUES = queues
    app.conf.task_queues = queues


def worker_queues() -> str:
    """Every queue of this run: the default one and one per kind of work (syncs, previews,
    housekeeping), as ``celery worker --queues`` takes them."""
    routes = getattr(settings, "CELERY_TASK_ROUTES", {})
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *(r["queue"] for r in routes.values())}
    return ",".join(sorted(names))


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[str], hostname: str, log: Path) -> None:
        self.process = process
        self.hostname = hostname
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(
    tmp_path: Path,
    *,
    concurrency: int = 2,
    pool: str = "threads",
    env: dict[str, str] | None = None,
) -> WorkerProcess:
    hostname = f"test-{uuid.uuid4().hex[:8]}@%h"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "CREDENTIAL_KEYS": ",".join(settings.CREDENTIAL_KEYS),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        # Files a test stored (uploads) must be where the worker looks for them.
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **(env or {}),
    }
    log = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    handle = log.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--queues",
            worker_queues(),
            "--hostname",
            hostname,
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return WorkerProcess(process, hostname, log)


def wait_until(predicate, *, timeout: float, interval: float = 0.2, worker=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if worker is not None and worker.process.poll() is not None:
            raise AssertionError(f"The worker exited early:\n{worker.output()[-4000:]}")
        time.sleep(interval)
    return False


def job_finished(job):
    """A ``wait_until`` predicate: the job (re-read each time) has finished."""

    def check() -> bool:
        job.refresh_from_db()
        return job.is_finished

    return check


@pytest.fixture
def worker_starter(tmp_path):
    """Start real workers as a test needs them (``start_worker``'s keyword arguments, with
    ``base_env`` under each call's ``env``); every one is stopped after the test."""
    started: list[WorkerProcess] = []

    def start(*, base_env: dict[str, str] | None = None, **kwargs) -> WorkerProcess:
        kwargs["env"] = {**(base_env or {}), **(kwargs.get("env") or {})}
        worker = start_worker(tmp_path, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start a real worker; stop it after the test. Yields a :class:`WorkerProcess`."""
    worker = start_worker(tmp_path)
    yield worker
    worker.stop()
