"""Steering sync jobs from the dashboard: the engine's services, each audited here."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dashboard.audit.services import audit_record
from integrations.models import JobStatus, SyncJob
from integrations.sync import services as sync_services
from integrations.sync.services import JobStateError

__all__ = [
    "JobStateError",
    "job_acknowledge",
    "job_cancel",
    "job_pause",
    "job_resume",
    "job_retry_failed",
]


@transaction.atomic
def job_cancel(*, job: SyncJob, user: Any) -> SyncJob:
    """Ask the job to stop: calls in flight finish and are recorded; the rest is not sent."""
    if job.cancel_requested and not job.is_finished:
        raise JobStateError("This job is already stopping.")
    job = sync_services.job_cancel(job=job, user=user)
    audit_record(
        actor=user,
        action="job.cancelled",
        target=job,
        summary="Cancelled the job",
        changes={"cancel_requested": {"before": False, "after": True}},
    )
    return job


@transaction.atomic
def job_pause(*, job: SyncJob, user: Any) -> SyncJob:
    if job.pause_requested or job.status == JobStatus.PAUSED:
        raise JobStateError("This job is already paused.")
    before = job.status
    job = sync_services.job_pause(job=job, user=user)
    audit_record(
        actor=user,
        action="job.paused",
        target=job,
        summary="Paused the job",
        changes={"pause_requested": {"before": False, "after": True}}
        | ({"status": {"before": before, "after": job.status}} if before != job.status else {}),
    )
    return job


@transaction.atomic
def job_resume(*, job: SyncJob, user: Any) -> SyncJob:
    before = job.status
    job = sync_services.job_resume(job=job, user=user)
    audit_record(
        actor=user,
        action="job.resumed",
        target=job,
        summary="Resumed the job",
        changes={"status": {"before": before, "after": job.status}},
    )
    return job


@transaction.atomic
def job_retry_failed(*, job: SyncJob, user: Any) -> SyncJob:
    """Queue a new job, linked to ``job``, that sends its failed and unsent items again."""
    retry = sync_services.job_retry_failed(job=job, user=user)
    audit_record(
        actor=user,
        action="job.retried",
        target=job,
        summary=f"Retried {retry.total} failed or unsent items as job {retry.pk}",
        changes={"retried_as": {"before": None, "after": retry.pk}},
    )
    return retry


@transaction.atomic
def job_acknowledge(*, job: SyncJob, user: Any, comment: str) -> SyncJob:
    before = job.acknowledgement or None
    job = sync_services.job_acknowledge(job=job, user=user, comment=comment)
    audit_record(
        actor=user,
        action="job.acknowledged",
        target=job,
        summary=f"Acknowledged: {job.acknowledgement}",
        changes={"acknowledgement": {"before": before, "after": job.acknowledgement}},
    )
    return job
