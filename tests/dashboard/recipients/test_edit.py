"""Editing a recipient against the sandbox: only changed, enabled fields are sent; bad input,
provider errors and concurrent changes are each answered plainly, with the input kept."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from dashboard.audit.models import AuditEvent
from integrations.models import FieldSetting, MirroredRecipient
from tests.dashboard.recipients.helpers import (
    edited,
    form_data,
    sandbox_connection,
    unique_email,
    writes,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def edit_url(row) -> str:
    return f"/connections/{row.connection_id}/recipients/{row.remote_id}/edit/"


def open_form(client, row) -> dict[str, list[str]]:
    response = client.get(edit_url(row))
    assert response.status_code == 200
    return form_data(response.content.decode())


def test_a_changed_enabled_field_is_saved_at_the_provider_mirrored_and_audited(
    support_client, support_user, redflag, remote, fetch
):
    _, row = remote(redflag, department="Sales")
    data = open_form(support_client, row)

    response = support_client.post(edit_url(row), edited(data, firstName="Zoey"))

    assert response.status_code == 302
    assert response["Location"] == f"/connections/{redflag.pk}/recipients/{row.remote_id}/"
    live = fetch(redflag, row.remote_id)
    assert live.first_name == "Zoey"
    assert live.last_name == "Müller" and live.raw["department"] == "Sales"
    row.refresh_from_db()
    assert row.first_name == "Zoey" and row.name_search == "zoey muller"
    assert row.remote_modified_at == live.modified_at
    event = AuditEvent.objects.get(action="recipient.updated", target_id=str(row.pk))
    assert event.actor == support_user
    assert event.changes == {"firstName": {"before": "Zoë", "after": "Zoey"}}
    assert row.email in event.summary and "firstName" in event.summary
    page = support_client.get(response["Location"]).content.decode()
    assert "Saved at RedFlag: First name." in page


def test_saving_an_untouched_form_sends_nothing(support_client, redflag, remote, sandbox):
    _, row = remote(redflag)
    data = open_form(support_client, row)
    before = writes(sandbox, "redflag")

    response = support_client.post(edit_url(row), data, follow=True)

    assert "Nothing was changed, so nothing was sent." in response.content.decode()
    assert writes(sandbox, "redflag") == before
    assert not AuditEvent.objects.filter(action="recipient.updated").exists()


def test_the_form_offers_enabled_fields_and_shows_disabled_ones_read_only_with_why(
    support_client, redflag, remote
):
    _, row = remote(redflag, department="Sales", tags=[{"key": "z_costCentre", "value": "CC-7"}])
    body = support_client.get(edit_url(row)).content.decode()

    assert 'name="firstName"' in body and 'name="tags__z_team"' in body
    assert 'name="mobile"' in body and 'name="mobileCountry"' in body  # a phone with country
    assert 'name="department"' not in body and 'name="tags__z_costCentre"' not in body
    department = body.split('id="ro-department"', 1)[1].split("</div>", 1)[0]
    assert "Sales" in department and "disabled in field settings" in department
    assert "CC-7" in body.split('id="ro-tags__z_costCentre"', 1)[1][:400]
    # RedFlag finds a record by its email: the update takes none.
    assert "the address identifies the record" in body.split('id="ro-email"', 1)[1][:600]
    assert 'type="date"' in body and "Sent as YYYYMMDD." in body
    assert '<option value="GB">United Kingdom</option>' in body


def test_an_enabled_tag_is_saved_and_the_disabled_tag_is_carried_unchanged(
    support_client, redflag, remote, fetch
):
    tags = [{"key": "z_team", "value": "Blue"}, {"key": "z_costCentre", "value": "CC-7"}]
    _, row = remote(redflag, tags=tags)
    data = open_form(support_client, row)

    response = support_client.post(edit_url(row), edited(data, tags__z_team="Green"))

    assert response.status_code == 302
    live_tags = {t["key"]: t["value"] for t in fetch(redflag, row.remote_id).fields["tags"]}
    assert live_tags == {"z_team": "Green", "z_costCentre": "CC-7"}
    event = AuditEvent.objects.get(action="recipient.updated")
    assert event.changes == {"tags.z_team": {"before": "Blue", "after": "Green"}}


def test_a_disabled_field_forged_into_the_post_is_refused_and_nothing_is_sent(
    support_client, redflag, remote, sandbox, fetch
):
    _, row = remote(redflag, department="Sales", tags=[{"key": "z_costCentre", "value": "CC-7"}])
    data = open_form(support_client, row)
    before = writes(sandbox, "redflag")

    for forged in ({"department": "Board"}, {"tags__z_costCentre": "CC-0"}, {"email": "x@y.z"}):
        response = support_client.post(edit_url(row), edited(data, firstName="Zoey", **forged))
        body = response.content.decode()
        assert response.status_code == 422, forged
        assert "cannot be changed here" in body and "Nothing was sent." in body

    assert writes(sandbox, "redflag") == before
    live = fetch(redflag, row.remote_id)
    assert live.first_name == "Zoë" and live.raw["department"] == "Sales"


def test_an_invalid_custom_field_key_forged_into_the_post_is_refused(
    support_client, redflag, remote, sandbox
):
    _, row = remote(redflag)
    data = open_form(support_client, row)
    before = writes(sandbox, "redflag")

    response = support_client.post(edit_url(row), edited(data, **{"tags__cost centre": "x"}))

    assert response.status_code == 422
    assert "Invalid custom field key “cost centre”" in response.content.decode()
    assert writes(sandbox, "redflag") == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mobile", "12", "This is not a valid number for +44."),
        ("mobile", "call me", "Use digits only"),
        ("country", "XX", "Select a valid choice."),
        ("sfHireDate", "2024-13-45", "Enter a valid date."),
        ("sfHireDate", "yesterday", "Enter a valid date."),
        ("firstName", "", "This field is required."),
    ],
)
def test_invalid_redflag_input_is_refused_next_to_its_field_and_kept(
    support_client, redflag, remote, sandbox, field, value, message
):
    _, row = remote(redflag, mobile="7911123456", mobileCountry="44")
    data = open_form(support_client, row)
    before = writes(sandbox, "redflag")

    response = support_client.post(edit_url(row), edited(data, **{field: value}))
    body = response.content.decode()

    assert response.status_code == 422
    error = body.split(f'id="id_{field}_error"', 1)[1].split("</ul>", 1)[0]
    assert message in error
    if value and field != "country":
        assert f'value="{value}"' in body  # the input is kept
    assert writes(sandbox, "redflag") == before


def test_a_valid_phone_is_sent_without_its_country_code_and_any_formatting(
    support_client, redflag, remote, fetch
):
    _, row = remote(redflag)
    data = open_form(support_client, row)

    response = support_client.post(
        edit_url(row), edited(data, mobile="07911 123-456", mobileCountry="44")
    )

    assert response.status_code == 302
    live = fetch(redflag, row.remote_id)
    assert (live.raw["mobile"], live.raw["mobileCountry"]) == ("7911123456", "44")


def test_a_date_is_sent_in_the_providers_format(support_client, redflag, snappy, remote, fetch):
    _, rf_row = remote(redflag)
    response = support_client.post(
        edit_url(rf_row), edited(open_form(support_client, rf_row), sfHireDate="2024-02-29")
    )
    assert response.status_code == 302
    assert fetch(redflag, rf_row.remote_id).raw["sfHireDate"] == "20240229"

    _, sn_row = remote(snappy)
    response = support_client.post(
        edit_url(sn_row), edited(open_form(support_client, sn_row), birthday="1990-05-17")
    )
    assert response.status_code == 302
    assert fetch(snappy, sn_row.remote_id).raw["birthday"].startswith("1990-05-17")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address."),
        ("mobilePhone", "7911 123456", "Start with + and the country code"),
        ("mobilePhone", "+44 12", "This is not a valid phone number."),
        ("country", "Narnia", "Select a valid choice."),
        ("birthday", "17/05/1990", "Enter a valid date."),
    ],
)
def test_invalid_snappy_input_is_refused_next_to_its_field(
    support_client, snappy, remote, sandbox, field, value, message
):
    _, row = remote(snappy)
    data = open_form(support_client, row)
    before = writes(sandbox, "snappy")

    response = support_client.post(edit_url(row), edited(data, **{field: value}))

    assert response.status_code == 422
    error = response.content.decode().split(f'id="id_{field}_error"', 1)[1].split("</ul>", 1)[0]
    assert message in error
    assert writes(sandbox, "snappy") == before


def test_snappy_accounts_are_picked_from_the_list_and_replace_the_whole_list(
    support_client, snappy, remote, sandbox, fetch
):
    accounts = [a["id"] for a in sandbox.state()["snappy"]["accounts"]]
    _, row = remote(snappy, accounts=accounts[:1])
    body = support_client.get(edit_url(row)).content.decode()
    assert "Replaces the whole list" in body
    assert "fetch, change" not in body  # the API's rule, which the form applies itself
    for account_id in accounts:
        assert f'value="{account_id}"' in body
    data = form_data(body)
    assert data["accounts"] == accounts[:1]

    response = support_client.post(edit_url(row), edited(data, accounts=accounts[1:3]))

    assert response.status_code == 302
    assert fetch(snappy, row.remote_id).fields["accounts"] == accounts[1:3]


def test_snappy_provider_field_errors_appear_next_to_their_field(
    support_client, snappy, remote, fetch
):
    """Snappy's 400 names the field (``path``); the message goes beside it, input kept."""
    _, row = remote(snappy, birthday="1990-05-17")
    data = open_form(support_client, row)

    response = support_client.post(edit_url(row), edited(data, birthday="", firstName="Zoey"))
    body = response.content.decode()

    assert response.status_code == 422
    error = body.split('id="id_birthday_error"', 1)[1].split("</ul>", 1)[0]
    assert "must match format" in error
    assert 'value="Zoey"' in body
    assert fetch(snappy, row.remote_id).first_name == "Zoë"


def test_an_email_already_in_use_is_a_409_shown_at_the_email_field(
    support_client, snappy, remote, fetch
):
    other, _ = remote(snappy)
    _, row = remote(snappy)
    data = open_form(support_client, row)

    response = support_client.post(edit_url(row), edited(data, email=other.email))
    body = response.content.decode()

    assert response.status_code == 409
    error = body.split('id="id_email_error"', 1)[1].split("</ul>", 1)[0]
    assert "Another recipient already uses this email address." in error
    assert f'value="{other.email}"' in body
    assert fetch(snappy, row.remote_id).email == row.email


def test_a_recipient_deleted_meanwhile_is_a_404_saying_so(support_client, redflag, remote, sandbox):
    from tests.dashboard.recipients.test_detail import sandbox_client_delete

    _, row = remote(redflag)
    data = open_form(support_client, row)
    sandbox_client_delete(sandbox, redflag, row.remote_id)

    response = support_client.post(edit_url(row), edited(data, firstName="Zoey"))

    assert response.status_code == 404
    assert "RedFlag no longer has this recipient" in response.content.decode()
    assert not AuditEvent.objects.filter(action="recipient.updated").exists()


def test_a_timeout_when_saving_keeps_the_input_and_says_what_to_do(
    support_client, redflag, remote, sandbox
):
    _, row = remote(redflag)
    data = open_form(support_client, row)
    sandbox.configure(faults={"rate_timeout": 1.0, "timeout_seconds": 2})

    response = support_client.post(edit_url(row), edited(data, firstName="Zoey"))
    body = response.content.decode()

    assert response.status_code == 503
    assert "RedFlag did not answer in time." in body
    assert 'value="Zoey"' in body
    assert not AuditEvent.objects.filter(action="recipient.updated").exists()


def test_editing_with_unreadable_credentials_says_so_and_sends_nothing(
    support_client, sandbox, remote, settings
):
    conn = sandbox_connection(sandbox, "redflag")
    _, row = remote(conn)
    data = open_form(support_client, row)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    before = writes(sandbox, "redflag")

    page = support_client.get(edit_url(row))
    assert page.status_code == 200
    assert "Credentials unreadable" in page.content.decode()
    assert 'id="recipient-form"' not in page.content.decode()

    response = support_client.post(edit_url(row), edited(data, firstName="Zoey"))
    assert response.status_code == 503
    assert "Credentials unreadable" in response.content.decode()
    assert writes(sandbox, "redflag") == before


def test_a_change_made_elsewhere_meanwhile_is_shown_and_never_overwritten_silently(
    support_client, redflag, remote, touch, fetch
):
    _, row = remote(redflag, department="Sales")
    data = open_form(support_client, row)
    touch(redflag, row.remote_id, {"firstName": "Zoé", "lastName": "Martin"})

    response = support_client.post(edit_url(row), edited(data, firstName="Zoey"))
    body = response.content.decode()

    assert response.status_code == 409
    assert "RedFlag changed this recipient after you opened the form" in body
    assert "both changed" in body  # first name: mine Zoey, theirs Zoé
    assert "Zoey" in body and "Zoé" in body and "Martin" in body
    live = fetch(redflag, row.remote_id)
    assert (live.first_name, live.last_name) == ("Zoé", "Martin")  # nothing was sent

    # Keep mine: the conflict page's form carries the new version; only my field is sent.
    again = form_data(body)
    assert again["firstName"] == ["Zoey"] and again["lastName"] == ["Martin"]
    response = support_client.post(edit_url(row), {**again, "decision": ["mine"]})
    assert response.status_code == 302
    live = fetch(redflag, row.remote_id)
    assert (live.first_name, live.last_name) == ("Zoey", "Martin")


def test_take_theirs_reopens_the_form_with_the_providers_values(
    support_client, redflag, remote, touch
):
    _, row = remote(redflag)
    data = open_form(support_client, row)
    touch(redflag, row.remote_id, {"lastName": "Martin"})
    body = support_client.post(edit_url(row), edited(data, firstName="Zoey")).content.decode()
    assert f'href="{edit_url(row)}">Take theirs</a>' in body

    reopened = open_form(support_client, row)
    assert reopened["lastName"] == ["Martin"] and reopened["firstName"] == ["Zoë"]


def test_a_disabled_connection_cannot_be_edited(support_client, redflag, remote, sandbox):
    _, row = remote(redflag)
    redflag.is_active = False
    redflag.save()
    before = sandbox.counters()["requests"]

    body = support_client.get(edit_url(row)).content.decode()

    assert "This connection is disabled" in body and 'id="recipient-form"' not in body
    assert sandbox.counters()["requests"] == before


def test_a_manager_may_not_edit(manager_client, redflag, remote):
    _, row = remote(redflag)
    assert manager_client.get(edit_url(row)).status_code == 403
    assert manager_client.post(edit_url(row), {"firstName": "X"}).status_code == 403


def test_a_field_disabled_after_the_form_was_opened_is_refused(
    support_client, redflag, remote, sandbox
):
    _, row = remote(redflag)
    data = open_form(support_client, row)
    FieldSetting.objects.create(connection=redflag, path="firstName", enabled=False)
    before = writes(sandbox, "redflag")

    response = support_client.post(edit_url(row), edited(data, firstName="Zoey"))

    assert response.status_code == 422
    assert "First name is disabled in field settings" in response.content.decode()
    assert writes(sandbox, "redflag") == before
    assert MirroredRecipient.objects.get(pk=row.pk).first_name == "Zoë"


def test_a_new_email_address_for_snappy_is_saved(support_client, snappy, remote, fetch):
    _, row = remote(snappy)
    new = unique_email("renamed")
    response = support_client.post(edit_url(row), edited(open_form(support_client, row), email=new))
    assert response.status_code == 302
    assert fetch(snappy, row.remote_id).email == new
    assert MirroredRecipient.objects.get(pk=row.pk).email_lower == new.lower()
