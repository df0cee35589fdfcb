"""A large file's preview is built by a real Celery worker process, not in the request."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import ImportStatus
from dashboard.imports.selectors import import_rows
from dashboard.imports.services import import_create
from tests.celery_fixtures import wait_until

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


def test_a_large_file_is_previewed_in_chunks_by_the_processes_of_a_prefork_worker(
    settings, tmp_path, redflag, admin_user, worker_starter
):
    """Celery's default pool, prefork (``make demo`` and production), with two processes:
    the preview's task writes while the other process previews chunks of its rows, every
    row stored once, in order, duplicates found across chunks."""
    settings.IMPORT_INLINE_MAX_BYTES = 1_000
    chunks = {"IMPORT_PREVIEW_CHUNK_ROWS": "2000", "IMPORT_PREVIEW_CHUNK_MIN_BYTES": "1000"}
    worker = worker_starter(pool="prefork", concurrency=2, env=chunks)
    lines = ["email;first name;last name;mobile;country"]
    lines += [
        f"person{i}@example.com;Pat{i};Lee;07911 {100000 + i};United Kingdom" for i in range(20_000)
    ]
    lines.append("not-an-email;Bad;Row;;")
    lines.append("PERSON5@example.com;Pat;Again;;")  # repeats row 7, nine chunks earlier
    upload = SimpleUploadedFile("big.csv", ("\n".join(lines) + "\n").encode("utf-8"))
    imported = import_create(connection=redflag, upload=upload, user=admin_user)

    def previewed():
        imported.refresh_from_db()
        return imported.status not in (ImportStatus.PARSING, ImportStatus.UPLOADED)

    assert wait_until(previewed, timeout=120, worker=worker), worker.output()[-3000:]
    log = worker.output()
    assert imported.status == ImportStatus.PREVIEWED, (imported.error, log[-3000:])
    assert imported.n_rows == 20_002 and imported.n_invalid == 3
    assert imported.n_create == 19_999
    numbers = list(import_rows(import_run=imported).values_list("number", flat=True))
    assert numbers == list(range(2, 20_004))
    repeated = import_rows(import_run=imported).get(number=7)
    assert repeated.errors["row"] == "Same identifier as row 20003: keep one."
    by_tasks = re.search(r"(\d+) of its (\d+) chunks previewed by chunk tasks", log)
    assert by_tasks and int(by_tasks[1]) > 0 and int(by_tasks[2]) >= 10, log[-3000:]
    assert "imports.build_preview_chunk" in log
