"""Guard rails: the test list and its confirmation, the rate limit, one send per form."""

from __future__ import annotations

import html
import uuid

import pytest

from dashboard.audit.models import AuditEvent
from dashboard.campaigns.models import AllowlistEntry, TestSend
from tests.dashboard.campaigns.helpers import URL, form_data, preview, send

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _digest(page: str) -> str:
    return page.split('name="previewed" value="', 1)[1].split('"', 1)[0]


def test_the_preview_shows_the_exact_body_and_masks_the_secret(admin_client, parcelvoy, sandbox):
    secret = sandbox.credentials["parcelvoy"]["secret_key"]
    page = html.unescape(preview(admin_client, form_data(parcelvoy)).content.decode())
    request = page.split('<pre class="request"', 1)[1].split("</pre>", 1)[0]
    assert f"{sandbox.url}/parcelvoy/api/client/campaigns/1/trigger" in request
    assert f"Authorization: Bearer sk_••••{secret[-4:]}" in request
    assert '"external_id": "emp-1001"' in request and '"first_name": "Ada"' in request
    assert secret not in page
    assert sandbox.counters()["triggers"] == [], "a preview sends nothing"


def test_outside_the_test_list_send_needs_a_confirmation_naming_the_person(
    admin_client, parcelvoy, sandbox
):
    data = form_data(parcelvoy)
    page = html.unescape(preview(admin_client, data).content.decode())
    assert "Yes, send to ada@example.com, who is not on the test list" in page
    response = admin_client.post(URL, {**data, "action": "send", "previewed": _digest(page)})
    assert response.status_code == 422
    assert "ada@example.com is not on this connection&#x27;s test list: confirm" in (
        response.content.decode()
    )
    assert sandbox.counters()["triggers"] == []
    assert TestSend.objects.count() == 0
    # A confirmation for someone else does not count.
    response = admin_client.post(
        URL,
        {**data, "action": "send", "previewed": _digest(page), "confirm_outside": "x@y.com"},
    )
    assert response.status_code == 422 and sandbox.counters()["triggers"] == []
    send(admin_client, data, confirm=True)
    assert len(sandbox.counters()["triggers"]) == 1
    assert TestSend.objects.get().outside_allowlist is True


@pytest.mark.parametrize("entry", ["ada@example.com", "@example.com"])
def test_an_address_or_domain_on_the_test_list_sends_without_confirmation(
    admin_client, parcelvoy, sandbox, entry
):
    AllowlistEntry.objects.create(connection=parcelvoy, value=entry)
    data = form_data(parcelvoy, email="Ada@Example.com")
    page = preview(admin_client, data).content.decode()
    assert "is on the test list" in page and 'name="confirm_outside"' not in page
    send(admin_client, data, confirm=False)
    assert len(sandbox.counters()["triggers"]) == 1
    assert TestSend.objects.get().outside_allowlist is False


def test_a_form_changed_after_its_preview_is_previewed_again(admin_client, parcelvoy, sandbox):
    data = form_data(parcelvoy)
    digest = _digest(preview(admin_client, data).content.decode())
    changed = {**data, "email": "bob@example.com", "action": "send", "previewed": digest}
    changed["confirm_outside"] = "bob@example.com"
    response = admin_client.post(URL, changed)
    assert response.status_code == 422
    assert "The form changed after the preview" in response.content.decode()
    assert sandbox.counters()["triggers"] == []


def test_past_the_rate_limit_nothing_is_sent(admin_client, parcelvoy, sandbox, settings):
    settings.TEST_SEND_RATE_LIMIT_PER_MINUTE = 2
    for _ in range(2):
        send(admin_client, form_data(parcelvoy))
    data = form_data(parcelvoy)
    response = send(admin_client, data)
    page = html.unescape(response.content.decode())
    assert response.status_code == 422
    assert "You have sent 2 tests in the last minute; the limit is 2 a minute." in page
    assert "Nothing was sent" in page
    assert 'value="emp-1001"' in page
    assert len(sandbox.counters()["triggers"]) == 2
    assert TestSend.objects.count() == 2


def test_the_rate_limit_is_per_user(admin_client, parcelvoy, sandbox, settings):
    from tests.factories import UserFactory

    settings.TEST_SEND_RATE_LIMIT_PER_MINUTE = 1
    other = UserFactory(username="grace", role="admin")
    TestSend.objects.create(
        request_id=uuid.uuid4(),
        user=other,
        user_name="grace",
        connection=parcelvoy,
        connection_name="x",
        campaign_id=1,
        channel="email",
        address_masked="g•••@x.com",
    )
    send(admin_client, form_data(parcelvoy))
    assert len(sandbox.counters()["triggers"]) == 1


def test_a_double_submit_sends_once_and_shows_the_first_result(admin_client, parcelvoy, sandbox):
    data = form_data(parcelvoy)
    page = preview(admin_client, data).content.decode()
    payload = {**data, "action": "send", "previewed": _digest(page)}
    payload["confirm_outside"] = "ada@example.com"
    first = admin_client.post(URL, payload)
    second = admin_client.post(URL, payload)
    assert len(sandbox.counters()["triggers"]) == 1
    assert TestSend.objects.count() == 1
    assert "Parcelvoy accepted the trigger" in second.content.decode()
    assert "This form was already submitted" in second.content.decode()
    assert "already submitted" not in first.content.decode()
    assert AuditEvent.objects.filter(action="campaign.test_sent").count() == 1
