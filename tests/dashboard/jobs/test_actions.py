"""Admins cancel, pause, resume and retry jobs; managers acknowledge failures. All audited."""

from __future__ import annotations

import pytest

from dashboard.audit.models import AuditEvent
from integrations.models import ItemStatus, JobKind, JobSource, JobStatus, SyncJob
from tests.factories import SyncJobFactory

pytestmark = pytest.mark.django_db


def messages_of(client, url: str) -> str:
    return client.get(url).content.decode().split('<ul class="messages"', 1)[-1].split("</ul>")[0]


def test_an_admin_cancels_a_running_job_audited_with_a_message(
    admin_client, admin_user, running_job
):
    response = admin_client.post(f"/jobs/{running_job.pk}/cancel/")
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{running_job.pk}/"
    running_job.refresh_from_db()
    assert running_job.cancel_requested
    event = AuditEvent.objects.get(action="job.cancelled")
    assert event.actor == admin_user
    assert event.target_type == "syncjob" and event.target_id == str(running_job.pk)
    assert f"Job {running_job.pk} is stopping" in messages_of(admin_client, response["Location"])


def test_cancelling_a_finished_job_says_why_and_changes_nothing(admin_client, failed_job):
    response = admin_client.post(f"/jobs/{failed_job.pk}/cancel/")
    assert response.status_code == 302
    assert "This job has already finished." in messages_of(admin_client, response["Location"])
    failed_job.refresh_from_db()
    assert not failed_job.cancel_requested
    assert not AuditEvent.objects.filter(action="job.cancelled").exists()


def test_cancelling_twice_is_refused_the_second_time(admin_client, running_job):
    admin_client.post(f"/jobs/{running_job.pk}/cancel/")
    response = admin_client.post(f"/jobs/{running_job.pk}/cancel/")
    assert "This job is already stopping." in messages_of(admin_client, response["Location"])
    assert AuditEvent.objects.filter(action="job.cancelled").count() == 1


def test_an_admin_pauses_and_resumes_a_queued_job(admin_client, admin_user, connection):
    job = SyncJobFactory(connection=connection, status=JobStatus.QUEUED, total=3)
    response = admin_client.post(f"/jobs/{job.pk}/pause/")
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.pause_requested
    assert "pausing" in messages_of(admin_client, response["Location"])

    response = admin_client.post(f"/jobs/{job.pk}/resume/")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and not job.pause_requested
    assert f"Job {job.pk} is queued to go on." in messages_of(admin_client, response["Location"])
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor"))
    assert actions == [("job.paused", admin_user.pk), ("job.resumed", admin_user.pk)]


def test_resuming_a_job_that_is_not_paused_is_an_error_message(admin_client, running_job):
    response = admin_client.post(f"/jobs/{running_job.pk}/resume/")
    assert "Only a paused job can be resumed." in messages_of(admin_client, response["Location"])
    assert not AuditEvent.objects.exists()


def test_a_pull_cannot_be_paused(admin_client, connection):
    job = SyncJobFactory(connection=connection, kind=JobKind.PULL, status=JobStatus.RUNNING)
    response = admin_client.post(f"/jobs/{job.pk}/pause/")
    assert "Only a queued or running push can be paused." in messages_of(
        admin_client, response["Location"]
    )


def test_retry_creates_a_linked_job_of_the_failed_and_unsent_records(
    admin_client, admin_user, failed_job
):
    response = admin_client.post(f"/jobs/{failed_job.pk}/retry/")
    retry = SyncJob.objects.get(retry_of=failed_job)
    assert response["Location"] == f"/jobs/{retry.pk}/"
    assert retry.kind == JobKind.RETRY and retry.source == JobSource.RETRY
    assert retry.started_by == admin_user
    assert retry.total == 3
    assert sorted(retry.items.values_list("identifier", flat=True)) == sorted(
        failed_job.items.filter(status__in=[ItemStatus.FAILED, ItemStatus.SKIPPED]).values_list(
            "identifier", flat=True
        )
    )
    event = AuditEvent.objects.get(action="job.retried")
    assert event.target_id == str(failed_job.pk)
    assert event.changes == {"retried_as": {"before": None, "after": retry.pk}}
    page = admin_client.get(response["Location"]).content.decode()
    assert f"Retrying 3 failed or unsent items of job {failed_job.pk} as job {retry.pk}." in page
    assert f"Retry of job {failed_job.pk}" in page


def test_retrying_a_running_job_is_refused_with_a_message(admin_client, running_job):
    response = admin_client.post(f"/jobs/{running_job.pk}/retry/")
    assert response["Location"] == f"/jobs/{running_job.pk}/"
    assert "Wait for the job to finish" in messages_of(admin_client, response["Location"])
    assert SyncJob.objects.count() == 1


@pytest.mark.parametrize("action", ["cancel", "pause", "resume", "retry"])
@pytest.mark.parametrize("role", ["support", "manager"])
def test_only_admins_steer_jobs(role_clients, running_job, action, role):
    response = role_clients[role].post(f"/jobs/{running_job.pk}/{action}/")
    assert response.status_code == 403
    running_job.refresh_from_db()
    assert running_job.status == JobStatus.RUNNING and not running_job.cancel_requested
    assert SyncJob.objects.count() == 1


@pytest.mark.parametrize("action", ["cancel", "pause", "resume", "retry", "acknowledge"])
def test_steering_takes_only_post(admin_client, manager_client, running_job, action):
    client = manager_client if action == "acknowledge" else admin_client
    assert client.get(f"/jobs/{running_job.pk}/{action}/").status_code == 405


def test_a_manager_acknowledges_a_failure_with_a_comment_shown_on_the_page(
    manager_client, manager_user, failed_job
):
    response = manager_client.post(
        f"/jobs/{failed_job.pk}/acknowledge/",
        {"comment": "Duplicates were expected; HR fixes the 503s tomorrow."},
    )
    assert response.status_code == 302
    failed_job.refresh_from_db()
    assert failed_job.acknowledged_by == manager_user
    assert failed_job.acknowledgement == "Duplicates were expected; HR fixes the 503s tomorrow."
    event = AuditEvent.objects.get(action="job.acknowledged")
    assert event.actor == manager_user and event.target_id == str(failed_job.pk)
    page = manager_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert f"Job {failed_job.pk} acknowledged." in page
    assert "<strong>mia</strong> acknowledged this job" in page
    assert "Duplicates were expected; HR fixes the 503s tomorrow." in page
    assert f'action="/jobs/{failed_job.pk}/acknowledge/"' not in page  # done: no form


def test_an_acknowledgement_needs_a_comment_of_at_most_1000_characters(manager_client, failed_job):
    for comment in ("", "   ", "x" * 1001):
        response = manager_client.post(f"/jobs/{failed_job.pk}/acknowledge/", {"comment": comment})
        assert response.status_code == 422
        assert 'class="field has-error"' in response.content.decode()
    failed_job.refresh_from_db()
    assert failed_job.acknowledged_at is None
    assert not AuditEvent.objects.exists()


def test_only_failed_jobs_can_be_acknowledged(manager_client, running_job):
    response = manager_client.post(f"/jobs/{running_job.pk}/acknowledge/", {"comment": "ok"})
    assert "Only failed or partially failed jobs can be acknowledged." in messages_of(
        manager_client, response["Location"]
    )
    running_job.refresh_from_db()
    assert running_job.acknowledged_at is None


@pytest.mark.parametrize("role", ["support", "admin"])
def test_support_and_admins_cannot_acknowledge(role_clients, failed_job, role):
    """By design (roles.py): acknowledging is the managers' review step."""
    response = role_clients[role].post(f"/jobs/{failed_job.pk}/acknowledge/", {"comment": "seen"})
    assert response.status_code == 403
    failed_job.refresh_from_db()
    assert failed_job.acknowledged_at is None
    page = role_clients[role].get(f"/jobs/{failed_job.pk}/").content.decode()
    assert "Not acknowledged yet." in page
    assert "/acknowledge/" not in page
