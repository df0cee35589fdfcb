"""Excel workbooks: the first sheet becomes a UTF-8 CSV the import pipeline reads as any other."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from integrations.importing.reading import ImportFileError
from integrations.importing.workbook import cell_text, is_workbook, workbook_to_csv


def xlsx(*rows, title: str = "Sheet1", extra_sheets: int = 0) -> bytes:
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's one sheet
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for n in range(extra_sheets):
        book.create_sheet(f"Other {n}").append(["not", "read"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def convert(data: bytes, max_bytes: int = 10**7) -> tuple[str, list[list[str]]]:
    target = io.BytesIO()
    name = workbook_to_csv(io.BytesIO(data), target, max_bytes=max_bytes)
    text = target.getvalue().decode("utf-8")
    return name, list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (1001.0, "1001"),  # an employee number Excel stored as a number
        (447911123456, "447911123456"),  # a phone typed as a number
        (2.5, "2.5"),
        (Decimal("12.50"), "12.5"),
        (datetime(2025, 3, 2), "2025-03-02"),  # a date cell: no midnight
        (datetime(2025, 3, 2, 9, 30), "2025-03-02 09:30:00"),
        (date(2025, 3, 2), "2025-03-02"),
        (time(9, 30), "09:30:00"),
        ("=HYPERLINK(1)", "=HYPERLINK(1)"),  # text stays text; the preview flags it
        ("Zoë", "Zoë"),
    ],
)
def test_cells_become_the_text_a_person_sees(value, text):
    assert cell_text(value) == text


def test_the_first_sheet_is_converted_with_its_name_and_nothing_else():
    data = xlsx(
        ["email", "first name", "start", "employee id", "sms"],
        ["zoe@example.com", "Zoë", datetime(2025, 3, 2), 1001, True],
        ["a@example.com", 'Ann, "Nan"\nSmith', None, None, False],
        title="Starters",
        extra_sheets=2,
    )
    name, rows = convert(data)
    assert name == "Starters"
    assert rows == [
        ["email", "first name", "start", "employee id", "sms"],
        ["zoe@example.com", "Zoë", "2025-03-02", "1001", "true"],
        ["a@example.com", 'Ann, "Nan"\nSmith', "", "", "false"],
    ]


def test_trailing_empty_cells_and_rows_are_dropped_but_gaps_inside_are_kept():
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's one sheet
    sheet.append(["email", "name"])
    sheet.append(["a@example.com", "A"])
    sheet.append([])
    sheet.append(["b@example.com", "B"])
    sheet["F20"] = None  # a used range far wider and longer than the data
    sheet["D30"] = ""
    out = io.BytesIO()
    book.save(out)
    _, rows = convert(out.getvalue())
    assert rows == [["email", "name"], ["a@example.com", "A"], [], ["b@example.com", "B"]]


def test_a_formula_is_read_as_its_computed_value_never_as_formula_text():
    # openpyxl writes formulas without a cached value (Excel would store it): empty, not "=".
    _, rows = convert(xlsx(["email", "link"], ["a@example.com", '=HYPERLINK("http://x")']))
    assert rows[1] == ["a@example.com"]


def test_a_workbook_without_data_is_refused():
    with pytest.raises(ImportFileError, match="The sheet “Empty” of this workbook is empty"):
        convert(xlsx(title="Empty"))


def test_a_damaged_workbook_gets_a_clear_message():
    data = xlsx(["email"], ["a@example.com"])
    with pytest.raises(ImportFileError, match="could not be opened"):
        convert(data[: len(data) // 2])
    with pytest.raises(ImportFileError, match="could not be opened"):
        convert(b"PK\x03\x04" + b"\x00" * 200)


def test_a_workbook_that_expands_beyond_the_limit_is_refused():
    rows = [["email", "notes"]] + [[f"p{i}@example.com", "x" * 200] for i in range(200)]
    with pytest.raises(ImportFileError, match="holds more than 0 MB of data"):
        convert(xlsx(*rows), max_bytes=10_000)


def test_only_zip_files_that_are_workbooks_are_taken_for_one():
    data = xlsx(["email"])
    assert is_workbook(data[:4096], "staff.xlsx")
    assert is_workbook(data[:65536], "renamed.csv")  # an .xlsx renamed: its parts say so
    assert not is_workbook(b"PK\x03\x04" + b"\x00" * 100, "archive.csv")
    assert not is_workbook(b"email\r\na@example.com\r\n", "people.xlsx")
