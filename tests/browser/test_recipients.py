"""Issue 5's "Done when", walked in a real browser against the provider sandbox.

A support user finds a recipient by a fragment of their name (results as they type), opens
them, changes an enabled field, sees it saved at the provider and in the audit log, and
cannot change a disabled one. The search, detail and edit pages pass axe-core.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from dashboard.audit.models import AuditEvent
from dashboard.connections import services
from integrations.catalogue import Provider
from integrations.clients import RedFlagClient, client_for
from integrations.models import Connection, Environment, MirroredRecipient
from integrations.sync.mirror import mirror_upsert
from tests.browser.pages import axe_check, login, screenshot

pytestmark = pytest.mark.sandbox
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def sandbox_redflag(admin_user, sandbox) -> Connection:
    """A RedFlag staging connection on the sandbox, set up as an HR admin would."""
    connection = services.connection_create(
        name="Acme RedFlag",
        provider=Provider.REDFLAG,
        environment=Environment.STAGING,
        base_url=sandbox.base_urls["redflag"],
        secret=sandbox.credentials["redflag"]["token"],
        options={},
        user=admin_user,
    )
    services.custom_field_add(connection=connection, key="z_team", label="Team", user=admin_user)
    for path in ("mobile", "mobileCountry", "country", "sfHireDate", "allowSms"):
        services.field_setting_set(connection=connection, path=path, enabled=True, user=admin_user)
    return connection


@pytest.fixture
def person(sandbox, sandbox_redflag):
    """One recipient at the sandbox, mirrored as a refresh would; the department is disabled."""
    client = client_for(
        "redflag",
        base_url=sandbox_redflag.base_url,
        credentials=sandbox.credentials["redflag"],
        enabled_fields={
            "email",
            "firstName",
            "lastName",
            "department",
            "mobile",
            "mobileCountry",
            "country",
            "tags.z_team",
        },
    )
    assert isinstance(client, RedFlagClient)
    try:
        recipient = client.create_recipient(
            {
                "email": f"zoe.quintavalle.{uuid.uuid4().hex[:8]}@example.com",
                "firstName": "Zoë",
                "lastName": "Quintavalle",
                "department": "Finance",
                "mobile": "7911123456",
                "mobileCountry": "44",
                "country": "GB",
                "tags": [{"key": "z_team", "value": "Blue"}],
            }
        )
    finally:
        client.close()
    # Others to search past.
    others = [
        recipient.__class__(
            provider="redflag",
            remote_id=f"{n:024x}",
            email=f"other{n}@example.com",
            first_name=name,
            last_name="Smith",
        )
        for n, name in enumerate(["Zoltán", "Anna", "Chloé"], start=1)
    ]
    mirror_upsert(sandbox_redflag, [recipient, *others])
    return recipient


def fetch(sandbox, connection, remote_id):
    client = client_for(
        "redflag",
        base_url=connection.base_url,
        credentials=sandbox.credentials["redflag"],
        enabled_fields=None,
    )
    assert isinstance(client, RedFlagClient)
    try:
        return client.get_recipient(remote_id)
    finally:
        client.close()


def test_support_finds_a_person_by_a_name_fragment_and_fixes_an_enabled_field(
    page: Page, live_server, support_user, admin_user, sandbox, sandbox_redflag, person
):
    login(page, live_server, support_user)
    expect(page).to_have_url(f"{live_server.url}/recipients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Recipients")
    expect(page.locator("#mirror-status")).to_contain_text("Acme RedFlag")
    screenshot(page, "recipients-01-home")
    axe_check(page)

    # Results as you type: no Enter, no button; the address follows the search.
    page.get_by_role("searchbox", name="Search").press_sequentially("quintav", delay=30)
    results = page.locator("#results")
    expect(results.get_by_role("status")).to_have_text("1 recipient matches “quintav”")
    expect(page).to_have_url(f"{live_server.url}/recipients/?q=quintav")
    expect(results.get_by_role("link", name="Zoë Quintavalle")).to_be_visible()
    screenshot(page, "recipients-02-results")
    axe_check(page)

    # Accents are optional.
    page.get_by_role("searchbox", name="Search").fill("zoe quin")
    expect(results.get_by_role("status")).to_have_text("1 recipient matches “zoe quin”")

    results.get_by_role("link", name="Zoë Quintavalle").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Zoë Quintavalle")
    expect(page.get_by_role("columnheader", name="At RedFlag now")).to_be_visible()
    department = page.get_by_role("row", name=re.compile("^Department"))
    expect(department).to_contain_text("Finance")
    expect(department).to_contain_text("not synced")
    screenshot(page, "recipients-03-detail")
    axe_check(page)

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit Zoë Quintavalle")
    # The disabled field is shown, read-only, with the reason; there is nothing to type in.
    expect(page.get_by_role("textbox", name="Department")).to_have_count(0)
    read_only = page.locator("#ro-department")
    expect(read_only).to_contain_text("Finance")
    expect(read_only).to_contain_text("disabled in field settings")
    screenshot(page, "recipients-04-edit")
    axe_check(page)

    page.get_by_role("textbox", name="Preferred name").fill("Zo")
    page.get_by_role("textbox", name="Team").fill("Green")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status").first).to_contain_text(
        "Saved at RedFlag: Preferred name, Team."
    )
    expect(page.get_by_role("row", name=re.compile("^Preferred name"))).to_contain_text("Zo")
    screenshot(page, "recipients-05-saved")
    axe_check(page)

    live = fetch(sandbox, sandbox_redflag, person.remote_id)
    assert live.raw["preferredName"] == "Zo"
    assert live.fields["tags"] == [{"key": "z_team", "value": "Green"}]
    assert live.raw["department"] == "Finance"
    row = MirroredRecipient.objects.get(connection=sandbox_redflag, remote_id=person.remote_id)
    assert row.record["preferredName"] == "Zo"
    event = AuditEvent.objects.get(action="recipient.updated")
    assert event.actor_name == "sam"
    assert event.changes == {
        "preferredName": {"before": "", "after": "Zo"},
        "tags.z_team": {"before": "Blue", "after": "Green"},
    }

    # The HR admin sees the change in the audit log.
    page.get_by_role("button", name="Sign out").click()
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/audit/?action=recipient.")
    entry = page.get_by_role("row", name=re.compile("recipient.updated"))
    expect(entry).to_contain_text("sam")
    expect(entry).to_contain_text("preferredName")
    expect(entry).to_contain_text("Green")
    screenshot(page, "recipients-06-audit")


def test_a_forged_disabled_field_is_refused_in_the_browser_too(
    page: Page, live_server, support_user, sandbox, sandbox_redflag, person
):
    """Someone edits the page to add a department input: the server refuses, nothing sent."""
    login(page, live_server, support_user)
    page.goto(
        f"{live_server.url}/connections/{sandbox_redflag.pk}/recipients/{person.remote_id}/edit/"
    )
    page.evaluate(
        """() => {
            const input = document.createElement("input");
            input.name = "department"; input.value = "Board";
            document.getElementById("recipient-form").appendChild(input);
        }"""
    )
    page.get_by_role("textbox", name="Preferred name").fill("Zo")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("alert")).to_contain_text("Department is disabled in field settings")
    expect(page.locator("#ro-department")).to_contain_text("cannot be changed here")
    screenshot(page, "recipients-07-forged-refused")
    axe_check(page)
    live = fetch(sandbox, sandbox_redflag, person.remote_id)
    assert live.raw["department"] == "Finance" and live.raw.get("preferredName", "") == ""


def test_the_recipient_pages_fit_a_phone(
    page: Page, live_server, support_user, sandbox_redflag, person
):
    page.set_viewport_size(PHONE)
    login(page, live_server, support_user)
    base = f"{live_server.url}/connections/{sandbox_redflag.pk}/recipients"
    for name, url in (
        ("search", f"{live_server.url}/recipients/?q=zoe"),
        ("detail", f"{base}/{person.remote_id}/"),
        ("edit", f"{base}/{person.remote_id}/edit/"),
    ):
        page.goto(url)
        screenshot(page, f"phone-recipients-{name}")
        axe_check(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width}px wide"


def test_a_change_made_meanwhile_is_shown_side_by_side_and_the_user_keeps_theirs(
    page: Page, live_server, support_user, sandbox, sandbox_redflag, person
):
    login(page, live_server, support_user)
    page.goto(
        f"{live_server.url}/connections/{sandbox_redflag.pk}/recipients/{person.remote_id}/edit/"
    )
    # Someone else changes the person at RedFlag while the form is open.
    client = client_for(
        "redflag",
        base_url=sandbox_redflag.base_url,
        credentials=sandbox.credentials["redflag"],
        enabled_fields={"firstName", "lastName"},
    )
    assert isinstance(client, RedFlagClient)
    try:
        client.update_recipient(person.remote_id, {"firstName": "Zoé", "lastName": "Quinn"})
    finally:
        client.close()

    page.get_by_role("textbox", name="First name").fill("Zoey")
    page.get_by_role("button", name="Save changes").click()

    conflict = page.get_by_role("region", name="Your changes and theirs")
    expect(page.get_by_role("heading", name=re.compile("changed this recipient"))).to_be_visible()
    expect(conflict.get_by_role("row", name=re.compile("^First name"))).to_contain_text("Zoey")
    expect(conflict.get_by_role("row", name=re.compile("^First name"))).to_contain_text("Zoé")
    expect(conflict.get_by_role("row", name=re.compile("^Last name"))).to_contain_text("Quinn")
    # The form now starts from RedFlag's record, keeping only what this user changed.
    expect(page.get_by_role("textbox", name="First name")).to_have_value("Zoey")
    expect(page.get_by_role("textbox", name="Last name")).to_have_value("Quinn")
    screenshot(page, "recipients-08-conflict")
    axe_check(page)
    assert fetch(sandbox, sandbox_redflag, person.remote_id).first_name == "Zoé"

    page.get_by_role("button", name="Keep mine").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved at RedFlag: First name.")
    live = fetch(sandbox, sandbox_redflag, person.remote_id)
    assert (live.first_name, live.last_name) == ("Zoey", "Quinn")


def test_an_admin_creates_and_deletes_a_recipient(
    page: Page, live_server, admin_user, sandbox, sandbox_redflag, person
):
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/connections/{sandbox_redflag.pk}/recipients/")
    page.get_by_role("link", name="New recipient").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New recipient at RedFlag")
    screenshot(page, "recipients-09-new")
    axe_check(page)

    email = f"ana.new.{uuid.uuid4().hex[:8]}@example.com"
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="First name").fill("Ana")
    page.get_by_role("textbox", name="Last name").fill("Novak")
    page.get_by_role("combobox", name="Country (optional)").select_option("SI")
    page.get_by_role("button", name="Create recipient").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Created {email} at RedFlag.")
    expect(page.get_by_role("row", name=re.compile("^Country"))).to_contain_text("Slovenia")

    page.get_by_role("link", name="Delete…").click()
    page.get_by_label(re.compile("to confirm")).fill("someone@else.example")
    page.get_by_role("button", name="Delete recipient").click()
    expect(page.get_by_label(re.compile("to confirm"))).to_have_attribute("aria-invalid", "true")
    screenshot(page, "recipients-10-delete-error")
    axe_check(page)
    page.get_by_label(re.compile("to confirm")).fill(email)
    page.get_by_role("button", name="Delete recipient").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Deleted {email} at RedFlag.")
    row = MirroredRecipient.objects.get(connection=sandbox_redflag, email=email)
    assert row.gone_at is not None


def test_the_search_box_has_the_focus_and_slash_brings_it_back(
    page: Page, live_server, support_user
):
    login(page, live_server, support_user)
    box = page.get_by_role("searchbox", name="Search")
    expect(box).to_be_focused()  # the support staff's home: type at once
    box.press_sequentially("nobody/", delay=20)  # in the box, "/" is typed, not taken
    expect(box).to_have_value("nobody/")

    page.get_by_role("button", name="Search").focus()
    page.keyboard.press("/")
    expect(box).to_be_focused()
    page.keyboard.type("zoe")  # the old query was selected: typing replaces it
    expect(box).to_have_value("zoe")
    expect(page).to_have_url(f"{live_server.url}/recipients/?q=zoe")
