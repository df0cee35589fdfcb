"""A preview whose worker died is built again, from clean, never left "Reading rows"; after too
many builds that stopped, the import fails saying why. (A real worker killed mid-preview:
``test_worker_hosts.py``.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from django.utils import timezone

from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow, ImportStatus, RowKind
from dashboard.imports.tasks import imports_watchdog

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 50


@pytest.fixture
def queued(redflag, admin_user, settings) -> Import:
    """An import whose preview is queued for a worker (none runs in these tests)."""
    settings.IMPORT_INLINE_MAX_BYTES = 100
    lines = ["email;first name;last name"] + [f"p{n}@example.com;P;L" for n in range(ROWS)]
    upload = SimpleUploadedFile("staff.csv", ("\n".join(lines) + "\n").encode())
    run = services.import_create(connection=redflag, upload=upload, user=admin_user)
    assert run.status == ImportStatus.PARSING and run.preview_claim == ""
    return run


def died_midway(run: Import, *, attempts: int = 1, silent_for: int = 3600) -> None:
    """As a worker leaves it when killed after storing a few rows: claimed, silent since."""
    Import.objects.filter(pk=run.pk).update(
        preview_claim="other-host:4242:deadbeef",
        preview_attempts=attempts,
        preview_heartbeat_at=timezone.now() - timedelta(seconds=silent_for),
        bytes_read=40,
        n_rows=2,
        n_create=2,
    )
    ImportRow.objects.bulk_create(
        ImportRow(import_run=run, generation=run.generation, number=n, kind=RowKind.CREATE)
        for n in (2, 3)
    )


def test_a_preview_whose_worker_died_is_queued_again_and_rebuilt_from_clean(queued):
    died_midway(queued)
    assert imports_watchdog() == [queued.pk]
    # What the queued task runs on whichever worker takes it.
    services.import_build_preview(import_id=queued.pk, generation=queued.generation)

    queued.refresh_from_db()
    assert queued.status == ImportStatus.PREVIEWED, queued.error
    assert queued.n_rows == queued.n_create == ROWS
    rows = ImportRow.objects.filter(import_run=queued)
    assert rows.count() == ROWS
    assert not rows.values("number").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert queued.preview_attempts == 2 and queued.preview_claim == ""


def test_a_live_build_is_left_alone_and_a_second_delivery_does_nothing(queued):
    died_midway(queued, silent_for=1)  # reported a second ago: alive
    assert imports_watchdog() == []
    services.import_build_preview(import_id=queued.pk, generation=queued.generation)
    queued.refresh_from_db()
    assert queued.status == ImportStatus.PARSING
    assert queued.preview_claim == "other-host:4242:deadbeef"
    assert ImportRow.objects.filter(import_run=queued).count() == 2  # its rows untouched


def test_a_preview_no_worker_took_is_queued_again(queued, settings):
    assert imports_watchdog() == []  # just queued
    lost = settings.IMPORT_PREVIEW_QUEUED_LOST_AFTER + 1
    Import.objects.filter(pk=queued.pk).update(
        preview_heartbeat_at=timezone.now() - timedelta(seconds=lost)
    )
    assert imports_watchdog() == [queued.pk]


def test_after_too_many_interrupted_builds_the_import_fails_saying_why(
    queued, settings, admin_client
):
    settings.IMPORT_PREVIEW_MAX_ATTEMPTS = 3
    died_midway(queued, attempts=3)
    assert imports_watchdog() == []
    queued.refresh_from_db()
    assert queued.status == ImportStatus.FAILED
    assert queued.error == services.interrupted_message(3)
    assert queued.error.startswith("Building the preview stopped 3 times before it was ready")
    assert not ImportRow.objects.filter(import_run=queued).exists()
    assert (queued.n_rows, queued.bytes_read) == (0, 0)
    page = admin_client.get(f"/imports/{queued.pk}/").content.decode()
    assert "Building the preview stopped 3 times before it was ready" in page
    assert "Reading rows" not in page


def test_a_task_delivered_after_the_last_allowed_build_fails_the_import(queued, settings):
    """The claim gives up too, whoever asks first: the watchdog or a late delivery."""
    settings.IMPORT_PREVIEW_MAX_ATTEMPTS = 2
    died_midway(queued, attempts=2)
    services.import_build_preview(import_id=queued.pk, generation=queued.generation)
    queued.refresh_from_db()
    assert queued.status == ImportStatus.FAILED
    assert queued.error == services.interrupted_message(2)


def test_a_build_taken_over_by_another_worker_stores_nothing_more(queued, monkeypatch):
    """A worker that was silent too long (not dead) loses its claim; at its next batch it
    stops, and the batch is not stored: the rows are the new build's alone."""
    monkeypatch.setattr(services, "ROW_BATCH", 2)  # 25 batches, 10 read before one is stored
    real_lookup = services._mirror_lookup
    calls = 0

    def lookup(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 14:  # batches 1 to 3 stored; another worker takes the build over
            Import.objects.filter(pk=queued.pk).update(preview_claim="other-host:1:cafe")
        return real_lookup(*args, **kwargs)

    monkeypatch.setattr(services, "_mirror_lookup", lookup)
    services.import_build_preview(import_id=queued.pk, generation=queued.generation)

    queued.refresh_from_db()
    assert calls >= 14
    assert queued.status == ImportStatus.PARSING and queued.preview_claim == "other-host:1:cafe"
    stored = ImportRow.objects.filter(import_run=queued).count()
    assert 0 < stored < ROWS and stored == queued.n_rows  # nothing stored after the takeover


def test_the_page_says_when_a_preview_is_built_again_or_its_worker_is_silent(
    queued, admin_client, settings
):
    settings.IMPORT_PREVIEW_MAX_ATTEMPTS = 3
    page = admin_client.get(f"/imports/{queued.pk}/").content.decode()
    assert 'id="preview-note"' not in page  # queued a moment ago: nothing to say
    died_midway(queued)
    page = admin_client.get(f"/imports/{queued.pk}/").content.decode()
    assert "The worker building this preview stopped reporting" in page
    Import.objects.filter(pk=queued.pk).update(
        preview_attempts=2, preview_heartbeat_at=timezone.now()
    )
    page = admin_client.get(f"/imports/{queued.pk}/").content.decode()
    assert "it is being built again from the start (attempt 2 of 3)" in page
