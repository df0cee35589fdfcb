"""Issue 7's "Done when", walked in a real browser against the provider sandbox.

An HR admin finds a demo-like recipient by name, fills the test-send form from them, previews
and sends a test email and then a test SMS (confirming the person, who is not on the test
list), and sees both in the list below the form. The form, preview and result states pass
axe-core.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dashboard.campaigns.models import TestSend
from integrations.models import MirroredRecipient
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.sandbox


@pytest.fixture
def campaign_connection(admin_user, sandbox):
    return ConnectionFactory(
        name="Acme Parcelvoy",
        provider="parcelvoy",
        base_url=f"{sandbox.url}/parcelvoy",
        plain_secret=sandbox.credentials["parcelvoy"]["secret_key"],
    )


@pytest.fixture
def demo_person(admin_user):
    redflag = ConnectionFactory(name="Acme RedFlag", provider="redflag")
    return MirroredRecipient.objects.create(
        connection=redflag,
        remote_id="demo-1",
        email="zoe.adams@example.com",
        email_lower="zoe.adams@example.com",
        first_name="Zoë",
        last_name="Adams",
        name_search="zoe adams",
        external_id="emp-2042",
        phone="+447911123456",
    )


def _preview_and_send(page: Page, address: str, name: str) -> None:
    page.get_by_role("button", name="Preview request").click()
    preview = page.locator(".request-preview")
    expect(preview.get_by_role("heading", name="Request preview")).to_be_visible()
    expect(preview.locator("pre.request")).to_contain_text("Bearer sk_••••")
    expect(preview.locator("pre.request")).to_contain_text(address)
    screenshot(page, f"campaigns-{name}-preview")
    axe_check(page)
    page.get_by_label(f"Yes, send to {address}, who is not on the test list").check()
    preview.get_by_role("button", name="Send test").click()
    expect(page.locator(".test-outcome h2")).to_have_text("Sent")
    expect(page.locator(".test-outcome")).to_contain_text("Parcelvoy accepted the trigger")


def test_admin_sends_a_test_email_and_sms_to_a_recipient(
    page: Page, live_server, admin_user, sandbox, campaign_connection, demo_person
):
    login(page, live_server, admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Test send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test send")
    expect(page.locator("#connection-env")).to_contain_text("Staging")
    screenshot(page, "campaigns-01-form")
    axe_check(page)

    # Fill from a person: results as the admin types.
    page.get_by_label("Search the recipients of every connection").fill("zoe ada")
    person = page.locator("#people-results li", has_text="Zoë Adams")
    expect(person).to_contain_text("Acme RedFlag")
    person.get_by_role("link", name="Use").click()
    expect(page.get_by_label("External id")).to_have_value("emp-2042")
    expect(page.get_by_label("Email address")).to_have_value("zoe.adams@example.com")

    # A test email: campaign 1 is the sandbox's email campaign.
    page.get_by_label("Campaign id").fill("1")
    page.get_by_label("Campaign name").fill("Welcome to the team")
    page.get_by_label("Event data (JSON)").fill('{"first_name": "Zoë"}')
    # Only the email address shows for an email.
    expect(page.get_by_label("Mobile number")).to_be_hidden()
    # A typo is refused with a suggestion and nothing is lost.
    page.get_by_label("Time zone").fill("Europe/Londn")
    page.get_by_role("button", name="Preview request").click()
    expect(page.locator("#id_timezone_error")).to_contain_text("did you mean Europe/London?")
    expect(page.get_by_label("External id")).to_have_value("emp-2042")
    screenshot(page, "campaigns-02-error")
    axe_check(page)
    page.get_by_label("Time zone").fill("Europe/London")
    _preview_and_send(page, "zoe.adams@example.com", "02-email")
    screenshot(page, "campaigns-03-email-sent")
    axe_check(page)
    history = page.locator("#test-send-history")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history).to_contain_text("z•••@example.com")

    # Then a test SMS: campaign 2, the phone from the person.
    page.get_by_role("radio", name="SMS").check()
    expect(page.get_by_label("Mobile number")).to_have_value("+447911123456")
    expect(page.get_by_label("Email address")).to_be_hidden()
    page.get_by_label("Campaign id").fill("2")
    page.get_by_label("Campaign name").fill("Shift reminder")
    _preview_and_send(page, "+447911123456", "04-sms")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history).to_contain_text("+44•••••3456")
    screenshot(page, "campaigns-05-sms-sent")
    axe_check(page)

    triggers = sandbox.counters()["triggers"]
    assert [(t["campaign_id"], t["channel"]) for t in triggers] == [(1, "email"), (2, "sms")]
    assert triggers[1]["user"]["phone"] == "+447911123456"
    assert TestSend.objects.filter(outcome="sent").count() == 2

    # The test list page of the connection.
    page.get_by_role("link", name="Test list of Acme Parcelvoy").click()
    page.get_by_label("Address or domain").fill("@example.com")
    page.get_by_role("button", name="Add to the test list").click()
    expect(page.locator(".allowlist")).to_contain_text("@example.com")
    screenshot(page, "campaigns-06-allowlist")
    axe_check(page)
