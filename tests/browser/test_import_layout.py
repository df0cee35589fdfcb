"""Files as they come, in a real browser: choose the sheet of a workbook, see the header found
below title lines, and get a clear message for a header row that cannot be."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from playwright.sync_api import Page, expect

from dashboard.connections import services
from dashboard.imports.models import Import
from integrations.models import Connection
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import ConnectionFactory

STAFF: list[list[Any]] = [
    ["Employee export"],
    ["Generated", "2025-01-02"],
    [],
    ["E-mail", "First name", "Last name", "Department"],
    ["zoe@example.com", "Zoë", "Ångström", "Sales"],
    ["bo@example.com", "Bo", "Lee", None],
    ["ann@example.com", "Ann", "Roe", "IT"],
]


@pytest.fixture
def redflag(admin_user, tmp_path, settings) -> Connection:
    settings.MEDIA_ROOT = tmp_path / "uploads"
    connection = ConnectionFactory(name="Acme RedFlag", provider="redflag")
    services.field_setting_set(
        connection=connection, path="department", enabled=True, user=admin_user
    )
    return connection


def workbook_file(tmp_path) -> Any:
    book = Workbook()
    summary = book.active
    assert isinstance(summary, Worksheet)  # a new workbook's one sheet
    summary.title = "Summary"
    summary.append(["Headcount", 3])
    staff = book.create_sheet("Staff")
    for row in STAFF:
        staff.append(row)
    book.create_sheet("Notes")
    out = io.BytesIO()
    book.save(out)
    path = tmp_path / "hr-report.xlsx"
    path.write_bytes(out.getvalue())
    return path


def test_admin_chooses_the_sheet_and_the_header_is_found_below_title_lines(
    page: Page, live_server, admin_user, redflag, tmp_path
):
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Connection").select_option(label="Acme RedFlag")
    page.get_by_label("CSV or Excel file").set_input_files(workbook_file(tmp_path))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/imports/\d+/$"))
    card = page.get_by_role("region", name="Sheet and header row")
    expect(card).to_contain_text("Reading the sheet “Summary” (3 sheets in the workbook)")

    # From the keyboard: the sheet list, then the button.
    sheet = page.get_by_label("Sheet", exact=True)
    sheet.focus()
    sheet.select_option("Staff")
    expect(sheet.locator("option", has_text="Notes (empty)")).to_have_count(1)
    page.keyboard.press("Tab")  # the header row: left as it is, so it is found again
    page.get_by_role("button", name="Read these rows").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Now reading sheet “Staff”, header on row 4")
    expect(card).to_contain_text("Header on row 4; rows 1\N{EN DASH}3 skipped.")
    expect(card.get_by_role("row").filter(has_text="E-mail")).to_contain_text("Header")
    expect(page.locator("#preview")).to_contain_text("zoe@example.com")
    run = Import.objects.get()
    assert (run.sheet, run.header_row, run.n_create) == ("Staff", 4, 3)
    assert sorted(run.rows.values_list("number", flat=True)) == [5, 6, 7]
    screenshot(page, "imports-layout-01-sheet-chosen")
    axe_check(page)

    page.get_by_label("Header row", exact=True).fill("99")
    page.get_by_role("button", name="Read these rows").click()
    field_error = page.locator("#id_header_row_error")
    expect(field_error).to_have_text("The file has 7 rows: row 99 is beyond its end.")
    expect(page.get_by_label("Header row", exact=True)).to_have_attribute("aria-invalid", "true")
    screenshot(page, "imports-layout-02-invalid-row")
    axe_check(page)
    run.refresh_from_db()
    assert run.header_row == 4
