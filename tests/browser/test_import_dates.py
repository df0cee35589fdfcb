"""A US file of ambiguous dates in a real browser: the page asks how the dates are written,
with a value of the file read each way, the admin answers from the keyboard, and the preview
shows the dates as a person reads them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from dashboard.connections import services as connection_services
from dashboard.imports import services
from dashboard.imports.models import Import
from dashboard.imports.selectors import import_rows
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import ConnectionFactory


@pytest.fixture
def us_import(admin_user, tmp_path, settings) -> Import:
    settings.MEDIA_ROOT = tmp_path / "uploads"
    connection = ConnectionFactory(name="Acme RedFlag", provider="redflag")
    connection_services.field_setting_set(
        connection=connection, path="sfHireDate", enabled=True, user=admin_user
    )
    text = (
        "Email,First name,Last name,Start date\r\n"
        "ann@example.com,Ann,Lee,03/02/2025\r\n"
        "bo@example.com,Bo,Ray,04/05/2025 09:30\r\n"
    )
    upload = SimpleUploadedFile("us-starters.csv", text.encode(), "text/csv")
    return services.import_create(connection=connection, upload=upload, user=admin_user)


def test_the_admin_answers_the_date_question_from_the_keyboard(
    page: Page, live_server, admin_user, us_import
):
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/{us_import.pk}/")
    question = page.get_by_role("group", name="Which order are these dates written in?")
    expect(question).to_be_visible()
    expect(page.locator("#date-questions")).to_contain_text(
        "Choose how the dates in “Start date” are written"
    )
    expect(page.get_by_role("button", name="Confirm: send")).to_have_count(0)
    screenshot(page, "import-dates-01-question")
    axe_check(page)

    month_first = page.get_by_label("Month first: 03/02/2025 → 2 March 2025")
    month_first.focus()
    page.keyboard.press("Space")
    expect(month_first).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Read the dates this way in Start date")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator(".messages")).to_contain_text("Date order saved")
    expect(page.locator(".date-format")).to_contain_text("Read month first, as chosen")
    preview = page.locator(".preview-table")
    expect(preview).to_contain_text("2 March 2025")
    expect(preview).to_contain_text("“04/05/2025 09:30” has a time of day (09:30)")
    expect(page.get_by_role("button", name="Confirm: send 2 rows to Acme RedFlag")).to_be_visible()
    screenshot(page, "import-dates-02-answered")
    axe_check(page)
    us_import.refresh_from_db()
    assert [row.payload["sfHireDate"] for row in import_rows(import_run=us_import)] == [
        "20250302",
        "20250405",
    ]
