"""Imports read by real Celery workers on "other hosts": a worker whose own folders (VAR_DIR,
MEDIA_ROOT) differ from the web server's, both using one shared storage (a bucket-like
folder, with no local paths, as S3 has none), previews and sends an import to the sandbox
over HTTP; a worker killed mid-preview is replaced and the preview finishes, from clean; a
stored file that is gone, or a worker that cannot see the storage, fails the preview with a
reason."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow, ImportStatus
from integrations.models import JobStatus, SyncJob
from tests.celery_fixtures import start_worker, wait_until
from tests.integrations.sync.helpers import redflag_connection

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

BUCKET_STORAGE = "tests.dashboard.imports.shared_storage.BucketLikeStorage"


@pytest.fixture
def bucket(tmp_path, settings):
    """The shared storage, as this test process (the web server) sees it; its own upload
    folder (MEDIA_ROOT) is another, which must stay empty."""
    location = tmp_path / "bucket"
    settings.MEDIA_ROOT = tmp_path / "web-host" / "uploads"
    storages = {
        "default": {"BACKEND": BUCKET_STORAGE, "OPTIONS": {"location": str(location)}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield location


@pytest.fixture
def other_host(tmp_path, bucket):
    """Start workers as on another host: their own VAR_DIR and upload folder, the shared
    storage named by the environment as production names a bucket."""
    started = []
    var_dir = tmp_path / "worker-host"

    def start(**extra: str):
        env = {
            "VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(var_dir / "uploads"),
            "STORAGE_BACKEND": BUCKET_STORAGE,
            "STORAGE_OPTIONS": json.dumps({"location": str(bucket)}),
            "ALLOW_LOOPBACK_PROVIDER_URLS": "true",
            "SYNC_CLIENT_OPTIONS": json.dumps({"read_timeout": 2.0, "backoff_base": 0.05}),
            **extra,
        }
        worker = start_worker(tmp_path, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    assert not files_in(var_dir), "the worker kept an upload on its own disk"


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.glob("**/*") if p.is_file() and "uploads" in p.parts]


def csv_upload(rows: list[str]) -> SimpleUploadedFile:
    text = "\n".join(["email;first name;last name", *rows]) + "\n"
    return SimpleUploadedFile("staff.csv", text.encode())


def done(run: Import):
    def check() -> bool:
        run.refresh_from_db()
        return run.status not in (ImportStatus.PARSING, ImportStatus.UPLOADED)

    return check


def test_a_worker_on_another_host_previews_and_sends_an_import(
    sandbox, admin_user, other_host, bucket, settings
):
    settings.IMPORT_INLINE_MAX_BYTES = 1_000  # the preview is the worker's
    connection = redflag_connection(sandbox)
    worker = other_host()
    tag = uuid.uuid4().hex[:8]
    emails = [f"host{n}.{tag}@example.com" for n in range(120)]
    run = services.import_create(
        connection=connection,
        upload=csv_upload([f"{email};Pat;Lee" for email in emails]),
        user=admin_user,
    )
    assert run.status == ImportStatus.PARSING
    assert default_storage.exists(str(run.file.name))
    assert not files_in(settings.MEDIA_ROOT)

    assert wait_until(done(run), timeout=90, worker=worker), worker.output()[-3000:]
    assert run.status == ImportStatus.PREVIEWED, (run.error, worker.output()[-3000:])
    assert run.n_create == 120

    job = services.import_confirm(import_run=run, user=admin_user)

    def finished() -> bool:
        job.refresh_from_db()
        return job.is_finished

    assert wait_until(finished, timeout=90, worker=worker), worker.output()[-3000:]
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.n_succeeded == 120
    creates = sandbox.counters()["creates"]["redflag"]
    assert {email: creates.get(email) for email in emails} == dict.fromkeys(emails, 1)

    # The same worker, on a file no longer in storage: a failed preview with the reason.
    settings.IMPORT_INLINE_MAX_BYTES = 10_000_000
    gone = services.import_create(
        connection=connection, upload=csv_upload(["gone@example.com;A;B"]), user=admin_user
    )
    assert gone.status == ImportStatus.PREVIEWED
    default_storage.delete(str(gone.file.name))
    settings.IMPORT_INLINE_MAX_BYTES = 10
    services.import_start_preview(import_run=gone)
    assert wait_until(done(gone), timeout=60, worker=worker), worker.output()[-3000:]
    assert gone.status == ImportStatus.FAILED
    assert gone.error == services.MISSING_FILE
    assert SyncJob.objects.count() == 1


def test_a_preview_whose_worker_was_killed_is_finished_by_the_next_worker(
    redflag, admin_user, other_host, settings
):
    """SIGKILL mid-preview, after some batches were stored: the next worker to start
    takes the preview over (its start runs the imports watchdog; no scheduler runs here),
    removes the dead build's rows and builds it whole, each row once."""
    settings.IMPORT_INLINE_MAX_BYTES = 1_000
    settings.IMPORT_PREVIEW_STALE_AFTER = 2  # the workers are told the same below
    stale_after = {"IMPORT_PREVIEW_STALE_AFTER": "2"}
    first = other_host(**stale_after)
    rows = 40_000
    run = services.import_create(
        connection=redflag,
        upload=csv_upload([f"k{n}@example.com;P;L" for n in range(rows)]),
        user=admin_user,
    )

    def reading() -> bool:
        run.refresh_from_db()
        return run.bytes_read > 0 or run.status != ImportStatus.PARSING

    assert wait_until(reading, timeout=120, interval=0.02, worker=first), first.output()[-3000:]
    # Hold the import's row while the worker is killed: its next batch waits for it, so
    # the kill lands mid-preview whatever the machine's speed.
    with transaction.atomic():
        held = Import.objects.select_for_update().get(pk=run.pk)
        assert held.status == ImportStatus.PARSING, "the preview ended before the kill"
        first.kill()
    dead_rows = ImportRow.objects.filter(import_run=run).count()
    assert 0 < dead_rows < rows  # what the killed build had stored

    # Started once the dead build is silent long enough to count as stopped (no scheduler
    # runs here): the new worker's start takes it over in its main thread. (Started at once,
    # it checks again once the heartbeat is stale, from a task: on the embedded broker a
    # message written by a worker's task can be read half-written, kombu issue 1551.)
    def silent() -> bool:
        heartbeat = Import.objects.get(pk=run.pk).preview_heartbeat_at
        return heartbeat is not None and timezone.now() - heartbeat > timedelta(seconds=2)

    assert wait_until(silent, timeout=30)
    second = other_host(**stale_after)
    assert wait_until(done(run), timeout=180, worker=second), second.output()[-3000:]

    assert run.status == ImportStatus.PREVIEWED, (run.error, second.output()[-3000:])
    assert run.n_rows == run.n_create == rows
    stored = ImportRow.objects.filter(import_run=run)
    assert stored.count() == rows
    assert not stored.values("number").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert run.preview_attempts == 2
    assert "building it again" in second.output()


def test_a_worker_that_cannot_see_the_uploads_fails_the_preview_saying_so(
    redflag, admin_user, tmp_path, bucket, settings
):
    """Today's fault, on a worker left on its own disk (the file system, its own folder):
    the preview fails with the reason instead of "Reading rows" for ever."""
    settings.IMPORT_INLINE_MAX_BYTES = 1_000
    elsewhere = tmp_path / "lone-host"
    worker = start_worker(
        tmp_path,
        env={
            "VAR_DIR": str(elsewhere),
            "MEDIA_ROOT": str(elsewhere / "uploads"),
            "STORAGE_BACKEND": "filesystem",
        },
    )
    try:
        run = services.import_create(
            connection=redflag,
            upload=csv_upload([f"lone{n}@example.com;P;L" for n in range(100)]),
            user=admin_user,
        )
        assert wait_until(done(run), timeout=60, worker=worker), worker.output()[-3000:]
        assert run.status == ImportStatus.FAILED
        assert run.error == services.MISSING_FILE
    finally:
        worker.stop()
