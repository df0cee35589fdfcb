"""Small things of the import pages: sample values before a mapping, an import with nothing
to send, invalid.csv with ragged rows."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import Import, ImportStatus

pytestmark = pytest.mark.django_db


def post_file(client, connection, data: bytes, name: str = "people.csv"):
    return client.post(
        "/imports/new/",
        {"connection": connection.pk, "file": SimpleUploadedFile(name, data, "text/csv")},
    )


def badge(page: str) -> str:
    found = re.search(r'<span class="badge import-([a-z]+)">([^<]+)</span>', page)
    assert found is not None
    return f"{found.group(1)}: {found.group(2)}"


# -- nothing to send ------------------------------------------------------------------------


def test_an_import_with_nothing_to_send_says_so_instead_of_ready_to_confirm(admin_client, redflag):
    post_file(admin_client, redflag, b"email,firstName\r\nnot-an-email,Ann\r\nalso bad,Bo\r\n")
    run = Import.objects.get()
    assert run.status == ImportStatus.PREVIEWED and run.n_invalid == 2
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert badge(page) == "nothing: Nothing to send"
    assert "Ready to confirm" not in page
    assert (
        "Nothing to send: no row would create or update a recipient (0 already the same at "
        "Acme RedFlag, 2 invalid)." in page
    )
    listing = admin_client.get("/imports/").content.decode()
    assert badge(listing) == "nothing: Nothing to send"


def test_an_import_with_rows_to_send_is_still_ready_to_confirm(admin_client, redflag):
    post_file(
        admin_client,
        redflag,
        b"email,firstName,lastName\r\nann@example.com,Ann,Lee\r\nbad,Bo,Li\r\n",
    )
    run = Import.objects.get()
    assert badge(admin_client.get(f"/imports/{run.pk}/").content.decode()) == (
        "previewed: Ready to confirm"
    )
    assert badge(admin_client.get("/imports/").content.decode()) == "previewed: Ready to confirm"


# -- sample values before a mapping ---------------------------------------------------------


def samples(page: str) -> list[str]:
    return [
        html.unescape(value.strip())
        for value in re.findall(r'<td class="sample">([^<]*)</td>', page)
    ]


def test_the_mapping_table_shows_a_value_of_each_column_before_anything_is_mapped(
    admin_client, redflag
):
    """No identifier mapped (no preview yet): each column's first value that is not blank
    among the first five rows, read from the file."""
    data = (
        "Contact;Name;Family;Notes;Late\r\n"
        "ann@example.com;Ann;;;\r\n"
        "bo@example.com;;O'Brien;;\r\n"
        "cy@example.com;Cy;Lee; ;\r\n"
        + "x@example.com;X;X;;\r\n" * 2
        + "z@example.com;Z;Z;;too late\r\n"
    ).encode()
    post_file(admin_client, redflag, data)
    run = Import.objects.get()
    assert run.status == ImportStatus.UPLOADED  # nothing previewed
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert samples(page) == ["ann@example.com", "Ann", "O'Brien", "", ""]


def test_the_samples_come_from_the_file_once_a_preview_exists_too(admin_client, redflag):
    post_file(admin_client, redflag, b"email,firstName,lastName\r\na@x.io,,Lee\r\nb@x.io,Bo,Li\r\n")
    run = Import.objects.get()
    assert run.status == ImportStatus.PREVIEWED
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert samples(page) == ["a@x.io", "Bo", "Lee"]


# -- invalid.csv with ragged rows -----------------------------------------------------------


def invalid_csv(client, run) -> list[list[str]]:
    response = client.get(f"/imports/{run.pk}/invalid.csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body, newline="")))


def test_a_short_row_is_padded_so_its_error_stays_in_the_errors_column(admin_client, redflag):
    post_file(
        admin_client, redflag, b"email,firstName,lastName\r\nann@example.com\r\nbad,Bo,Li\r\n"
    )
    rows = invalid_csv(admin_client, Import.objects.get())
    assert rows[0] == ["email", "firstName", "lastName", "Errors"]
    assert rows[1] == [
        "ann@example.com", "", "",
        "This row has 1 cell but the header has 3: a delimiter or quote is probably missing.",
    ]  # fmt: skip
    assert rows[2][:3] == ["bad", "Bo", "Li"] and rows[2][3].startswith("email: ")
    assert {len(row) for row in rows} == {4}


def test_a_long_rows_extra_cells_follow_the_errors_column_under_their_own_titles(
    admin_client, redflag
):
    data = (
        b"email,firstName,lastName\r\n"
        b"ann@example.com,Ann,O,Brien\r\n"  # a comma in a name, unquoted
        b"bo@example.com,Bo,de,la,Cruz\r\n"
        b"bad,Cy,Li\r\n"
        b"short@example.com\r\n"
    )
    post_file(admin_client, redflag, data)
    rows = invalid_csv(admin_client, Import.objects.get())
    assert rows[0] == ["email", "firstName", "lastName", "Errors", "Extra cell 1", "Extra cell 2"]
    assert rows[1][:3] == ["ann@example.com", "Ann", "O"]
    assert rows[1][3].startswith("This row has 4 cells but the header has 3")
    assert rows[1][4:] == ["Brien", ""]
    assert rows[2][:3] == ["bo@example.com", "Bo", "de"] and rows[2][4:] == ["la", "Cruz"]
    assert rows[3][:3] == ["bad", "Cy", "Li"] and rows[3][3].startswith("email: ")
    assert rows[4][:3] == ["short@example.com", "", ""]
    assert rows[4][3].startswith("This row has 1 cell")
    assert {len(row) for row in rows} == {6}


def test_invalid_csv_with_extra_cells_can_be_fixed_and_uploaded_again(admin_client, redflag):
    post_file(admin_client, redflag, b"email,firstName,lastName\r\nann@example.com,Ann,O,Brien\r\n")
    rows = invalid_csv(admin_client, Import.objects.get())
    rows[1][2:] = ["O'Brien", "", ""]  # the name joined again, the extra cell emptied
    fixed = io.StringIO()
    csv.writer(fixed).writerows(rows)
    response = post_file(admin_client, redflag, fixed.getvalue().encode(), "fixed.csv")
    run = Import.objects.get(original_name="fixed.csv")
    assert response.status_code == 302
    assert (run.n_create, run.n_invalid) == (1, 0)
    assert run.rows.get().payload["lastName"] == "O'Brien"
