"""Uploads built to hurt, or merely odd, get the upload page with a clear message: workbook
bombs and broken XML, file names longer than a file system takes."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import Import
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
    return [p for p in settings.IMPORT_UPLOAD_DIR.glob("**/*") if p.is_file()]


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
