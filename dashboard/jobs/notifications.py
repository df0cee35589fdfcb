"""Telling HR admins by email when a sync job fails or partially fails.

The engine calls ``job_finished`` for every finished job through the setting
``SYNC_JOB_FINISHED_HOOKS``. The mail carries counts, reasons and a link; never a payload or a
credential.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Count
from django.urls import reverse

from dashboard.accounts.roles import Role
from dashboard.jobs.selectors import FAILURE_STATUSES, UNSENT_STATUSES
from integrations.models import SyncJob

logger = logging.getLogger(__name__)

TOP_REASONS = 5


def _admin_emails() -> list[str]:
    users = get_user_model().objects.filter(is_active=True, groups__name=Role.ADMIN.value)
    return sorted(set(users.exclude(email="").values_list("email", flat=True)))


def job_url(job: SyncJob) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("jobs:detail", args=[job.pk])


def _body(job: SyncJob) -> str:
    lines = [
        f"{job.get_kind_display()} job {job.pk} on {job.connection_name} ended "
        f"{job.get_status_display().lower()}.",
        "",
        f"Started by: {job.started_by_name or 'system'} ({job.get_source_display()}"
        + (f": {job.source_label}" if job.source_label else "")
        + ")",
        f"Items: {job.total}",
        f"  succeeded: {job.n_succeeded}",
        f"  failed: {job.n_failed}",
        f"  not sent: {job.n_skipped}",
        "",
    ]
    if job.error_message:
        lines += ["Reason:", f"  {job.error_message}", ""]
    reasons = (
        job.items.filter(status__in=UNSENT_STATUSES)
        .exclude(error_message="")
        .order_by()
        .values_list("error_message")
        .annotate(n=Count("id"))
        .order_by("-n")[:TOP_REASONS]
    )
    if reasons:
        lines.append("Most frequent item errors:")
        lines += [f"  {n} record{'' if n == 1 else 's'}: {message}" for message, n in reasons]
        lines.append("")
    lines += [
        f"Details, the failed items and errors.csv: {job_url(job)}",
        "",
        "You receive this because you are an HR admin of the recipient dashboard.",
    ]
    return "\n".join(lines)


def job_finished(job_id: int) -> None:
    """Email every active HR admin when the job failed or partially failed."""
    job = SyncJob.objects.filter(pk=job_id).first()
    if job is None or job.status not in FAILURE_STATUSES:
        return
    recipients = _admin_emails()
    if not recipients:
        logger.warning(
            "Job %s %s, but no active HR admin has an email address.", job.pk, job.status
        )
        return
    subject = f"Sync job {job.get_status_display().lower()}: {job.connection_name} (job {job.pk})"
    send_mail(subject, _body(job), None, recipients)
