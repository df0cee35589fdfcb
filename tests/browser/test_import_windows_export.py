"""Issue 15's walk, end to end in Chromium against the Snappy sandbox.

The demo's Windows-1252 semicolon export (international names, US dates that are all
ambiguous, account names instead of ids, one invalid email) is uploaded; the admin sees the
encoding with its evidence and chooses Windows-1252, says both date columns are month first,
leaves the account names to be resolved, fixes the invalid cell in place and confirms. The
sandbox then holds every person exactly as in the original list below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from dashboard.connections import services
from dashboard.imports.models import Import
from dashboard.recipients.provider import recipient_client
from integrations.models import Connection, JobStatus, SyncJob
from integrations.sync.engine import job_execute
from tests.browser.pages import axe_check, login, screenshot

pytestmark = pytest.mark.sandbox

SAMPLE = Path(django_settings.BASE_DIR) / "dashboard/imports/demo/international-new-starters.csv"
# The people of the sample as HR wrote them (by the part of the email before the @): first,
# last, country, birthday, start date, account names. The file holds them in Windows-1252,
# the dates month first.
OK, ER, SI = "Onboarding kits", "Employee recognition", "Sales incentives"
PEOPLE = {
    "bjorn.odegard": ("Bjørn", "Ødegård", "NO", "1988-04-07", "2025-02-03", [OK]),
    "asa.oberg": ("Åsa", "Öberg", "SE", "1990-11-03", "2025-02-03", [OK]),
    "jurgen.weiss": ("Jürgen", "Weiß", "DE", "1979-01-12", "2025-02-10", [OK, SI]),
    "francois.lefevre": ("François", "Lefèvre", "FR", "1985-06-05", "2025-02-10", [OK]),
    "joao.goncalves": ("João", "Gonçalves", "PT", "1992-09-08", "2025-03-03", [OK]),
    "jose.munoz": ("José", "Muñoz", "ES", "1983-12-01", "2025-03-03", [ER]),
    "chloe.dubois": ("Chloé", "Dubois", "BE", "1995-07-11", "2025-03-10", [OK]),
    "soren.kjaer": ("Søren", "Kjær", "DK", "1987-03-09", "2025-03-10", [OK]),
    "ines.loureiro": ("Inês", "Loureiro", "BR", "1991-10-02", "2025-04-07", [OK, ER]),
    "zoe.muller": ("Zoë", "Müller", "CH", "1993-05-06", "2025-04-07", [OK]),
}  # fmt: skip
ORIGINAL = {f"{local}@example.com": person for local, person in PEOPLE.items()}


@pytest.fixture
def gifts(sandbox_snappy) -> Connection:
    """The Snappy sandbox connection with the dates of the sample enabled."""
    for path in ("birthday", "employee.workingSince", "employee.department"):
        services.field_setting_set(connection=sandbox_snappy, path=path, enabled=True, user=None)
    return sandbox_snappy


def test_the_sample_file_is_the_original_list_in_windows_1252_with_us_dates():
    """The demo sample and the list the walk compares with cannot drift apart."""
    lines = SAMPLE.read_bytes().decode("cp1252").splitlines()[1:]
    for line in lines:
        email, first, last, _country, birthday, start, _dept, accounts = line.split(";")
        email = email if email.endswith(".com") else f"{email}.com"  # the cell to fix
        want = ORIGINAL[email]
        assert (first, last) == want[:2]
        month, day, year = birthday.split("/")
        assert f"{year}-{month}-{day}" == want[3]
        month, day, year = start.split("/")
        assert f"{year}-{month}-{day}" == want[4]
        assert [name.strip() for name in accounts.split(",")] == want[5]
    assert len(lines) == len(ORIGINAL)


def test_admin_imports_a_windows_export_of_international_names_exactly(
    page: Page, live_server, admin_user, sandbox, gifts
):
    accounts = {a["name"]: a["id"] for a in sandbox.state()["snappy"]["accounts"]}
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Connection").select_option(label="Acme gifts")
    page.get_by_label("CSV or Excel file").set_input_files(SAMPLE)
    page.get_by_role("button", name="Upload and preview").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/imports/\d+/$"))

    # The encoding, with its evidence: both readings side by side; nothing previewed yet.
    reading = page.locator("#reading-heading").locator("..")
    expect(reading).to_contain_text("Choose the encoding")
    rows = reading.get_by_role("table")
    expect(rows).to_contain_text("Bjørn")
    expect(rows).to_contain_text("Bjřrn")
    expect(page.locator("#preview")).to_contain_text("Choose the file's encoding")
    screenshot(page, "import-windows-01-encoding")
    axe_check(page)
    page.get_by_role("button", name="Read as Windows-1252 (Western European)").click()
    expect(reading).not_to_contain_text("Choose the encoding")

    # Both date columns hold only ambiguous dates: the page asks, and nothing can be sent.
    expect(page.get_by_role("button", name=re.compile("^Confirm: send"))).to_have_count(0)
    for column in ("Birthday", "Start date"):
        question = page.locator(".date-question").filter(
            has=page.get_by_role("button", name=f"Read the dates this way in {column}")
        )
        expect(question).to_be_visible()
        question.get_by_label(re.compile("Month first: ")).check()
        question.get_by_role("button", name=f"Read the dates this way in {column}").click()
        expect(page.locator(".messages")).to_contain_text("Date order saved")
    screenshot(page, "import-windows-02-dates")

    # The account names resolved to Snappy's ids; the one bad email is the only invalid row.
    stats = page.locator("#import-stats")
    expect(stats.locator(".count-create")).to_have_text("9")
    expect(stats.locator(".count-invalid")).to_have_text("1")
    preview = page.locator(".preview-table")
    expect(preview).to_contain_text(f"Onboarding kits ({accounts['Onboarding kits']})")
    expect(preview).to_contain_text("7 April 1988")

    # Fixed in place, from the keyboard.
    row = page.locator(".row-invalid")
    row.get_by_text(re.compile("^Edit E")).click()
    box = row.get_by_role("textbox")
    expect(box).to_be_focused()
    page.keyboard.type("chloe.dubois@example.com")
    page.keyboard.press("Enter")
    expect(stats.locator(".count-create")).to_have_text("10")
    expect(stats.locator(".count-invalid")).to_have_text("0")
    # The fixed row reads like the others: dates in words, account names beside ids.
    fixed = page.locator("#row-8")
    expect(fixed).to_contain_text("11 July 1995")
    expect(fixed).to_contain_text(f"Onboarding kits ({accounts['Onboarding kits']})")
    screenshot(page, "import-windows-03-fixed")
    axe_check(page)

    page.get_by_role("button", name="Confirm: send 10 rows to Acme gifts").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/jobs/\d+/$"))
    job = SyncJob.objects.get()
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert Import.objects.get().encoding == "cp1252"

    client = recipient_client(gifts)
    try:
        held = {
            item.identifier.lower(): client.get_recipient(item.remote_id)
            for item in job.items.all()
        }
    finally:
        client.close()
    assert set(held) == set(ORIGINAL)
    for email, (first, last, country, birthday, start, names) in ORIGINAL.items():
        person = held[email]
        assert (person.first_name, person.last_name) == (first, last)
        assert person.fields["country"] == country
        assert str(person.fields["birthday"])[:10] == birthday
        assert str(person.fields["employee"]["workingSince"])[:10] == start
        assert sorted(person.fields["accounts"]) == sorted(accounts[name] for name in names)
