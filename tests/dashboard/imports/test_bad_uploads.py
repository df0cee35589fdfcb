"""Uploads built to hurt, or merely odd, get the upload page with a clear message: workbook
bombs and broken XML, file names longer than a file system takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import Import, stored_name
from tests.integrations.importing.workbook_parts import (
    MAIN,
    SHEET_HEAD,
    SHEET_TAIL,
    repeated,
    sheet_xml,
    workbook_parts,
    xlsx_zip,
)

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(client, connection, data: bytes, name: str, content_type: str = XLSX):
    return client.post(
        "/imports/new/",
        {"connection": connection.pk, "file": SimpleUploadedFile(name, data, content_type)},
    )


def stored_files(settings) -> list:
    return [p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file()]


def test_a_workbook_bomb_gets_the_upload_page_with_a_message_and_nothing_is_stored(
    admin_client, redflag, settings
):
    head = SHEET_HEAD + b'<row><c t="inlineStr"><is><t>'
    sheet = repeated(head, b"a" * (1 << 22), 256, b"</t></is></c></row>" + SHEET_TAIL)
    response = upload(admin_client, redflag, xlsx_zip(workbook_parts(sheet)), "staff.xlsx")
    assert response.status_code == 422
    assert "This workbook unpacks to 1,024 MB, more than an import reads" in (
        response.content.decode()
    )
    assert not Import.objects.exists()
    assert not stored_files(settings)


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        (
            sheet_xml([["email"], ["&lol;"]], doctype='<!DOCTYPE w [<!ENTITY lol "lol">]>'),
            "declares a DTD (entities), which Excel never writes",
        ),
        (sheet_xml([["email"], ["a@example.com"]])[:-25], "is not well-formed XML"),
    ],
    ids=["entities", "truncated"],
)
def test_a_workbook_with_bad_xml_gets_a_clear_message(
    admin_client, redflag, settings, sheet, message
):
    response = upload(admin_client, redflag, xlsx_zip(workbook_parts(sheet)), "staff.xlsx")
    assert response.status_code == 422
    page = response.content.decode()
    assert "This workbook" in page and message in page
    assert not Import.objects.exists()
    assert not stored_files(settings)
    assert MAIN not in page  # the message names the part, never the XML


@pytest.mark.parametrize(
    "name",
    [
        "a" * 300 + ".csv",  # 304 characters
        "Liste des employés — " + "é" * 200 + ".csv",  # 230 characters, 427 bytes
        "名前" * 90 + ".CSV",  # 184 characters, 544 bytes
        "x" * 250 + ".xlsx",
    ],
    ids=["ascii", "accents", "japanese", "workbook"],
)
def test_a_file_name_longer_than_a_file_system_takes_is_shortened_when_stored(
    admin_client, redflag, settings, name
):
    rows = [["email", "firstName", "lastName"], ["a@example.com", "Ann", "Lee"]]
    data = "".join(",".join(row) + "\r\n" for row in rows).encode()
    if name.endswith(".xlsx"):
        data = xlsx_zip(workbook_parts(sheet_xml(rows)))
    response = upload(admin_client, redflag, data, name, "text/csv")
    assert response.status_code == 302, response.content.decode()[:3000]
    run = Import.objects.get()
    # Shown as uploaded: Django cuts a name over 255 characters, keeping the extension.
    assert run.original_name == (name if len(name) <= 255 else name[:251] + ".csv")
    stored = Path(run.file.path)
    assert stored.is_file() and stored.read_bytes().startswith(b"email,firstName")
    assert len(stored.name.encode()) <= 100
    assert stored.suffix.lower() == ".csv"
    assert stored.stem[:5] == Path(name).stem[:5].replace(" ", "_")
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "Confirm: send 1 row to Acme RedFlag" in page


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("staff.csv", "staff.csv"),
        ("é" * 60 + ".csv", "é" * 48 + ".csv"),  # 96 + 4 bytes
        ("a" * 200, "a" * 100),  # no extension
        ("a" * 200 + "." + "b" * 20, "a" * 100),  # not an extension: cut as a name
        ("." * 120 + "csv", "upload.csv"),
        ("名" * 40 + "x.csv", "名" * 32 + ".csv"),  # 3 bytes each: 96 + 4
    ],
)
def test_stored_names_are_cut_at_a_character_and_keep_their_extension(name, stored):
    assert stored_name(name) == stored
