"""Issue 6's "Done when", walked in a real browser against the provider sandbox.

An HR admin uploads the messy demo sample (semicolons, a byte-order mark, invalid rows),
fixes a mapping, sees the preview, downloads the invalid rows, confirms, and sees the job.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from dashboard.connections import services
from dashboard.imports.models import Import
from integrations.catalogue import Provider
from integrations.models import Connection, Environment, SyncJob
from tests.browser.pages import axe_check, login, screenshot

pytestmark = pytest.mark.sandbox
SAMPLE = Path(settings.BASE_DIR) / "dashboard" / "imports" / "demo" / "messy-new-starters.csv"


@pytest.fixture
def sandbox_redflag(admin_user, sandbox, tmp_path, settings) -> Connection:
    settings.MEDIA_ROOT = tmp_path / "uploads"
    connection = services.connection_create(
        name="Acme RedFlag",
        provider=Provider.REDFLAG,
        environment=Environment.STAGING,
        base_url=sandbox.base_urls["redflag"],
        secret=sandbox.credentials["redflag"]["token"],
        options={},
        user=admin_user,
    )
    for path in ("mobile", "mobileCountry", "country", "department", "sfHireDate"):
        services.field_setting_set(connection=connection, path=path, enabled=True, user=admin_user)
    return connection


def test_admin_uploads_the_messy_sample_fixes_a_mapping_and_confirms(
    page: Page, live_server, admin_user, sandbox_redflag, tmp_path
):
    login(page, live_server, admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="Upload a file").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload a CSV or Excel file")
    page.get_by_label("Connection").select_option(label="Acme RedFlag")
    # The sample as a new user gets it: from the link on the upload page.
    with page.expect_download() as sample_info:
        page.get_by_role("link", name="messy-new-starters.csv").click()
    sample = tmp_path / "messy-new-starters.csv"
    sample_info.value.save_as(sample)
    assert sample.read_bytes() == SAMPLE.read_bytes()
    page.get_by_label("CSV or Excel file").set_input_files(sample)
    expect(page.locator("[data-dropzone-file]")).to_contain_text("messy-new-starters.csv")
    screenshot(page, "imports-01-upload")
    axe_check(page)
    page.get_by_role("button", name="Upload and preview").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/imports/\d+/$"))
    run = Import.objects.get()
    expect(page.get_by_label("Encoding")).to_have_value("utf-8-sig")
    expect(page.get_by_label("Delimiter")).to_have_value(";")
    # Exact: each invalid row's cell editor is labelled "New E-mail of row N".
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("email")
    expect(page.get_by_label("Dept")).to_have_value("department")
    # "Employee ID" would map to Organization ID, which this connection has disabled.
    expect(page.get_by_label("Employee ID")).to_have_value("")
    expect(page.get_by_label("Employee ID").locator("option[value=orgId]")).to_have_count(0)
    expect(page.locator(".import-stats .count-create")).to_have_text("4")
    screenshot(page, "imports-02-preview")
    axe_check(page)

    # Fix a mapping: the department in this file is not the one to send.
    page.get_by_label("Dept").select_option(label="Ignore this column")
    page.get_by_role("button", name="Save mapping and rebuild the preview").click()
    expect(page.locator(".messages")).to_contain_text("Mapping saved")
    expect(page.get_by_label("Dept")).to_have_value("")
    run.refresh_from_db()
    assert "department" not in run.mapped_paths

    # The invalid rows, each with the reason.
    page.get_by_role("link", name=re.compile(r"^Invalid")).click()
    invalid = page.locator(".preview-table tbody tr")
    expect(invalid).to_have_count(8)
    expect(page.locator(".preview-table")).to_contain_text("Unknown country “Atlantis”")
    expect(page.locator(".preview-table")).to_contain_text("Same identifier as row 8")
    screenshot(page, "imports-03-invalid-rows")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download the 8 invalid rows")).click()
    saved = tmp_path / "invalid.csv"
    download_info.value.save_as(saved)
    text = saved.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].endswith(";Errors")
    assert "'=HYPERLINK(" in text and "\n=HYPERLINK" not in text

    page.get_by_role("button", name=re.compile(r"^Confirm: send 4 rows to Acme RedFlag")).click()
    job = SyncJob.objects.get()
    expect(page).to_have_url(f"{live_server.url}/jobs/{job.pk}/")
    expect(page.get_by_text(f"Import {run.pk}: messy-new-starters.csv").first).to_be_visible()
    assert job.total == 4
    assert sorted(job.items.values_list("identifier", flat=True)) == [
        "lukas.mueller@example.com",
        "nina.berg@example.com",
        "sofia.garcia@example.com",
        "wei.zhang@example.com",
    ]
    assert all("department" not in item.payload for item in job.items.all())
    screenshot(page, "imports-04-job")
