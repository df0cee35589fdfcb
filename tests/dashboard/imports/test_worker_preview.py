"""A large file's preview is built by a real Celery worker process, not in the request."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import ImportStatus
from dashboard.imports.services import import_create
from tests.celery_fixtures import start_worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_large_upload_is_previewed_by_a_worker(
    settings, tmp_path, redflag, admin_user, celery_worker_process
):
    settings.IMPORT_INLINE_MAX_BYTES = 1_000  # anything larger goes to the worker
    # The worker reads the stored file: it must look in the same folder as this test.
    assert str(settings.MEDIA_ROOT).startswith(str(tmp_path))
    lines = ["email;first name;last name"]
    lines += [f"person{i}@example.com;Pat{i};Lee" for i in range(400)]
    lines.append("not-an-email;Bad;Row")
    upload = SimpleUploadedFile("big.csv", ("\n".join(lines) + "\n").encode("utf-8"))

    imported = import_create(connection=redflag, upload=upload, user=admin_user)
    assert imported.status == ImportStatus.PARSING  # left to the worker

    def previewed():
        imported.refresh_from_db()
        return imported.status not in (ImportStatus.PARSING, ImportStatus.UPLOADED)

    assert wait_until(previewed, timeout=90, worker=celery_worker_process), (
        celery_worker_process.output()[-3000:]
    )
    assert imported.status == ImportStatus.PREVIEWED, imported.error
    assert imported.n_rows == 401
    assert imported.n_create == 400 and imported.n_invalid == 1


def test_a_prefork_worker_starts_the_preview_helper(settings, tmp_path, redflag, admin_user):
    """Celery's default pool, prefork (``make demo`` and production), marks its processes
    daemonic, and multiprocessing refuses children to those: the preview's helper process
    must start all the same, and the preview be complete."""
    settings.IMPORT_INLINE_MAX_BYTES = 1_000
    worker = start_worker(
        tmp_path,
        pool="prefork",
        concurrency=1,
        env={"IMPORT_PREVIEW_HELPERS": "1", "IMPORT_PREVIEW_HELPER_MIN_BYTES": "1000"},
    )
    try:
        lines = ["email;first name;last name;mobile;country"]
        lines += [
            f"person{i}@example.com;Pat{i};Lee;07911 {100000 + i};United Kingdom"
            for i in range(20_000)
        ]
        lines.append("not-an-email;Bad;Row;;")
        upload = SimpleUploadedFile("big.csv", ("\n".join(lines) + "\n").encode("utf-8"))
        imported = import_create(connection=redflag, upload=upload, user=admin_user)

        def previewed():
            imported.refresh_from_db()
            return imported.status not in (ImportStatus.PARSING, ImportStatus.UPLOADED)

        assert wait_until(previewed, timeout=90, worker=worker), worker.output()[-3000:]
        log = worker.output()
        assert imported.status == ImportStatus.PREVIEWED, (imported.error, log[-3000:])
        assert imported.n_rows == 20_001 and imported.n_invalid == 1
        assert imported.n_create == 20_000
        assert "helper unavailable" not in log, log[-3000:]
        assert "batches built by 1 helper process(es)" in log, log[-3000:]
    finally:
        worker.stop()
