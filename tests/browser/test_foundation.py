"""The foundation issue's "Done when", walked through in a real browser.

An HR admin signs in, connects a RedFlag staging account, sees only the masked token, switches a
field on with the keyboard, adds a custom field (after a refused key), and signs out; a support
user is then refused the connections pages and is not offered them in the navigation.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from integrations.models import Connection, FieldSetting
from tests.browser.pages import axe_check, login, screenshot

TOKEN = "rf_tok_5Jq9vLm2Xc7Rb4Nd8WYZ3k"
HINT = "••••" + TOKEN[-4:]


def _create_redflag_connection(page: Page, live_server) -> Connection:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    page.get_by_role("link", name="Add a connection").first.click()
    page.get_by_role("link", name=re.compile("RedFlag Recipient API")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "New RedFlag Recipient API connection"
    )

    page.get_by_label("Name").fill("Acme staging")
    page.get_by_role("radio", name="Staging").check()
    # An unresolvable host passes the SSRF check (it is checked again on every request).
    page.get_by_label("Base URL").fill("https://redflag.example.com")
    page.get_by_label("Bearer token").fill(TOKEN)
    page.get_by_label("Location ID").fill("loc-42")
    page.get_by_role("button", name="Create connection").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/connections/\d+/$"))
    return Connection.objects.get(name="Acme staging")


def test_admin_connects_redflag_configures_fields_and_support_is_refused(
    page: Page, live_server, admin_user, support_user
):
    login(page, live_server, admin_user)

    connection = _create_redflag_connection(page, live_server)
    assert connection.provider == "redflag"
    assert connection.environment == "staging"
    assert connection.base_url == "https://redflag.example.com"
    assert connection.options == {"location_id": "loc-42"}
    expect(page.locator(".messages")).to_contain_text("Connection “Acme staging” created.")
    expect(page.locator("dl.props").first).to_contain_text(HINT)
    assert TOKEN not in page.content(), "the full token must never be rendered"
    expect(page.get_by_label("Bearer token")).to_have_value("")
    screenshot(page, "foundation-01-connection-created")

    # Field settings: switch "Department" on with the keyboard; it saves at once.
    page.get_by_role("link", name="Field settings").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Field settings")
    department = page.get_by_role("switch", name="Department", exact=False)
    expect(department).not_to_be_checked()
    department.focus()
    page.keyboard.press("Space")
    row = page.locator("#field-department")
    expect(row.get_by_role("status")).to_have_text("Saved")
    expect(department).to_be_checked()
    expect(row).to_contain_text("Enabled")
    # The row is swapped by htmx; keyboard users keep their place in the list.
    expect(department).to_be_focused()
    screenshot(page, "foundation-02-field-saved")
    axe_check(page)

    page.reload()
    expect(page.get_by_role("switch", name="Department", exact=False)).to_be_checked()
    assert FieldSetting.objects.get(connection=connection, path="department").enabled

    # Custom fields: a key without the z_ prefix is refused, z_costCentre is added.
    custom = page.locator("#custom-form")
    custom.get_by_label("Key").fill("costCentre")
    custom.get_by_role("button", name="Add custom field").click()
    error = page.locator("#custom-form .errorlist")
    expect(error).to_contain_text('RedFlag custom field keys must start with "z_"')
    expect(page.locator("#custom-form").get_by_label("Key")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert not FieldSetting.objects.filter(connection=connection, custom=True).exists()
    screenshot(page, "foundation-03-custom-field-error")
    axe_check(page)

    page.locator("#custom-form").get_by_label("Key").fill("z_costCentre")
    page.locator("#custom-form").get_by_role("button", name="Add custom field").click()
    expect(page.get_by_role("status").first).to_contain_text("Custom field z_costCentre added.")
    expect(page.locator("#field-tags-z-costCentre")).to_contain_text("tags.z_costCentre")
    custom_row = FieldSetting.objects.get(connection=connection, path="tags.z_costCentre")
    assert custom_row.custom and custom_row.enabled
    screenshot(page, "foundation-04-custom-field-added")

    # Sign out; a support user is refused the connections pages and not offered them.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    login(page, live_server, support_user)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    expect(nav.get_by_role("link", name="Connections")).to_have_count(0)

    for path in ("/connections/", f"/connections/{connection.pk}/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "You don't have access to this page"
        )
        expect(page.get_by_role("main")).to_contain_text(
            "You need the HR admin role to manage provider connections and field settings."
        )
        expect(nav.get_by_role("link", name="Connections")).to_have_count(0)
        assert TOKEN not in page.content()
    screenshot(page, "foundation-05-support-refused")
