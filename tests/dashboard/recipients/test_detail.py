"""One recipient: the provider's live record beside the mirror's copy, and their sync history."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from tests.dashboard.recipients.helpers import sandbox_connection, sandbox_writer
from tests.factories import SyncItemFactory, SyncJobFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def detail_url(row) -> str:
    return f"/connections/{row.connection_id}/recipients/{row.remote_id}/"


def test_the_live_record_is_shown_beside_the_mirror_with_differences_highlighted(
    support_client, redflag, remote, touch
):
    _, row = remote(redflag, department="Sales", tags=[{"key": "z_team", "value": "Blue"}])
    touch(redflag, row.remote_id, {"department": "Legal"})  # the mirror is now behind

    response = support_client.get(detail_url(row))
    body = response.content.decode()

    assert response.status_code == 200
    assert "Zoë Müller" in body and row.email in body
    assert "1 field differs between RedFlag and the mirror" in body
    differing = body.split('<tr class="differs">', 1)[1].split("</tr>", 1)[0]
    assert "Department" in differing and "Legal" in differing and "Sales" in differing
    assert "Blue" in body  # the tag, live and mirrored alike
    assert "not synced" in body  # department is disabled for this connection


def test_a_custom_field_the_connection_does_not_know_is_shown_read_only(
    support_client, redflag, remote
):
    """A tag set at the provider that the field settings do not list is shown, not synced."""
    _, row = remote(redflag, tags=[{"key": "z_badge", "value": "Gold"}])

    response = support_client.get(detail_url(row))
    body = response.content.decode()

    assert response.status_code == 200
    badge = body.split("z_badge", 1)[1].split("</tr>", 1)[0]
    assert "Gold" in badge and "unknown field" in badge


def test_an_unreachable_provider_shows_the_mirror_copy_with_a_notice(
    support_client, redflag, remote, sandbox
):
    _, row = remote(redflag)
    sandbox.configure(faults={"rate_503": 1.0})

    response = support_client.get(detail_url(row))
    body = response.content.decode()

    assert response.status_code == 200
    assert "RedFlag could not be reached." in body
    assert "Below is the mirror's copy" in body
    assert "Zoë" in body and "At RedFlag now" not in body


def test_a_timeout_shows_the_mirror_copy_with_a_notice(support_client, redflag, remote, sandbox):
    _, row = remote(redflag)
    sandbox.configure(faults={"rate_timeout": 1.0, "timeout_seconds": 2})

    body = support_client.get(detail_url(row)).content.decode()

    assert "RedFlag did not answer in time." in body
    assert row.email in body


def test_unreadable_credentials_show_the_mirror_copy_never_a_500(
    support_client, sandbox, remote, settings
):
    conn = sandbox_connection(sandbox, "redflag")
    _, row = remote(conn)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]  # the key was removed

    response = support_client.get(detail_url(row))
    body = response.content.decode()

    assert response.status_code == 200
    assert "Credentials unreadable" in body and "re-enter them" in body
    assert row.email in body


def test_a_recipient_deleted_at_the_provider_says_so(support_client, redflag, remote, sandbox):
    recipient, row = remote(redflag)
    sandbox_client_delete(sandbox, redflag, recipient.remote_id)

    body = support_client.get(detail_url(row)).content.decode()

    assert "RedFlag no longer has this recipient" in body


def sandbox_client_delete(sandbox, connection, remote_id):
    client = sandbox_writer(sandbox, connection)
    try:
        client.delete_recipient(remote_id)
    finally:
        client.close()


def test_a_recipient_gone_from_the_mirror_is_shown_without_asking_the_provider(
    support_client, redflag, remote, sandbox
):
    _, row = remote(redflag)
    row.gone_at = timezone.now()
    row.save()
    before = sandbox.counters()["requests"]

    body = support_client.get(detail_url(row)).content.decode()

    assert "no longer at RedFlag" in body
    assert sandbox.counters()["requests"] == before
    assert ">Edit</a>" not in body


def test_the_sync_items_that_touched_this_person_link_to_their_jobs(
    support_client, redflag, remote
):
    _, row = remote(redflag)
    by_email = SyncJobFactory(connection=redflag, status="partially_failed")
    SyncItemFactory(
        job=by_email,
        identifier=row.email.upper(),
        status="failed",
        error_message="RedFlag: Illegal parameters",
    )
    SyncItemFactory(job=by_email, identifier=row.email, status="failed", error_message="Refused")
    by_id = SyncJobFactory(connection=redflag, status="succeeded")
    SyncItemFactory(
        job=by_id, identifier="old@example.com", remote_id=row.remote_id, status="succeeded"
    )
    elsewhere = SyncJobFactory(status="succeeded")  # another connection, same email
    SyncItemFactory(job=elsewhere, identifier=row.email, status="succeeded")

    body = support_client.get(detail_url(row)).content.decode()

    assert f'href="/jobs/{by_email.pk}/"' in body
    assert f'href="/jobs/{by_id.pk}/"' in body
    assert f'href="/jobs/{elsewhere.pk}/"' not in body
    assert "Refused" in body


def test_an_unknown_remote_id_is_a_404(support_client, redflag):
    response = support_client.get(f"/connections/{redflag.pk}/recipients/nobody/")
    assert response.status_code == 404


def test_support_sees_edit_but_not_delete_and_admin_sees_both(
    support_client, admin_client, redflag, remote
):
    _, row = remote(redflag)
    support_page = support_client.get(detail_url(row)).content.decode()
    admin_page = admin_client.get(detail_url(row)).content.decode()
    assert ">Edit</a>" in support_page and "Delete…" not in support_page
    assert ">Edit</a>" in admin_page and "Delete…" in admin_page


def test_the_page_lists_test_sends_to_the_person_and_offers_one_to_admins(
    admin_client, support_client, redflag, remote
):
    import uuid

    from dashboard.campaigns.models import TestSend

    _, row = remote(redflag)
    TestSend.objects.create(
        connection_name="Demo campaigns",
        campaign_id=2,
        campaign_label="Shift reminder",
        channel="sms",
        address_masked="+44•••••1234",
        email_lower=row.email.lower(),
        outcome="sent",
        http_status=200,
        latency_ms=41,
        request_id=uuid.uuid4(),
    )
    TestSend.objects.create(
        connection_name="Demo campaigns",
        campaign_id=1,
        channel="email",
        address_masked="s•••@else.example",
        email_lower="someone@else.example",
        outcome="sent",
        request_id=uuid.uuid4(),
    )
    body = admin_client.get(detail_url(row)).content.decode()
    assert "2 · Shift reminder" in body and "+44•••••1234" in body
    assert "s•••@else.example" not in body
    assert f'/campaigns/test-send/?mirror={row.pk}"' in body
    assert "Send a test" not in support_client.get(detail_url(row)).content.decode()
