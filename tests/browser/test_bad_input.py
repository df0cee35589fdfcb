"""Bad input in a real browser: an upload over the size cap, a NUL in an address, and an
import with nothing to send, each a page a person can read (and axe passes)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dashboard.imports.models import Import
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import ConnectionFactory


@pytest.fixture
def redflag(admin_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    return ConnectionFactory(name="Acme RedFlag", provider="redflag")


def _upload(page: Page, live_server, path) -> None:
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Connection").select_option(label="Acme RedFlag")
    page.get_by_label("CSV or Excel file").set_input_files(path)
    page.get_by_role("button", name="Upload and preview").click()


def test_a_file_over_the_size_cap_gets_the_upload_page_with_the_size_message(
    page: Page, live_server, admin_user, redflag, settings, tmp_path
):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    big = tmp_path / "everyone.csv"
    big.write_bytes(b"email\r\n" + b"someone@example.com\r\n" * 150_000)  # 3 MB
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Connection").select_option(label="Acme RedFlag")
    page.get_by_label("CSV or Excel file").set_input_files(big)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Upload and preview").click()
    assert answer.value.status == 413
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("The file is larger than 1 MB: nothing was stored.")
    expect(page.get_by_label("Connection")).to_have_value(str(redflag.pk))
    screenshot(page, "bad-input-size-cap")
    axe_check(page)
    assert not Import.objects.exists()


def test_a_nul_in_an_address_gets_the_400_page(page: Page, live_server, admin_user):
    login(page, live_server, admin_user)
    response = page.goto(f"{live_server.url}/jobs/?q=a%00b")
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("The request could not be read")
    expect(page.get_by_role("main")).to_contain_text("contained a NUL character")
    screenshot(page, "bad-input-400")
    axe_check(page)


def test_an_import_with_nothing_to_send_shows_samples_and_says_so(
    page: Page, live_server, admin_user, redflag, tmp_path
):
    bad = tmp_path / "staff.csv"
    bad.write_bytes(b"E-mail;Given name;Surname\r\nnot-an-email;;\r\nalso bad;Bo;Li\r\n")
    login(page, live_server, admin_user)
    _upload(page, live_server, bad)
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/imports/\d+/$"))
    expect(page.locator("h1 .badge")).to_have_text("Nothing to send")
    expect(page.locator("td.sample")).to_have_text(["not-an-email", "Bo", "Li"])
    expect(page.get_by_text("Nothing to send: no row would create or update")).to_be_visible()
    screenshot(page, "bad-input-nothing-to-send")
    axe_check(page)
    page.goto(f"{live_server.url}/imports/")
    expect(page.locator("td .badge")).to_have_text("Nothing to send")
