"""The import pages: upload with a size cap, mapping, preview, invalid rows CSV, confirm."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import Import, ImportStatus
from integrations.models import SyncJob
from tests.helpers.environment import TESTDATA

pytestmark = pytest.mark.django_db

BLNS = TESTDATA / "blns"
DEMO = Path(__file__).resolve().parents[3] / "dashboard" / "imports" / "demo"


def post_file(client, connection, data: bytes, name: str = "people.csv"):
    return client.post(
        "/imports/new/",
        {"connection": connection.pk, "file": SimpleUploadedFile(name, data, "text/csv")},
    )


def test_an_upload_goes_to_its_preview(admin_client, redflag):
    response = post_file(admin_client, redflag, b"email,firstName,lastName\r\na@x.io,A,B\r\n")
    run = Import.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{run.pk}/"
    page = admin_client.get(response["Location"]).content.decode()
    assert "Confirm: send 1 row to Acme RedFlag" in page


def test_a_file_over_the_limit_is_refused_while_streaming_and_not_stored(
    admin_client, redflag, settings
):
    settings.IMPORT_MAX_BYTES = 1000
    response = post_file(admin_client, redflag, b"email\r\n" + b"a@x.io\r\n" * 500)
    assert response.status_code == 413
    assert "The file is larger than 0 MB: nothing was stored." in response.content.decode()
    assert not Import.objects.exists()
    assert not (settings.MEDIA_ROOT / "imports").exists()


def test_a_file_with_too_many_columns_is_refused_and_not_stored(admin_client, redflag, settings):
    settings.IMPORT_MAX_COLUMNS = 50
    header = ",".join(["email", *(f"c{i}" for i in range(50))])
    response = post_file(admin_client, redflag, f"{header}\r\na@x.io\r\n".encode())
    assert response.status_code == 422
    assert "The first line names 51 columns; an import takes at most 50." in (
        response.content.decode()
    )
    assert not Import.objects.exists()
    assert not [p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file()]
    header = ",".join(["email", *(f"c{i}" for i in range(49))])
    post_file(admin_client, redflag, f"{header}\r\na@x.io\r\n".encode())
    assert Import.objects.count() == 1


def test_a_binary_file_named_csv_gets_a_clear_message(admin_client, redflag):
    response = post_file(admin_client, redflag, b"PK\x03\x04" + b"\x00" * 100, "staff.csv")
    assert response.status_code == 422
    assert "This is a zip archive, not a CSV file or an Excel workbook" in (
        response.content.decode()
    )
    assert not Import.objects.exists()


def test_an_excel_workbook_is_read_from_its_first_sheet(admin_client, redflag):
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's one sheet
    sheet.title = "Starters"
    sheet.append(["E-mail", "Given name", "Surname", "Mobile", "Country"])
    sheet.append(["zoe@example.com", "Zoë", "Ångström", 447911123456, "United Kingdom"])
    book.create_sheet("Leavers").append(["email"])
    data = io.BytesIO()
    book.save(data)
    response = post_file(admin_client, redflag, data.getvalue(), "starters.xlsx")
    run = Import.objects.get()
    assert response.status_code == 302, response.content.decode()[:2000]
    assert (run.original_name, run.sheet) == ("starters.xlsx", "Starters")
    page = admin_client.get(response["Location"]).content.decode()
    assert "sheet “Starters” of an Excel workbook" in page
    assert "Confirm: send 1 row to Acme RedFlag" in page
    row = run.rows.get()
    assert row.payload["firstName"] == "Zoë" and row.payload["mobile"] == "7911123456"


def test_the_invalid_rows_csv_neutralises_formulas_and_explains_each_row(admin_client, redflag):
    data = (
        b'email,firstName,lastName\r\n"=HYPERLINK(""http://evil.example"",""x"")",A,B\r\n'
        b"ok@x.io,Ok,Fine\r\n+44 7911 123456,@SUM(A1),-1\r\n"
    )
    post_file(admin_client, redflag, data)
    run = Import.objects.get()
    response = admin_client.get(f"/imports/{run.pk}/invalid.csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0] == "email,firstName,lastName,Errors"
    assert lines[1].startswith('"\'=HYPERLINK(""http://evil.example"",""x"")",A,B,email:')
    assert lines[2].startswith("'+44 7911 123456,'@SUM(A1),'-1,email:")
    assert len(lines) == 3


def test_a_mapping_can_be_fixed_on_the_page(admin_client, redflag):
    post_file(admin_client, redflag, b"Contact,Name,Family\r\na@x.io,Ann,Lee\r\n")
    run = Import.objects.get()
    assert run.status == ImportStatus.UPLOADED
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "Map a column to Email or Organization ID" in page
    response = admin_client.post(
        f"/imports/{run.pk}/mapping/",
        {"column-0": "email", "column-1": "firstName", "column-2": "lastName"},
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ImportStatus.PREVIEWED and run.n_create == 1


def test_a_column_named_like_a_disabled_field_says_why_it_is_ignored(admin_client, redflag):
    data = b"Work Email,Job title,Mobile,Favourite colour\r\na@x.io,Chef,07911 123456,red\r\n"
    post_file(admin_client, redflag, data)
    run = Import.objects.get()
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()

    assert "Job title is disabled in field settings" in page  # the connection disables "title"
    assert page.count("is disabled in field settings") == 1  # Mobile is enabled and mapped
    assert run.mapping[2]["path"] == "mobile" and run.mapping[1]["path"] == ""


def test_confirm_on_the_page_creates_the_job_and_opens_it(admin_client, redflag):
    post_file(admin_client, redflag, b"email,firstName,lastName\r\na@x.io,A,B\r\n")
    run = Import.objects.get()
    response = admin_client.post(f"/imports/{run.pk}/confirm/")
    job = SyncJob.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.total == 1
    # The job page names the import it came from.
    assert f"Import {run.pk}: people.csv" in admin_client.get(f"/jobs/{job.pk}/").content.decode()


@pytest.mark.skipif(not (BLNS / "blns.base64.json").exists(), reason="blns is missing")
def test_every_naughty_string_in_every_column_is_escaped_or_rejected(admin_client, redflag):
    strings = [base64.b64decode(s).decode("utf-8", "replace") for s in json.loads(
        (BLNS / "blns.base64.json").read_text()
    )]  # fmt: skip
    strings = [s.replace("\x00", "") for s in strings if s.strip()]
    header = "email,firstName,lastName,department"
    lines = [header] + [
        f'"n{i}@x.io","{s.replace(chr(34), chr(34) * 2)}","{s.replace(chr(34), chr(34) * 2)}",'
        f'"{s.replace(chr(34), chr(34) * 2)}"'
        for i, s in enumerate(strings)
    ]
    lines.append('"' + strings[0].replace('"', '""') + '",A,B,C')
    post_file(admin_client, redflag, "\r\n".join(lines).encode())
    run = Import.objects.get()
    assert run.status == ImportStatus.PREVIEWED, run.error
    assert run.n_rows == len(strings) + 1
    for kind in ("create", "invalid"):
        page = 1
        while True:
            response = admin_client.get(f"/imports/{run.pk}/?rows={kind}&page={page}")
            body = response.content.decode()
            assert "<script>alert" not in body
            if 'rel="next"' not in body:
                break
            page += 1


def test_the_progress_poll_reloads_the_page_once_the_preview_is_ready(admin_client, redflag):
    """While a worker builds the preview the section polls itself; once it is built the
    whole page (status badge, first values, confirm button) must change, not the section."""
    post_file(admin_client, redflag, b"email,firstName,lastName\r\na@example.com,Ann,A\r\n")
    run = Import.objects.get()
    poll = {"HX-Request": "true", "HX-Target": "preview", "HX-Trigger": "preview"}
    Import.objects.filter(pk=run.pk).update(status=ImportStatus.PARSING)
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page
    still = admin_client.get(f"/imports/{run.pk}/", headers=poll)
    assert still.status_code == 200 and "HX-Refresh" not in still
    assert still.content.decode().lstrip().startswith('<section id="preview"')

    Import.objects.filter(pk=run.pk).update(status=ImportStatus.PREVIEWED)
    done = admin_client.get(f"/imports/{run.pk}/", headers=poll)
    assert done["HX-Refresh"] == "true"
    # A tab or a page of the preview (another trigger) still swaps the section alone.
    tab = admin_client.get(
        f"/imports/{run.pk}/?rows=invalid", headers={"HX-Request": "true", "HX-Target": "preview"}
    )
    assert "HX-Refresh" not in tab
    assert tab.content.decode().lstrip().startswith('<section id="preview"')


def test_the_upload_page_links_the_demo_sample_and_it_downloads_whole(admin_client):
    page = admin_client.get("/imports/new/").content.decode()
    assert 'href="/imports/sample.csv"' in page
    response = admin_client.get("/imports/sample.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert 'filename="messy-new-starters.csv"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == (DEMO / "messy-new-starters.csv").read_bytes()


def test_the_upload_page_links_the_windows_sample_and_it_downloads_byte_for_byte(admin_client):
    page = admin_client.get("/imports/new/").content.decode()
    assert 'href="/imports/sample-windows-1252.csv"' in page
    response = admin_client.get("/imports/sample-windows-1252.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=windows-1252"
    assert 'filename="international-new-starters.csv"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body == (DEMO / "international-new-starters.csv").read_bytes()
    assert "Bjørn;Ødegård".encode("cp1252") in body


def test_the_demo_sample_previews_with_some_invalid_rows(admin_client, redflag):
    post_file(admin_client, redflag, (DEMO / "messy-new-starters.csv").read_bytes())
    run = Import.objects.get()
    assert (run.encoding, run.delimiter) == ("utf-8-sig", ";")
    assert run.status == ImportStatus.PREVIEWED
    assert run.n_invalid >= 4 and run.n_create >= 4
