"""A cell fixed in the preview reaches the provider: the fixed row is confirmed and sent to
the RedFlag sandbox over HTTP by the sync engine, with the value as fixed."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports import services
from integrations.clients import client_for
from integrations.clients.redflag import RedFlagClient
from integrations.models import JobStatus, SyncItem
from integrations.sync.engine import job_execute
from tests.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SYNC_CLIENT_OPTIONS = {"read_timeout": 2.0, "backoff_base": 0.02, "total_timeout": 15}


def test_a_fixed_email_is_sent_to_the_provider_as_fixed(sandbox, admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    creds = sandbox.credentials["redflag"]
    conn = ConnectionFactory(
        provider="redflag", base_url=f"{sandbox.url}/redflag", plain_secret=creds["token"]
    )
    tag = uuid.uuid4().hex[:10]
    typo, fixed = f"zoe.{tag}(at)example.com", f"zoe.{tag}@example.com"
    text = f"email,firstName,lastName\r\n{typo},Zoë,Ångström\r\n"
    upload = SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")
    run = services.import_create(connection=conn, upload=upload, user=admin_user)
    assert run.n_invalid == 1

    services.import_fix_cell(import_run=run, number=2, column=0, value=fixed, user=admin_user)
    job = services.import_confirm(import_run=run, user=admin_user)
    job_execute(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    item = SyncItem.objects.get(job=job)
    assert item.identifier == fixed
    client = client_for(
        "redflag",
        base_url=conn.base_url,
        credentials=creds,
        settings={},
        enabled_fields={"email", "firstName", "lastName"},
        rate_limit=None,
    )
    assert isinstance(client, RedFlagClient)
    try:
        sent = client.get_recipient(item.remote_id)
    finally:
        client.close()
    assert (sent.fields["email"], sent.fields["firstName"], sent.fields["lastName"]) == (
        fixed,
        "Zoë",
        "Ångström",
    )
