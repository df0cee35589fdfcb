"""Files as they come: the sheet of a workbook, title lines above the header, no header."""

from __future__ import annotations

import io
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from dashboard.audit.models import AuditEvent
from dashboard.imports import services
from dashboard.imports.models import Import, ImportStatus
from dashboard.imports.selectors import import_rows

pytestmark = pytest.mark.django_db

STAFF: list[list[Any]] = [
    ["E-mail", "First name", "Last name", "Department"],
    ["zoe@example.com", "Zoë", "Ångström", "Sales"],
    ["bo@example.com", "Bo", "Lee", None],  # a last cell left empty
    ["ann@example.com", "Ann", "Roe", "IT"],
]
# What an HR system's report looks like: title lines, a blank row, then the header (row 4).
TITLED_CSV = (
    "Employee export,,,\r\n"
    "Generated 2025-01-02,,,\r\n"
    ",,,\r\n"
    "E-mail,First name,Last name,Department\r\n"
    "zoe@example.com,Zoë,Ångström,Sales\r\n"
    "bo@example.com,Bo,Lee,\r\n"
    "\r\n"
    "ann@example.com,Ann,Roe,IT\r\n"
).encode()


def workbook(**sheets: list[list[Any]]) -> bytes:
    book = Workbook()
    first = book.active
    assert isinstance(first, Worksheet)  # a new workbook's one sheet
    book.remove(first)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(data: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "application/octet-stream")


def post_file(client, connection, data: bytes, name: str):
    return client.post("/imports/new/", {"connection": connection.pk, "file": upload(data, name)})


def numbers(run: Import) -> dict[int, str]:
    return {row.number: row.identifier for row in import_rows(import_run=run)}


def stored_files(settings) -> list[Path]:
    return sorted(p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file())


# -- sheets ---------------------------------------------------------------------------------


def test_another_sheet_of_the_workbook_can_be_chosen_and_is_previewed(
    admin_client, redflag, settings
):
    data = workbook(Summary=[["Headcount", "Date"], [3, "2025-01-02"]], Staff=STAFF)
    response = post_file(admin_client, redflag, data, "staff.xlsx")
    run = Import.objects.get()
    assert response.status_code == 302
    assert run.sheet == "Summary" and run.status == ImportStatus.UPLOADED
    assert run.sheets == [{"name": "Summary", "empty": False}, {"name": "Staff", "empty": False}]
    assert run.source_file.read() == data  # the workbook itself is kept to read another sheet
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert '<option value="Staff">Staff</option>' in page

    response = admin_client.post(
        f"/imports/{run.pk}/layout/", {"sheet": "Staff", "header_row": "1"}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.sheet, run.header_row, run.status) == ("Staff", 1, ImportStatus.PREVIEWED)
    assert run.header == ["E-mail", "First name", "Last name", "Department"]
    assert run.mapped_paths == ["email", "firstName", "lastName", "department"]
    assert numbers(run) == {2: "zoe@example.com", 3: "bo@example.com", 4: "ann@example.com"}
    assert run.n_create == 3 and run.n_invalid == 0  # Bo's empty last cell is no ragged row
    event = AuditEvent.objects.get(action="import.layout_changed")
    assert event.changes == {"sheet": {"before": "Summary", "after": "Staff"}}
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "Now reading sheet “Staff”, header on row 1" in page
    assert "Confirm: send 3 rows to Acme RedFlag" in page

    services.import_discard(import_run=run, user=None)
    assert stored_files(settings) == []  # the workbook is deleted with the CSV read from it


def test_an_empty_first_sheet_is_passed_over_at_upload(admin_user, redflag):
    data = workbook(Cover=[], Staff=STAFF)
    run = services.import_create(
        connection=redflag, upload=upload(data, "staff.xlsx"), user=admin_user
    )
    assert run.sheet == "Staff" and run.status == ImportStatus.PREVIEWED
    assert run.sheets == [{"name": "Cover", "empty": True}, {"name": "Staff", "empty": False}]
    assert run.n_create == 3


def test_choosing_an_empty_sheet_says_so_and_changes_nothing(admin_client, redflag):
    post_file(admin_client, redflag, workbook(Cover=[], Staff=STAFF), "staff.xlsx")
    run = Import.objects.get()
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert '<option value="Cover">Cover (empty)</option>' in page
    response = admin_client.post(
        f"/imports/{run.pk}/layout/", {"sheet": "Cover", "header_row": "1"}
    )
    assert response.status_code == 422
    assert "The sheet “Cover” of this workbook is empty." in response.content.decode()
    run.refresh_from_db()
    assert run.sheet == "Staff" and run.n_create == 3
    assert not AuditEvent.objects.filter(action="import.layout_changed").exists()
    response = admin_client.post(f"/imports/{run.pk}/layout/", {"sheet": "Leavers"})
    assert response.status_code == 422
    assert "Select a valid choice." in response.content.decode()


# -- title lines above the header -----------------------------------------------------------


def test_title_lines_are_skipped_and_rows_numbered_as_in_the_spreadsheet(admin_client, redflag):
    response = post_file(admin_client, redflag, TITLED_CSV, "export.csv")
    run = Import.objects.get()
    assert run.header_row == 4
    assert run.header == ["E-mail", "First name", "Last name", "Department"]
    # Row 4 is the header, so the first person is on row 5; the blank row 7 counts.
    assert numbers(run) == {5: "zoe@example.com", 6: "bo@example.com", 8: "ann@example.com"}
    first = import_rows(import_run=run).first()
    assert first is not None and first.cells[0] == "zoe@example.com"  # the mapping's sample
    page = admin_client.get(response["Location"]).content.decode()
    assert "Header found on row 4; rows 1\N{EN DASH}3 skipped." in page
    assert "Header on row 4; rows 1\N{EN DASH}3 skipped." in page


def test_title_lines_in_a_workbook_are_skipped_with_the_spreadsheets_numbers(admin_user, redflag):
    data = workbook(Report=[["Employee export"], ["Generated", "2025-01-02"], [], *STAFF])
    run = services.import_create(
        connection=redflag, upload=upload(data, "hr.xlsx"), user=admin_user
    )
    assert run.header_row == 4 and run.n_create == 3
    assert numbers(run) == {5: "zoe@example.com", 6: "bo@example.com", 7: "ann@example.com"}


def test_a_title_line_naming_a_field_in_passing_is_still_a_title(admin_user, redflag):
    data = b"Email export for payroll,,\r\nemail,firstName,lastName\r\na@x.io,Ann,Lee\r\n"
    run = services.import_create(connection=redflag, upload=upload(data, "p.csv"), user=admin_user)
    assert run.header_row == 2 and numbers(run) == {3: "a@x.io"}


def test_a_duplicate_names_the_rows_as_the_spreadsheet_does(admin_user, redflag):
    data = b"Staff,,\r\n\r\nemail,firstName,lastName\r\na@x.io,A,B\r\nA@x.io,C,D\r\n"
    run = services.import_create(connection=redflag, upload=upload(data, "d.csv"), user=admin_user)
    assert run.header_row == 3
    rows = {row.number: row for row in import_rows(import_run=run)}
    assert rows[5].errors["row"] == "Same identifier as row 4: keep one."
    assert rows[4].errors["row"] == "Same identifier as row 5: keep one."


def test_switching_the_header_row_maps_and_previews_again(admin_client, admin_user, redflag):
    run = services.import_create(
        connection=redflag, upload=upload(TITLED_CSV, "export.csv"), user=admin_user
    )
    response = admin_client.post(f"/imports/{run.pk}/layout/", {"header_row": "1"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.header == ["Employee export", "", "", ""]
    assert run.mapped_paths == ["", "", "", ""] and run.status == ImportStatus.UPLOADED
    assert run.n_rows == 0 and not import_rows(import_run=run).exists()  # no stale preview
    admin_client.post(f"/imports/{run.pk}/layout/", {"header_row": "4"})
    run.refresh_from_db()
    assert run.mapped_paths == ["email", "firstName", "lastName", "department"]
    assert run.status == ImportStatus.PREVIEWED and run.n_create == 3
    changes = [e.changes for e in AuditEvent.objects.filter(action="import.layout_changed")]
    assert sorted(c["header row"]["after"] for c in changes) == [1, 4]


def test_an_empty_header_row_finds_the_header_again(admin_client, admin_user, redflag):
    run = services.import_create(
        connection=redflag, upload=upload(TITLED_CSV, "e.csv"), user=admin_user, header_row=1
    )
    assert run.header_row == 1
    admin_client.post(f"/imports/{run.pk}/layout/", {"header_row": ""})
    run.refresh_from_db()
    assert run.header_row == 4 and run.n_create == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Enter the header&#x27;s row number, such as 1 or 3."),
        ("2.5", "Enter the header&#x27;s row number, such as 1 or 3."),
        ("-1", "Row numbers start at 1. For a file without column names, tick"),
        ("0", "Row numbers start at 1. For a file without column names, tick"),
        ("9", "The file has 8 rows: row 9 is beyond its end."),
        ("100000", "The header must be on one of the first 1,000 rows."),
        ("3", "Row 3 is empty: choose the row that names the columns."),
        ("7", "Row 7 is empty: choose the row that names the columns."),
        ("8", "Row 8 is the file&#x27;s last row: no rows of data would be left."),
    ],
)
def test_a_header_row_that_cannot_be_gets_a_clear_form_error(
    admin_client, admin_user, redflag, value, message
):
    run = services.import_create(
        connection=redflag, upload=upload(TITLED_CSV, "export.csv"), user=admin_user
    )
    response = admin_client.post(f"/imports/{run.pk}/layout/", {"header_row": value})
    assert response.status_code == 422
    page = response.content.decode()
    assert message in page
    assert 'aria-invalid="true"' in page and 'id="id_header_row_error"' in page
    run.refresh_from_db()
    assert run.header_row == 4 and run.n_create == 3


# -- no header ------------------------------------------------------------------------------


def test_a_file_without_a_header_reads_every_row_as_data(admin_client, admin_user, redflag):
    data = b"zoe@example.com,Zo\xc3\xab,Lee\r\nbo@example.com,Bo,Roe\r\nann@example.com,Ann\r\n"
    run = services.import_create(connection=redflag, upload=upload(data, "n.csv"), user=admin_user)
    assert run.header == ["zoe@example.com", "Zoë", "Lee"]  # taken for a header at first
    response = admin_client.post(f"/imports/{run.pk}/layout/", {"no_header": "on"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.header_row == 0 and run.header == ["Column 1", "Column 2", "Column 3"]
    assert run.mapped_paths == ["", "", ""] and run.status == ImportStatus.UPLOADED
    admin_client.post(
        f"/imports/{run.pk}/mapping/",
        {"column-0": "email", "column-1": "firstName", "column-2": "lastName"},
    )
    run.refresh_from_db()
    rows = {row.number: row for row in import_rows(import_run=run)}
    assert sorted(rows) == [1, 2, 3]
    assert rows[1].payload == {"email": "zoe@example.com", "firstName": "Zoë", "lastName": "Lee"}
    assert rows[3].kind == "invalid"  # two cells where the file has three columns
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "The file has no header row: every row is data" in page
    # The next such file is mapped by the columns' places, as remembered.
    again = services.import_create(
        connection=redflag, upload=upload(data, "n.csv"), user=admin_user, header_row=0
    )
    assert again.mapped_paths == ["email", "firstName", "lastName"]
    assert again.status == ImportStatus.PREVIEWED and again.n_create == 2


def test_a_workbook_without_a_header_is_as_wide_as_its_widest_row(admin_user, redflag):
    data = workbook(Staff=STAFF[1:])
    run = services.import_create(
        connection=redflag, upload=upload(data, "n.xlsx"), user=admin_user, header_row=0
    )
    assert run.header == ["Column 1", "Column 2", "Column 3", "Column 4"]
    services.import_set_mapping(
        import_run=run, paths=["email", "firstName", "lastName", "department"], user=admin_user
    )
    assert run.n_create == 3 and numbers(run) == {
        1: "zoe@example.com", 2: "bo@example.com", 3: "ann@example.com",
    }  # fmt: skip


def test_a_closed_import_keeps_its_layout(admin_client, admin_user, redflag):
    run = services.import_create(
        connection=redflag, upload=upload(TITLED_CSV, "e.csv"), user=admin_user
    )
    services.import_discard(import_run=run, user=admin_user)
    response = admin_client.post(f"/imports/{run.pk}/layout/", {"header_row": "1"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.header_row == 4


# -- the command line -----------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("import_csv", "--connection", "Acme RedFlag", "--dry-run", *args, stdout=out)
    return out.getvalue()


def test_the_command_line_reads_the_sheet_and_header_row_asked_for(redflag, tmp_path):
    path = tmp_path / "hr.xlsx"
    path.write_bytes(workbook(Summary=[["Headcount", 3]], Staff=[["Staff list"], *STAFF]))
    output = run_command(str(path), "--sheet", "Staff")
    assert "sheet “Staff”, header on row 2" in output and "create: 3" in output
    with pytest.raises(CommandError, match="Map a column"):  # "Staff list" names nothing
        run_command(str(path), "--sheet", "Staff", "--header-row", "1")
    assert Import.objects.filter(sheet="Staff", header_row=1).exists()
    with pytest.raises(CommandError, match="This workbook has no sheet named “Leavers”"):
        run_command(str(path), "--sheet", "Leavers")


def test_the_command_line_takes_a_file_without_a_header(redflag, tmp_path):
    path = tmp_path / "plain.csv"
    path.write_bytes(b"zoe@example.com,Zoe\r\nbo@example.com,Bo\r\n")
    with pytest.raises(CommandError, match="Map a column"):
        run_command(str(path), "--header-row", "0")
    assert redflag.imports.get().header == ["Column 1", "Column 2"]
    with pytest.raises(CommandError, match="Only an Excel workbook has sheets"):
        run_command(str(path), "--sheet", "Staff")
    with pytest.raises(CommandError, match="The file has 2 rows: row 5 is beyond its end"):
        run_command(str(path), "--header-row", "5")
    with pytest.raises(CommandError, match="row numbers start at 1"):
        run_command(str(path), "--header-row", "-2")
