"""A Snappy import of a plain HR export, walked from the keyboard against the sandbox: one
account and a country for every row, an account named in a cell, confirmed and sent."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from dashboard.imports.models import Import
from dashboard.recipients.provider import recipient_client
from integrations.models import JobStatus, SyncJob
from integrations.sync.engine import job_execute
from tests.browser.pages import axe_check, login, screenshot

pytestmark = pytest.mark.sandbox


def test_admin_gives_every_row_an_account_and_a_country_from_the_keyboard(
    page: Page, live_server, admin_user, sandbox, sandbox_snappy, tmp_path
):
    accounts = {a["name"]: a["id"] for a in sandbox.state()["snappy"]["accounts"]}
    tag = uuid.uuid4().hex[:8]
    kim, ann = f"kim.{tag}@example.com", f"ann.{tag}@example.com"
    export = tmp_path / "starters.csv"
    export.write_text(
        f"Email,First name,Accounts\r\n{kim},Kim,Client gifting\r\n{ann},Ann,\r\n",
        encoding="utf-8",
    )
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Connection").select_option(label="Acme gifts")
    page.get_by_label("CSV or Excel file").set_input_files(export)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/imports/\d+/$"))
    assert Import.objects.get().constants == {}

    # Nobody can be created yet, and the page says what is missing and where to give it.
    expect(page.locator(".import-stats .count-invalid")).to_have_text("2")
    section = page.locator("#constants")
    expect(section).to_contain_text("No column gives Country")
    expect(section.get_by_label("Accounts")).to_be_visible()  # open: a create needs it
    screenshot(page, "import-constants-01-missing")
    axe_check(page)

    # From the keyboard: the fields a create needs come first; the account list is Snappy's,
    # by name (type to pick); Enter in a text field saves.
    country = section.get_by_label("Country")
    country.focus()
    page.keyboard.type("Germany")
    page.keyboard.press("Tab")
    accounts_select = section.get_by_label("Accounts")
    expect(accounts_select).to_be_focused()
    page.keyboard.type("Onboarding")
    expect(accounts_select).to_have_value(accounts["Onboarding kits"])
    country.press("Enter")

    expect(page.locator(".messages")).to_contain_text("Values for every row saved")
    expect(page.locator(".import-stats .count-create")).to_have_text("2")
    table = page.locator(".preview-table")
    expect(table).to_contain_text(f"Client gifting ({accounts['Client gifting']})")
    expect(table).to_contain_text(f"Onboarding kits ({accounts['Onboarding kits']})")
    expect(page.locator("#constants summary")).to_contain_text("Country: Germany")
    screenshot(page, "import-constants-02-preview")
    axe_check(page)

    page.get_by_role("button", name=re.compile(r"^Confirm: send 2 rows")).click()
    job = SyncJob.objects.get()
    expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    client = recipient_client(sandbox_snappy)
    try:
        held = {
            item.identifier: client.get_recipient(item.remote_id).fields for item in job.items.all()
        }
    finally:
        client.close()
    assert held[kim]["accounts"] == [accounts["Client gifting"]]
    assert held[ann]["accounts"] == [accounts["Onboarding kits"]]
    assert held[kim]["country"] == held[ann]["country"] == "DE"
