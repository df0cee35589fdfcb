"""The list of test sends, its filters and pages, the audit, the recipient page's selector,
prefilling from a person, and the test-list page."""

from __future__ import annotations

import json
import uuid

import pytest

from dashboard.audit.models import AuditEvent
from dashboard.campaigns import selectors
from dashboard.campaigns.models import AllowlistEntry, TestSend
from integrations.models import MirroredRecipient
from tests.dashboard.campaigns.helpers import URL, form_data, send
from tests.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def make_send(connection, user, **kwargs):
    defaults = dict(
        request_id=uuid.uuid4(),
        user=user,
        user_name=user.username,
        connection=connection,
        connection_name=connection.name,
        campaign_id=1,
        channel="email",
        address_masked="a•••@example.com",
        outcome="sent",
    )
    return TestSend.objects.create(**{**defaults, **kwargs})


def test_each_send_is_audited_with_the_address_masked_and_no_secret(
    admin_client, parcelvoy, sandbox
):
    send(admin_client, form_data(parcelvoy, channel="sms", campaign_id="2", phone="+447911123456"))
    event = AuditEvent.objects.get(action="campaign.test_sent")
    text = json.dumps(
        {"summary": event.summary, "target": event.target_repr, "changes": event.changes},
        ensure_ascii=False,
    )
    assert event.actor_name == "ada"
    assert "+44•••••3456" in text
    assert "7911123456" not in text
    secret = sandbox.credentials["parcelvoy"]["secret_key"]
    assert secret not in text and secret[-12:] not in text
    assert event.changes["outcome"]["after"] == "Sent"


def test_the_list_shows_sends_masked_and_filters_by_connection_channel_and_outcome(
    admin_client, admin_user, parcelvoy
):
    other = ConnectionFactory(provider="parcelvoy", name="Parcelvoy production")
    make_send(parcelvoy, admin_user, channel="email", address_masked="a•••@example.com")
    make_send(other, admin_user, channel="sms", address_masked="+44•••••1234", outcome="refused")
    page = admin_client.get(URL).content.decode()
    assert "a•••@example.com" in page and "+44•••••1234" in page
    page = admin_client.get(URL, {"f_channel": "sms"}).content.decode()
    assert "+44•••••1234" in page and "a•••@example.com" not in page
    page = admin_client.get(URL, {"f_outcome": "sent"}).content.decode()
    assert "a•••@example.com" in page and "+44•••••1234" not in page
    page = admin_client.get(URL, {"f_connection": other.pk}).content.decode()
    assert "+44•••••1234" in page and "a•••@example.com" not in page


def test_the_list_is_paginated_with_a_fixed_number_of_queries(
    admin_client, admin_user, parcelvoy, django_assert_max_num_queries
):
    for n in range(45):
        make_send(parcelvoy, admin_user, campaign_id=n + 1)
    with django_assert_max_num_queries(20):
        page = admin_client.get(URL).content.decode()
    assert "Page 1 of 3" in page
    assert "Page 3 of 3" in admin_client.get(URL, {"page": 3}).content.decode()


def test_the_recipient_selector_finds_a_persons_sends_by_email_or_external_id(
    admin_client, parcelvoy
):
    send(admin_client, form_data(parcelvoy, email="Zoe@Example.com", external_id="emp-77"))
    send(
        admin_client,
        form_data(
            parcelvoy,
            email="",
            channel="sms",
            campaign_id="2",
            phone="+447911123456",
            external_id="emp-77",
        ),
    )
    assert selectors.test_sends_for_recipient(email="zoe@example.com", external_id="").count() == 1
    assert (
        selectors.test_sends_for_recipient(email="zoe@example.com", external_id="emp-77").count()
        == 2
    )
    assert selectors.test_sends_for_recipient(email="", external_id="").count() == 0


def test_the_form_is_prefilled_from_a_mirrored_person(admin_client, parcelvoy):
    redflag = ConnectionFactory(provider="redflag")
    person = MirroredRecipient.objects.create(
        connection=redflag,
        remote_id="r1",
        email="zoe@example.com",
        first_name="Zoë",
        last_name="Adams",
        external_id="emp-9",
        phone="+447911123456",
    )
    page = admin_client.get(URL, {"connection": parcelvoy.pk, "mirror": person.pk}).content.decode()
    assert 'value="zoe@example.com"' in page and 'value="emp-9"' in page
    assert 'value="+447911123456"' in page
    assert f'<option value="{parcelvoy.pk}" selected>' in page


def test_the_form_is_prefilled_from_query_fields(admin_client, parcelvoy):
    page = admin_client.get(
        URL, {"email": "a@b.com", "external_id": "x-1", "phone": "+447911123456"}
    )
    text = page.content.decode()
    assert 'value="a@b.com"' in text and 'value="x-1"' in text


def test_people_search_finds_mirrored_people_by_name_or_email(admin_client):
    redflag = ConnectionFactory(provider="redflag", name="RedFlag staging")
    MirroredRecipient.objects.create(
        connection=redflag,
        remote_id="r2",
        email="zoe@example.com",
        first_name="Zoë",
        last_name="Adams",
        name_search="zoe adams",
        email_lower="zoe@example.com",
        external_id="emp-9",
    )
    htmx = {"HX-Request": "true"}
    by_name = admin_client.get("/campaigns/test-send/people/", {"q": "zoe"}, headers=htmx)
    text = by_name.content.decode()
    assert text.lstrip().startswith('<div id="people-results"')
    assert 'data-external-id="emp-9"' in text and "RedFlag staging" in text
    by_email = admin_client.get("/campaigns/test-send/people/", {"q": "zoe@ex"}, headers=htmx)
    assert 'data-email="zoe@example.com"' in by_email.content.decode()
    none = admin_client.get("/campaigns/test-send/people/", {"q": "nobody"}, headers=htmx)
    assert "No one in the mirrors matches" in none.content.decode()


def test_the_connection_picker_offers_only_campaign_connections(admin_client, parcelvoy):
    ConnectionFactory(provider="redflag", name="RedFlag only")
    page = admin_client.get(URL).content.decode()
    assert "Parcelvoy staging (Staging)" in page
    assert "RedFlag only" not in page


def test_an_admin_edits_the_test_list_and_it_is_audited(admin_client, parcelvoy):
    url = f"/campaigns/allowlist/{parcelvoy.pk}/"
    response = admin_client.post(url, {"value": "Ada <ada@x.com>"})
    assert response.status_code == 422
    assert "Enter only the address" in response.content.decode()
    for value in ("ada@example.com", "@Example.org", "+44 7911 123456"):
        assert admin_client.post(url, {"value": value, "note": "team"}).status_code == 302
    values = set(AllowlistEntry.objects.values_list("value", flat=True))
    assert values == {"ada@example.com", "@example.org", "+447911123456"}
    entry = AllowlistEntry.objects.get(value="@example.org")
    response = admin_client.post(f"{url}{entry.pk}/remove/")
    assert response.status_code == 302
    assert not AllowlistEntry.objects.filter(pk=entry.pk).exists()
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("campaign.allowlist_added") == 3
    assert actions.count("campaign.allowlist_removed") == 1


def test_the_test_list_page_is_only_for_campaign_connections(admin_client):
    redflag = ConnectionFactory(provider="redflag")
    response = admin_client.get(f"/campaigns/allowlist/{redflag.pk}/")
    assert response.status_code == 302 and response["Location"] == "/campaigns/test-send/"


def test_removing_an_entry_twice_is_harmless(admin_client, parcelvoy):
    entry = AllowlistEntry.objects.create(connection=parcelvoy, value="@example.com")
    url = f"/campaigns/allowlist/{parcelvoy.pk}/{entry.pk}/remove/"
    assert admin_client.post(url).status_code == 302
    assert admin_client.post(url).status_code == 302
    assert AuditEvent.objects.filter(action="campaign.allowlist_removed").count() == 1


def test_the_navigation_offers_test_send_to_admins_only(
    admin_client, support_client, manager_client
):
    for client, shown in ((admin_client, True), (support_client, False), (manager_client, False)):
        nav = client.get("/").content.decode().split('<nav class="sidebar"', 1)[1]
        assert (">Test send</a>" in nav.split("</nav>", 1)[0]) is shown
