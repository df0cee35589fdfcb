"""The issue's "Bad input" list: each is refused with a clear message, the input is kept, and
nothing reaches the provider."""

from __future__ import annotations

import html

import pytest

from dashboard.campaigns.models import TestSend
from tests.dashboard.campaigns.helpers import HTMX, form_data, preview

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def refused(client, data, **headers):
    response = preview(client, data, **headers)
    assert response.status_code == 422
    page = html.unescape(response.content.decode())
    assert "Nothing was sent. Correct the fields marked below." in page
    assert 'name="previewed"' not in page, "no preview for invalid input"
    return page


def assert_kept(page: str, data: dict) -> None:
    """Every value the admin typed is in the re-rendered form."""
    for key in ("campaign_id", "external_id", "email", "timezone", "locale"):
        if data.get(key):
            assert f'value="{html.unescape(str(data[key]))}"' in page, key


def test_event_json_with_a_syntax_error_names_its_line_and_column(admin_client, parcelvoy, sandbox):
    event = '{\n  "first_name": "Ada",\n  "shift": "Monday"\n  "site": "Leeds"\n}'
    data = form_data(parcelvoy, event=event)
    page = refused(admin_client, data)
    assert "Line 4, column 3: Expecting &#x27;,&#x27; delimiter." in page or (
        "Line 4, column 3: Expecting ',' delimiter." in page
    )
    assert event in page  # the textarea keeps the text
    assert_kept(page, data)
    assert sandbox.counters()["triggers"] == []


@pytest.mark.parametrize(
    ("event", "kind"), [("[1, 2]", "a list"), ('"hello"', "a string"), ("42", "a number")]
)
def test_event_json_that_is_not_an_object_is_refused(admin_client, parcelvoy, event, kind):
    page = refused(admin_client, form_data(parcelvoy, event=event))
    assert "The event must be a JSON object" in page and f"not {kind}." in page


def test_a_2_mb_event_is_refused_with_its_size_and_the_limit(admin_client, parcelvoy, sandbox):
    big = '{"blob": "' + "x" * (2 * 1024 * 1024) + '"}'
    page = refused(admin_client, form_data(parcelvoy, event=big))
    assert "The event data is 2.0 MB; the limit is 64 KB." in page
    assert sandbox.counters()["triggers"] == []


def test_a_timezone_typo_suggests_the_right_name(admin_client, parcelvoy):
    data = form_data(parcelvoy, timezone="America/Chicgo")
    page = refused(admin_client, data)
    assert "“America/Chicgo” is not a time zone name: did you mean America/Chicago?" in page
    assert_kept(page, data)


def test_a_timezone_in_the_wrong_case_is_refused_with_the_right_spelling(admin_client, parcelvoy):
    page = refused(admin_client, form_data(parcelvoy, timezone="europe/london"))
    assert "case-sensitive: did you mean Europe/London?" in page


def test_a_language_name_as_locale_is_refused_with_its_code(admin_client, parcelvoy):
    data = form_data(parcelvoy, locale="english")
    page = refused(admin_client, data)
    assert "“english” is not a locale tag" in page and "For english, use “en”." in page
    assert_kept(page, data)


def test_an_unknown_language_code_is_refused(admin_client, parcelvoy):
    page = refused(admin_client, form_data(parcelvoy, locale="qq-GB"))
    assert "“qq” is not a known language code" in page


def test_a_well_formed_locale_is_normalised(admin_client, parcelvoy):
    response = preview(admin_client, form_data(parcelvoy, locale="pt_br"))
    assert response.status_code == 200
    assert '"locale": "pt-BR"' in html.unescape(response.content.decode())


def test_a_phone_without_a_country_or_plus_is_refused(admin_client, parcelvoy):
    data = form_data(parcelvoy, channel="sms", campaign_id="2", email="", phone="07700 900123")
    page = refused(admin_client, data)
    assert "Choose the country, or write the number in international form starting with +" in page
    assert 'value="07700 900123"' in page


def test_a_national_phone_with_its_country_is_sent_in_e164(admin_client, parcelvoy):
    data = form_data(
        parcelvoy, channel="sms", campaign_id="2", phone="07911 123456", phone_country="GB"
    )
    response = preview(admin_client, data)
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert '"phone": "+447911123456"' in body
    request = body.split('<pre class="request"', 1)[1].split("</pre>", 1)[0]
    assert '"email"' not in request, "only the channel's address is sent"


def test_an_email_with_a_display_name_is_refused(admin_client, parcelvoy):
    data = form_data(parcelvoy, email="Ada <ada@x.com>")
    page = refused(admin_client, data)
    assert "Enter only the address, without a name or brackets: e.g. ada@example.com." in page
    assert 'value="Ada <ada@x.com>"' in page


def test_a_non_numeric_campaign_id_is_refused(admin_client, parcelvoy):
    data = form_data(parcelvoy, campaign_id="welcome")
    page = refused(admin_client, data)
    assert "A campaign id is a whole number, like 44" in page
    assert 'value="welcome"' in page


def test_only_the_chosen_channels_address_is_required(admin_client, parcelvoy):
    page = refused(
        admin_client, form_data(parcelvoy, channel="push", campaign_id="3", email="a@b.com")
    )
    assert "Enter the device token: a Push goes there." in page
    ok = preview(
        admin_client,
        form_data(
            parcelvoy, channel="push", campaign_id="3", email="", device_token="tok_ABCDEF12"
        ),
    )
    assert ok.status_code == 200


def test_an_htmx_refusal_swaps_only_the_form_panel(admin_client, parcelvoy):
    response = preview(admin_client, form_data(parcelvoy, locale="english"), **HTMX)
    page = response.content.decode()
    assert response.status_code == 422
    assert page.lstrip().startswith('<section id="send-panel"')
    assert "test-send-history" not in page


def test_nothing_is_recorded_for_refused_input(admin_client, parcelvoy):
    refused(admin_client, form_data(parcelvoy, campaign_id="abc"))
    assert TestSend.objects.count() == 0
