"""An export whose encoding the evidence cannot settle, walked in a real browser: the admin
sees the rows each encoding reads differently, chooses with one button, and the preview
shows the names as written."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.imports.models import Import, ImportStatus
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import ConnectionFactory

NAMES = [("Bjørn", "Ødegård"), ("Anna", "Smith")]


@pytest.fixture
def redflag(admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    return ConnectionFactory(name="Acme RedFlag", provider="redflag")


def test_admin_chooses_the_encoding_from_the_rows_that_read_differently(
    page: Page, live_server, admin_user, redflag, tmp_path
):
    export = tmp_path / "nordic.csv"
    lines = ["E-mail;Given name;Surname"]
    lines += [f"p{i}@example.com;{a};{b}" for i, (a, b) in enumerate(NAMES)]
    export.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Connection").select_option(label="Acme RedFlag")
    page.get_by_label("CSV or Excel file").set_input_files(export)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/imports/\d+/$"))

    expect(page.get_by_role("heading", name="Choose the encoding")).to_be_visible()
    table = page.locator(".encoding-table")
    expect(table.locator("thead")).to_contain_text("As Windows-1252 (Western European)")
    expect(table.locator("tbody tr").first).to_contain_text("Bjørn")
    expect(table.locator("tbody tr").first).to_contain_text("Bjřrn")
    expect(page.locator("#preview")).to_contain_text("Choose the file's encoding")
    screenshot(page, "import-encoding-01-question")
    axe_check(page)

    page.get_by_role("button", name="Read as Windows-1252 (Western European)").click()

    expect(page.locator(".messages")).to_contain_text("File read again as Windows-1252")
    expect(page.locator(".import-stats .count-create")).to_have_text("2")
    expect(page.get_by_role("heading", name="Choose the encoding")).to_have_count(0)
    run = Import.objects.get()
    assert run.status == ImportStatus.PREVIEWED
    assert [(r.payload["firstName"], r.payload["lastName"]) for r in run.rows.all()] == NAMES
    screenshot(page, "import-encoding-02-chosen")
    axe_check(page)
