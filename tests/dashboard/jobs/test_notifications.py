"""HR admins get an email when a job fails or partially fails; never for a success."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from dashboard.jobs.notifications import job_finished
from integrations.models import JobStatus
from tests.factories import ConnectionFactory, SyncJobFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins(db):
    UserFactory(username="ada", role="admin", email="ada@example.com")
    UserFactory(username="alan", role="admin", email="alan@example.com")
    UserFactory(username="gone", role="admin", email="gone@example.com", is_active=False)
    UserFactory(username="quiet", role="admin", email="")
    UserFactory(username="sam", role="support", email="sam@example.com")
    UserFactory(username="mia", role="manager", email="mia@example.com")


def test_finished_hooks_setting_names_the_notification():
    assert "dashboard.jobs.notifications.job_finished" in django_settings.SYNC_JOB_FINISHED_HOOKS


def test_a_partial_failure_emails_every_active_admin_with_counts_reasons_and_a_link(
    admins, failed_job, mailoutbox, settings
):
    settings.SITE_URL = "https://dash.example.com/"
    job_finished(failed_job.pk)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == ["ada@example.com", "alan@example.com"]
    assert mail.subject == f"Sync job partially failed: Acme RedFlag (job {failed_job.pk})"
    assert "Items: 5" in mail.body
    assert "succeeded: 2" in mail.body and "failed: 2" in mail.body
    assert "not sent: 1" in mail.body
    assert "1 record: A recipient with this email already exists." in mail.body
    assert f"https://dash.example.com/jobs/{failed_job.pk}/" in mail.body


def test_a_failed_job_email_gives_the_reason(admins, mailoutbox):
    job = SyncJobFactory(
        connection=ConnectionFactory(name="Gifts"),
        status=JobStatus.FAILED,
        error_code="Unauthorized",
        error_message="The provider refused the credentials: invalid token. Nothing more was sent.",
    )
    job_finished(job.pk)
    (mail,) = mailoutbox
    assert mail.subject == f"Sync job failed: Gifts (job {job.pk})"
    assert "Reason:\n  The provider refused the credentials: invalid token." in mail.body
    assert f"http://127.0.0.1:8000/jobs/{job.pk}/" in mail.body


@pytest.mark.parametrize(
    "status",
    [JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.RUNNING, JobStatus.QUEUED],
)
def test_no_email_unless_the_job_failed(admins, connection, mailoutbox, status):
    job_finished(SyncJobFactory(connection=connection, status=status).pk)
    assert mailoutbox == []


def test_an_unknown_job_sends_nothing_and_does_not_raise(admins, mailoutbox):
    job_finished(424242)
    assert mailoutbox == []


def test_the_email_never_carries_a_credential_or_a_payload(admins, mailoutbox, failed_job):
    connection = ConnectionFactory(name="Secretive", plain_secret="tok_super_secret_value_9876")
    failed_job.connection = connection
    failed_job.save()
    failed_job.items.filter(seq=2).update(payload={"email": "x@example.com", "ssn": "078-05-1120"})
    job_finished(failed_job.pk)
    (mail,) = mailoutbox
    text = mail.subject + mail.body
    assert "tok_super_secret_value_9876" not in text and "9876" not in text
    assert "078-05-1120" not in text


def test_no_admin_with_an_email_means_no_email(db, connection, mailoutbox):
    UserFactory(username="quiet", role="admin", email="")
    job_finished(SyncJobFactory(connection=connection, status=JobStatus.FAILED).pk)
    assert mailoutbox == []
