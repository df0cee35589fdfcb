"""Sending through the campaign client to the sandbox: every reply in plain words, input kept."""

from __future__ import annotations

import html

import pytest

from dashboard.campaigns.models import Outcome, RememberedCampaign, TestSend
from tests.dashboard.campaigns.helpers import HTMX, URL, form_data, parcelvoy_connection, send

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def page_of(response) -> str:
    return html.unescape(response.content.decode())


def assert_kept(page: str, data: dict) -> None:
    for key in ("campaign_id", "external_id", "email", "timezone", "locale"):
        if data.get(key):
            assert f'value="{data[key]}"' in page, key


@pytest.mark.parametrize(
    ("variant", "words"), [("200", "HTTP 200 OK"), ("204", "HTTP 204 No Content")]
)
def test_both_success_answers_read_as_sent(admin_client, parcelvoy, sandbox, variant, words):
    sandbox.configure(variants={"parcelvoy_success": variant})
    data = form_data(parcelvoy)
    response = send(admin_client, data)
    page = page_of(response)
    assert response.status_code == 200
    assert f"Parcelvoy accepted the trigger ({words})." in page
    assert " ms</dd>" in page
    sent = TestSend.objects.get()
    assert (sent.outcome, sent.http_status) == (Outcome.SENT, int(variant))
    assert sent.latency_ms is not None
    assert_kept(page, data)
    [trigger] = sandbox.counters()["triggers"]
    assert trigger["user"] == {
        "external_id": "emp-1001",
        "email": "ada@example.com",
        "timezone": "Europe/London",
        "locale": "en-GB",
    }
    assert trigger["event"] == {"first_name": "Ada"}


def test_an_empty_event_is_sent_as_an_empty_object(admin_client, parcelvoy, sandbox):
    send(admin_client, form_data(parcelvoy, event=""))
    assert sandbox.counters()["triggers"][0]["event"] == {}


def test_a_422_is_shown_next_to_the_field_it_concerns(admin_client, parcelvoy, sandbox):
    # Campaign 2 is an SMS campaign: an email-only user lacks the phone Parcelvoy needs.
    data = form_data(parcelvoy, campaign_id="2")
    page = page_of(send(admin_client, data))
    message = "Parcelvoy refused the trigger: Must have required property 'phone' (HTTP 422)."
    assert "Not sent" in page and message in page
    assert "Must have required property 'phone'" in page.split('id="id_phone_error"', 1)[1][:300]
    assert TestSend.objects.get().reply_field == "phone"
    assert_kept(page, data)
    assert sandbox.counters()["triggers"] == []


def test_an_unknown_campaign_is_named_next_to_the_campaign_id(admin_client, parcelvoy):
    data = form_data(parcelvoy, campaign_id="99")
    page = page_of(send(admin_client, data))
    assert "Parcelvoy has no campaign 99 in this project (HTTP 404)." in page
    assert "Parcelvoy has no campaign 99" in page.split('id="id_campaign_id_error"', 1)[1][:300]
    assert TestSend.objects.get().outcome == Outcome.UNKNOWN_CAMPAIGN
    assert_kept(page, data)


def test_an_unknown_key_is_bad_credentials_not_an_unknown_campaign(admin_client, sandbox):
    conn = parcelvoy_connection(sandbox, plain_secret="sk_00000000-0000-0000-0000-000000000000")
    data = form_data(conn)
    page = page_of(send(admin_client, data))
    assert "Parcelvoy does not recognise this secret key (unknown or revoked)." in page
    assert "check the secret key on the connection's page" in page
    sent = TestSend.objects.get()
    assert (sent.outcome, sent.http_status) == (Outcome.BAD_CREDENTIALS, 404)
    assert_kept(page, data)


def test_a_malformed_key_answering_401_is_bad_credentials(admin_client, sandbox):
    conn = parcelvoy_connection(sandbox, plain_secret="not-a-parcelvoy-key")
    page = page_of(send(admin_client, form_data(conn)))
    assert "the secret key is missing or malformed" in page
    assert "not-a-parcelvoy-key" not in page
    sent = TestSend.objects.get()
    assert (sent.outcome, sent.http_status) == (Outcome.BAD_CREDENTIALS, 401)


def test_a_key_below_editor_role_answering_403_is_not_allowed(admin_client, sandbox):
    conn = parcelvoy_connection(
        sandbox, plain_secret=sandbox.credentials["parcelvoy"]["viewer_key"]
    )
    page = page_of(send(admin_client, form_data(conn)))
    assert "use a secret (sk_) key of a role of editor or above" in page
    sent = TestSend.objects.get()
    assert (sent.outcome, sent.http_status) == (Outcome.FORBIDDEN, 403)


def test_a_timeout_says_the_message_may_have_been_sent(admin_client, parcelvoy, sandbox):
    sandbox.configure(faults={"rate_timeout": 1.0, "timeout_seconds": 2})
    data = form_data(parcelvoy)
    page = page_of(send(admin_client, data))
    assert "No answer: it may have been sent" in page
    assert "Parcelvoy did not answer in time. The message may still have been sent" in page
    assert TestSend.objects.get().outcome == Outcome.TIMEOUT
    assert_kept(page, data)


def test_a_send_remembers_the_campaigns_label_channel_and_event(admin_client, parcelvoy):
    send(admin_client, form_data(parcelvoy, campaign_label="Welcome to the team"))
    remembered = RememberedCampaign.objects.get(connection=parcelvoy, campaign_id=1)
    assert remembered.label == "Welcome to the team"
    assert remembered.channel == "email"
    assert remembered.event_json == '{"first_name": "Ada"}'
    page = admin_client.get(URL).content.decode()
    assert '"label": "Welcome to the team"' in page  # the form's remembered-campaigns data
    # A later send without a label keeps the remembered one.
    send(admin_client, form_data(parcelvoy, campaign_label=""))
    latest = TestSend.objects.first()
    assert latest is not None and latest.campaign_label == "Welcome to the team"


def test_an_htmx_send_swaps_the_panel_and_refreshes_the_list(admin_client, parcelvoy):
    response = send(admin_client, form_data(parcelvoy), **HTMX)
    assert response.status_code == 200
    assert "test-sent" in response["HX-Trigger"]
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="send-panel"')
    history = admin_client.get(
        URL, headers={"HX-Request": "true", "HX-Target": "test-send-history"}
    )
    assert history.content.decode().lstrip().startswith('<section id="test-send-history"')
    assert "a•••@example.com" in history.content.decode()


def test_after_a_send_the_form_has_a_fresh_id_for_the_next_one(admin_client, parcelvoy):
    data = form_data(parcelvoy)
    page = send(admin_client, data).content.decode()
    assert data["request_id"] not in page
    assert 'name="request_id"' in page
