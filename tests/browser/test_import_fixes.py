"""Fixing an invalid cell of an import's preview from the keyboard alone: Tab to Edit, type,
Enter; the row moves to Create, the counts change, and the page stays accessible with the
editor open."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from dashboard.connections import services as connection_services
from dashboard.imports import services
from dashboard.imports.models import Import
from integrations.catalogue import Provider
from tests.browser.pages import axe_check, login, screenshot

TEXT = (
    "E-mail,First name,Last name\r\n"
    "ann@example.com,Ann,Lee\r\n"
    "bob(at)example.com,Bob,Marsh\r\n"  # row 3
    "cy@,Cy,Young\r\n"  # row 4
)


@pytest.fixture
def run(admin_user, tmp_path, settings) -> Import:
    settings.MEDIA_ROOT = tmp_path / "uploads"
    connection = connection_services.connection_create(
        name="Acme RedFlag",
        provider=Provider.REDFLAG,
        environment="staging",
        base_url="https://redflag.example.com",
        secret="rf_tok_5Jq9vLm2Xc7Rb4Nd8WYZ3k",
        options={},
        user=admin_user,
    )
    upload = SimpleUploadedFile("people.csv", TEXT.encode(), content_type="text/csv")
    run = services.import_create(connection=connection, upload=upload, user=admin_user)
    assert (run.n_create, run.n_invalid) == (1, 2)
    return run


def tab_to(page: Page, name: str, limit: int = 200) -> None:
    """Press Tab until the focus is on the control named ``name`` (fail past ``limit``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    pytest.fail(f"{name!r} was not reached with Tab")


def test_an_invalid_cell_is_fixed_from_the_keyboard_and_the_row_moves_to_create(
    page: Page, live_server, admin_user, run
):
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/{run.pk}/")
    stats = page.locator("#import-stats")
    expect(stats.locator(".count-create")).to_have_text("1")
    expect(stats.locator(".count-invalid")).to_have_text("2")

    tab_to(page, "Edit E-mail of row 3")
    page.keyboard.press("Enter")
    box = page.get_by_label("New E-mail of row 3")
    expect(box).to_be_focused()
    expect(box).to_have_value("bob(at)example.com")
    screenshot(page, "import-fix-01-editor-open")
    axe_check(page)

    page.keyboard.type("bob@example.com")  # the value was selected: typing replaces it
    page.keyboard.press("Enter")

    row = page.locator("#row-3")
    expect(row.locator(".badge")).to_have_text("Create")
    expect(row).to_be_focused()
    expect(stats.locator(".count-create")).to_have_text("2")
    expect(stats.locator(".count-invalid")).to_have_text("1")
    expect(page.get_by_role("navigation", name="Rows by class")).to_contain_text("Invalid 1")
    expect(page.get_by_role("status").filter(has_text="Row 3 fixed")).to_have_text(
        "Row 3 fixed: it will create a recipient."
    )
    expect(page.get_by_role("button", name="Confirm: send 2 rows to Acme RedFlag")).to_be_visible()
    screenshot(page, "import-fix-02-row-created")
    axe_check(page)
    run.refresh_from_db()
    assert run.fixes == {"3": {"0": "bob@example.com"}}

    # Escape leaves the other row's editor as it was, back on its Edit button.
    tab_to(page, "Edit E-mail of row 4")
    page.keyboard.press("Enter")
    box = page.get_by_label("New E-mail of row 4")
    expect(box).to_be_focused()
    page.keyboard.type("nobody")
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    expect(page.locator("#row-4 summary")).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    expect(box).to_have_value("cy@")

    # A value that still fails: the row says why now, and keeps its editor.
    page.keyboard.type("cy@example")
    page.keyboard.press("Enter")
    row = page.locator("#row-4")
    expect(row.locator(".cell-errors")).to_contain_text("The domain has no dot")
    expect(row.locator(".badge")).to_have_text("Invalid")
    expect(row).to_be_focused()
    expect(stats.locator(".count-invalid")).to_have_text("1")
    page.keyboard.press("Tab")
    expect(row.locator("summary")).to_be_focused()
    screenshot(page, "import-fix-03-still-invalid")
    axe_check(page)

    # A value no request may carry (a NUL character) is refused before the view: the page
    # says why, the editor stays open with the focus in it, and nothing changed.
    page.keyboard.press("Enter")
    page.keyboard.type("cy@example.com\u0000")
    page.keyboard.press("Enter")
    expect(page.locator("#toast")).to_contain_text("NUL character")
    box = page.get_by_label("New E-mail of row 4")
    expect(box).to_be_focused()
    expect(row.locator(".badge")).to_have_text("Invalid")
    screenshot(page, "import-fix-04-refused")
    axe_check(page)
