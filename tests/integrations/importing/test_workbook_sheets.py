"""Excel workbooks: the sheets listed, the first with data read, another read on request."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from integrations.importing.reading import ImportFileError
from integrations.importing.workbook import Sheet, workbook_sheets, workbook_to_csv


def book(**sheets: list[list[Any]]) -> bytes:
    """A workbook with the sheets named and filled as given, in order."""
    workbook = Workbook()
    first = workbook.active
    assert isinstance(first, Worksheet)  # a new workbook's one sheet
    workbook.remove(first)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def convert(data: bytes, sheet_name: str | None = None) -> tuple[str, list[list[str]]]:
    target = io.BytesIO()
    name = workbook_to_csv(io.BytesIO(data), target, max_bytes=10**7, sheet_name=sheet_name)
    return name, list(csv.reader(io.StringIO(target.getvalue().decode(), newline="")))


STAFF: list[list[Any]] = [["email", "name"], ["a@x.io", "Ann"], ["b@x.io", "Bo"]]


def test_the_sheet_asked_for_is_converted():
    data = book(Summary=[["Headcount", 2]], Staff=STAFF)
    assert convert(data) == ("Summary", [["Headcount", "2"]])
    assert convert(data, "Staff") == ("Staff", STAFF)


def test_an_empty_first_sheet_is_passed_over_for_the_first_with_data():
    data = book(Cover=[], Notes=[[None, None]], Staff=STAFF)
    assert convert(data) == ("Staff", STAFF)


def test_a_sheet_that_is_not_there_or_empty_gets_a_clear_message():
    data = book(Cover=[], Staff=STAFF)
    with pytest.raises(ImportFileError, match="This workbook has no sheet named “Leavers”"):
        convert(data, "Leavers")
    with pytest.raises(ImportFileError, match="The sheet “Cover” of this workbook is empty"):
        convert(data, "Cover")
    with pytest.raises(ImportFileError, match="Every sheet of this workbook is empty"):
        convert(book(Cover=[], Back=[]))


def test_the_worksheets_are_listed_with_the_empty_ones_marked_and_charts_left_out():
    workbook = Workbook()
    staff = workbook.active
    assert isinstance(staff, Worksheet)
    staff.title = "Staff"
    for row in (["team", "people"], ["IT", 3], ["HR", 2]):
        staff.append(list(row))
    workbook.create_sheet("Empty")
    chart = BarChart()
    chart.add_data(Reference(staff, min_col=2, min_row=1, max_row=3), titles_from_data=True)
    workbook.create_chartsheet("Chart").add_chart(chart)
    out = io.BytesIO()
    workbook.save(out)
    assert workbook_sheets(io.BytesIO(out.getvalue())) == [
        Sheet(name="Staff", has_data=True),
        Sheet(name="Empty", has_data=False),
    ]
    with pytest.raises(ImportFileError, match="no sheet named “Chart”"):
        convert(out.getvalue(), "Chart")


def test_a_workbook_that_cannot_be_opened_has_no_sheets_to_list():
    assert workbook_sheets(io.BytesIO(b"PK\x03\x04" + b"\x00" * 200)) == []
