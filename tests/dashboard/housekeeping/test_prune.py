"""Housekeeping: what the retention settings no longer keep goes, in batches; the rest stays.

Rows are made old by setting their dates; ``prune`` runs against the test database.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.housekeeping.models import PrunedItems
from dashboard.housekeeping.services import prune
from dashboard.imports.models import ImportRow, ImportStatus
from integrations.models import ItemStatus, JobStatus, SyncItem
from tests.factories import ImportFactory, SyncItemFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.RETENTION_DAYS = 180
    settings.AUDIT_RETENTION_DAYS = 730
    settings.PRUNE_BATCH_SIZE = 3  # several batches even for these few rows


def job_with_items(n: int, *, finished_days_ago: int | None, status=JobStatus.PARTIALLY_FAILED):
    finished = ago(finished_days_ago) if finished_days_ago is not None else None
    job = SyncJobFactory(
        status=status, finished_at=finished, total=n, n_succeeded=n - 1, n_failed=1
    )
    for seq in range(n):
        SyncItemFactory(
            job=job, seq=seq, status=ItemStatus.FAILED if seq == 0 else ItemStatus.SUCCEEDED
        )
    return job


def test_items_of_jobs_finished_before_the_retention_go_and_their_counts_stay():
    old = job_with_items(10, finished_days_ago=200)
    recent = job_with_items(4, finished_days_ago=100)
    running = job_with_items(5, finished_days_ago=None, status=JobStatus.RUNNING)

    report = prune(now=NOW)

    assert report.sync_items == 10 and report.jobs == [old.pk]
    assert not SyncItem.objects.filter(job=old).exists()
    assert SyncItem.objects.filter(job=recent).count() == 4
    assert SyncItem.objects.filter(job=running).count() == 5
    old.refresh_from_db()
    assert (old.total, old.n_succeeded, old.n_failed) == (10, 9, 1)
    assert PrunedItems.objects.get(job=old).items == 10
    assert prune(now=NOW).sync_items == 0  # nothing left to do the next day


def test_a_retry_of_a_pruned_job_keeps_its_own_items():
    old = job_with_items(3, finished_days_ago=400)
    retry = SyncJobFactory(status=JobStatus.SUCCEEDED, finished_at=ago(10), retry_of=old, total=1)
    kept = SyncItemFactory(job=retry, seq=0, retry_of=SyncItem.objects.get(job=old, seq=0))

    prune(now=NOW)

    kept.refresh_from_db()
    assert kept.retry_of is None  # the item it retried is gone; the retry's record stays
    assert not SyncItem.objects.filter(job=old).exists()


def test_the_job_page_says_the_records_were_pruned_and_offers_no_retry(admin_client):
    job = job_with_items(3, finished_days_ago=200)
    prune(now=NOW)

    page = admin_client.get(f"/jobs/{job.pk}/").content.decode()

    assert "The records of this job were pruned on" in page
    assert "records are kept for 180 days after a job finishes" in page
    assert "Retry 1 failed record" not in page and "errors.csv" not in page
    assert '<span class="stat">2</span>' in page  # the counts stay: 2 of 3 succeeded


def test_rows_of_closed_imports_go_and_open_imports_keep_theirs():
    closed = ImportFactory(status=ImportStatus.CONFIRMED)
    open_ = ImportFactory(status=ImportStatus.PREVIEWED)
    fresh = ImportFactory(status=ImportStatus.DISCARDED)
    for imp in (closed, open_, fresh):
        ImportRow.objects.bulk_create(
            ImportRow(import_run=imp, number=n, kind="create") for n in range(2, 9)
        )
    type(closed).objects.filter(pk__in=[closed.pk, open_.pk]).update(updated_at=ago(181))

    report = prune(now=NOW)

    assert report.import_rows == 7 and report.imports == [closed.pk]
    assert not ImportRow.objects.filter(import_run=closed).exists()
    assert ImportRow.objects.filter(import_run=open_).count() == 7  # confirming needs them
    assert ImportRow.objects.filter(import_run=fresh).count() == 7


def test_audit_events_are_kept_longest_and_expired_sessions_go(admin_client):
    for days in (10, 200, 729, 731, 1000):
        AuditEvent.objects.create(action="test.event", summary=f"{days} days", at=ago(days))
    Session.objects.create(session_key="old" * 8, session_data="x", expire_date=ago(1))
    Session.objects.create(
        session_key="live" * 8, session_data="x", expire_date=NOW + dt.timedelta(hours=1)
    )

    report = prune(now=NOW)

    assert report.audit_events == 2
    kept = AuditEvent.objects.exclude(action="housekeeping.pruned")
    assert sorted(kept.values_list("summary", flat=True)) == ["10 days", "200 days", "729 days"]
    record = AuditEvent.objects.get(action="housekeeping.pruned")  # the prune is on record
    assert record.actor_name == "system"
    assert record.changes == {
        "audit_events": {"before": 2, "after": 0},
        "sessions": {"before": 1, "after": 0},
    }
    assert "Removed 2 audit events from before" in record.summary
    assert "Removed 2 audit events from before" in admin_client.get("/audit/").content.decode()
    assert report.sessions == 1
    keys = set(Session.objects.values_list("session_key", flat=True))
    assert "live" * 8 in keys and "old" * 8 not in keys


def test_a_dry_run_counts_and_removes_nothing():
    job_with_items(4, finished_days_ago=365)
    AuditEvent.objects.create(action="test.event", at=ago(800))

    report = prune(dry_run=True, now=NOW)

    assert (report.sync_items, report.audit_events) == (4, 1)
    assert SyncItem.objects.count() == 4 and AuditEvent.objects.count() == 1
    assert not PrunedItems.objects.exists()
    assert report.lines()[0].startswith("Would remove 4 sync items of 1 jobs")


def test_the_prune_command_prints_what_it_removed(capsys):
    job_with_items(5, finished_days_ago=365)

    call_command("prune", "--dry-run")
    dry = capsys.readouterr().out
    call_command("prune")
    done = capsys.readouterr().out

    assert "Would remove 5 sync items of 1 jobs finished before" in dry
    assert "Dry run: nothing was removed." in dry
    assert "Removed 5 sync items of 1 jobs finished before" in done
    assert "Removed 0 audit events from before" in done
    assert not SyncItem.objects.exists()


def test_the_beat_schedules_the_prune_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["housekeeping-prune"]
    assert entry["task"] == "housekeeping.prune"
    assert entry["schedule"].hour == {3}


@pytest.mark.worker
def test_a_real_worker_runs_the_scheduled_prune(celery_worker_process):
    from dashboard.housekeeping.tasks import prune as prune_task
    from tests.celery_fixtures import wait_until

    old = job_with_items(4, finished_days_ago=365)

    prune_task.delay()

    assert wait_until(
        PrunedItems.objects.filter(job=old).exists, timeout=60, worker=celery_worker_process
    ), celery_worker_process.output()[-3000:]
    assert not SyncItem.objects.filter(job=old).exists()


def test_audit_events_must_be_kept_at_least_as_long_as_the_rest(tmp_path):
    from tests.dashboard.test_settings import run_manage

    result = run_manage(
        "check",
        env={"DEBUG": "true", "RETENTION_DAYS": "365", "AUDIT_RETENTION_DAYS": "90"},
        tmp_path=tmp_path,
    )
    assert result.returncode != 0
    assert "AUDIT_RETENTION_DAYS at least RETENTION_DAYS" in result.stderr
