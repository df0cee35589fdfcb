"""Remove what the retention settings no longer keep, in short batches.

What goes, and what stays:

* the items of sync jobs that finished ``RETENTION_DAYS`` ago or more; the job stays, with
  its counts, and a ``PrunedItems`` row tells its page that the records were removed;
* the preview rows of imports closed (confirmed, discarded or failed) that long ago; the
  import stays, with its counts (an open import keeps its rows: confirming needs them);
* audit events older than ``AUDIT_RETENTION_DAYS`` (kept longest);
* expired sessions.

A prune that removed anything leaves one audit event saying what went and by which rule.

Each batch of at most ``PRUNE_BATCH_SIZE`` rows is deleted in its own transaction, so a big
table is never locked for long and a prune stopped halfway loses nothing it should keep: the
next run goes on where it stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models, transaction
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.audit.services import audit_record
from dashboard.housekeeping.models import PrunedItems
from dashboard.imports.models import Import, ImportRow, ImportStatus
from integrations.models import FINISHED_STATUSES, SyncItem, SyncJob

logger = logging.getLogger(__name__)

CLOSED_IMPORTS = (ImportStatus.CONFIRMED, ImportStatus.DISCARDED, ImportStatus.FAILED)


@dataclass
class PruneReport:
    """What a prune removed (or, for a dry run, would remove)."""

    dry_run: bool
    cutoff: dt.datetime
    audit_cutoff: dt.datetime
    sync_items: int = 0
    jobs: list[int] = field(default_factory=list)
    import_rows: int = 0
    imports: list[int] = field(default_factory=list)
    audit_events: int = 0
    sessions: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "sync_items": self.sync_items,
            "import_rows": self.import_rows,
            "audit_events": self.audit_events,
            "sessions": self.sessions,
        }

    @property
    def removed(self) -> int:
        return sum(self.counts().values())

    def lines(self) -> list[str]:
        """The report in plain words, one line per kind of record."""
        verb = "Would remove" if self.dry_run else "Removed"
        before = f"{self.cutoff:%Y-%m-%d}"
        return [
            f"{verb} {self.sync_items:,} sync items of {len(self.jobs):,} jobs finished "
            f"before {before} (the jobs and their counts stay).",
            f"{verb} {self.import_rows:,} preview rows of {len(self.imports):,} imports "
            f"closed before {before} (the imports and their counts stay).",
            f"{verb} {self.audit_events:,} audit events from before {self.audit_cutoff:%Y-%m-%d}.",
            f"{verb} {self.sessions:,} expired sessions.",
        ]


def prune(*, dry_run: bool = False, now: dt.datetime | None = None) -> PruneReport:
    """Remove (or with ``dry_run`` only count) what the retention settings no longer keep."""
    now = now or timezone.now()
    report = PruneReport(
        dry_run=dry_run,
        cutoff=now - dt.timedelta(days=settings.RETENTION_DAYS),
        audit_cutoff=now - dt.timedelta(days=settings.AUDIT_RETENTION_DAYS),
    )
    batch = settings.PRUNE_BATCH_SIZE
    for job_id in _prunable_jobs(report.cutoff):
        items = SyncItem.objects.filter(job_id=job_id)
        removed = items.count() if dry_run else _delete_job_items(job_id, batch, now)
        if removed:
            report.jobs.append(job_id)
            report.sync_items += removed
    for import_id in _prunable_imports(report.cutoff):
        rows = ImportRow.objects.filter(import_run_id=import_id)
        removed = rows.count() if dry_run else _delete_in_batches(rows, batch)
        if removed:
            report.imports.append(import_id)
            report.import_rows += removed
    events = AuditEvent.objects.filter(at__lt=report.audit_cutoff)
    report.audit_events = events.count() if dry_run else _delete_in_batches(events, batch)
    sessions = Session.objects.filter(expire_date__lt=now)
    report.sessions = sessions.count() if dry_run else _delete_in_batches(sessions, batch)
    if not dry_run:
        for line in report.lines():
            logger.info("Housekeeping: %s", line)
        if report.removed:
            # What went, and by which rule, stays on record (the audit log is kept longest).
            audit_record(
                actor=None,
                action="housekeeping.pruned",
                summary=" ".join(report.lines()),
                changes={
                    name: {"before": count, "after": 0}
                    for name, count in report.counts().items()
                    if count
                },
            )
    return report


def _prunable_jobs(cutoff: dt.datetime) -> list[int]:
    """Jobs finished before ``cutoff`` whose items are not pruned yet (some may have none)."""
    return list(
        SyncJob.objects.filter(
            status__in=FINISHED_STATUSES, finished_at__lt=cutoff, pruned_items__isnull=True
        )
        .order_by("finished_at", "id")
        .values_list("pk", flat=True)
    )


def _prunable_imports(cutoff: dt.datetime) -> list[int]:
    return list(
        Import.objects.filter(status__in=CLOSED_IMPORTS, updated_at__lt=cutoff)
        .order_by("updated_at", "id")
        .values_list("pk", flat=True)
    )


def _delete_job_items(job_id: int, batch: int, now: dt.datetime) -> int:
    """Delete one job's items batch by batch, then record that they were pruned."""
    removed = _delete_in_batches(SyncItem.objects.filter(job_id=job_id), batch)
    if removed:
        # After the batches, not in them: a prune stopped halfway leaves no record, and the
        # next run deletes the rest and records it then.
        PrunedItems.objects.get_or_create(
            job_id=job_id, defaults={"items": removed, "pruned_at": now}
        )
    return removed


def _delete_in_batches(rows: models.QuerySet, batch: int) -> int:
    """Delete ``rows`` at most ``batch`` at a time, each batch in its own transaction.

    Each batch's keys are read first (from the index that serves the filter, in no
    particular order), then those rows deleted: a short transaction per batch, whatever the
    total. Django's delete also clears what
    refers to a deleted row (a retry's items point to the items they retried).
    """
    removed = 0
    while True:
        with transaction.atomic():
            keys = list(rows.order_by().values_list("pk", flat=True)[:batch])
            if not keys:
                return removed
            rows.model.objects.filter(pk__in=keys).delete()
            removed += len(keys)
