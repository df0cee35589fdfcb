"""Creating and deleting recipients: admins only, through the provider, mirrored and audited."""

from __future__ import annotations

import pytest

from dashboard.audit.models import AuditEvent
from integrations.models import MirroredRecipient
from tests.dashboard.recipients.helpers import edited, form_data, unique_email, writes

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def new_url(conn) -> str:
    return f"/connections/{conn.pk}/recipients/new/"


def test_an_admin_creates_a_redflag_recipient_mirrored_and_audited(
    admin_client, admin_user, redflag, fetch
):
    body = admin_client.get(new_url(redflag)).content.decode()
    email = unique_email("new")
    data = edited(
        form_data(body),
        email=email,
        firstName="Łukasz",
        lastName="Nowak",
        tags__z_team="Red",
        country="PL",
    )

    response = admin_client.post(new_url(redflag), data)

    assert response.status_code == 302
    row = MirroredRecipient.objects.get(connection=redflag, email=email)
    assert response["Location"] == f"/connections/{redflag.pk}/recipients/{row.remote_id}/"
    live = fetch(redflag, row.remote_id)
    assert (live.first_name, live.raw["country"]) == ("Łukasz", "PL")
    assert live.fields["tags"] == [{"key": "z_team", "value": "Red"}]
    event = AuditEvent.objects.get(action="recipient.created")
    assert event.actor == admin_user
    assert event.changes["email"] == {"before": None, "after": email}
    assert event.changes["tags.z_team"] == {"before": None, "after": "Red"}


def test_create_with_an_email_in_use_shows_it_at_the_email_field(admin_client, redflag, remote):
    existing, _ = remote(redflag)
    data = edited(
        form_data(admin_client.get(new_url(redflag)).content.decode()),
        email=existing.email,
        firstName="Copy",
        lastName="Cat",
    )

    response = admin_client.post(new_url(redflag), data)
    body = response.content.decode()

    assert response.status_code == 409
    error = body.split('id="id_email_error"', 1)[1].split("</ul>", 1)[0]
    assert "Another recipient already uses this email address." in error
    assert "is already in use by another account" in body  # RedFlag's own words, too
    assert 'value="Copy"' in body


def test_create_refuses_missing_required_fields_before_sending(admin_client, redflag, sandbox):
    before = writes(sandbox, "redflag")
    data = form_data(admin_client.get(new_url(redflag)).content.decode())
    response = admin_client.post(new_url(redflag), edited(data, email="", firstName="A"))
    assert response.status_code == 422
    assert writes(sandbox, "redflag") == before


def test_an_admin_creates_a_snappy_recipient_in_the_chosen_accounts(
    admin_client, snappy, sandbox, fetch
):
    accounts = [a["id"] for a in sandbox.state()["snappy"]["accounts"]]
    body = admin_client.get(new_url(snappy)).content.decode()
    assert "Replaces the whole list" in body
    email = unique_email("gift")
    data = edited(
        form_data(body),
        email=email,
        firstName="Ngozi",
        country="NG",
        accounts=accounts[:2],
        externalId="E-77",
    )

    response = admin_client.post(new_url(snappy), data)

    assert response.status_code == 302
    row = MirroredRecipient.objects.get(connection=snappy, email=email)
    live = fetch(snappy, row.remote_id)
    assert live.fields["accounts"] == accounts[:2] and live.external_id == "E-77"


def test_support_may_not_create_or_delete(support_client, redflag, remote):
    _, row = remote(redflag)
    assert support_client.get(new_url(redflag)).status_code == 403
    assert support_client.post(new_url(redflag), {"email": "a@b.c"}).status_code == 403
    delete = f"/connections/{redflag.pk}/recipients/{row.remote_id}/delete/"
    assert support_client.get(delete).status_code == 403
    assert support_client.post(delete, {"confirm": row.email}).status_code == 403


def test_delete_needs_the_email_typed_and_then_deletes_at_the_provider(
    admin_client, admin_user, redflag, remote, sandbox
):
    _, row = remote(redflag)
    url = f"/connections/{redflag.pk}/recipients/{row.remote_id}/delete/"
    before = writes(sandbox, "redflag")

    response = admin_client.post(url, {"confirm": "someone.else@example.com"})
    assert response.status_code == 422
    assert "Type the recipient&#x27;s email exactly" in response.content.decode()
    assert writes(sandbox, "redflag") == before

    response = admin_client.post(url, {"confirm": row.email.upper()})
    assert response.status_code == 302
    assert response["Location"] == f"/connections/{redflag.pk}/recipients/"
    row.refresh_from_db()
    assert row.gone_at is not None
    counters = sandbox.counters()["requests"]
    assert counters.get("redflag DELETE /int/v1/recipient/{email} 200") == 1
    event = AuditEvent.objects.get(action="recipient.deleted")
    assert event.actor == admin_user and event.changes["email"]["before"] == row.email
    page = admin_client.get(f"/connections/{redflag.pk}/recipients/?q={row.email}")
    assert row.remote_id not in page.content.decode()
