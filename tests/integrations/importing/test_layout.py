"""Where a file's rows are: title lines above the header, no header, rows numbered as a
spreadsheet numbers them."""

from __future__ import annotations

import io

import pytest

from integrations.importing.layout import (
    column_names,
    find_header_row,
    first_records,
    header_row_problem,
)
from integrations.importing.reading import detect, iter_records, iter_rows

TITLED = (
    "Employee export\r\n"
    "Generated 2025-01-02 by HR\r\n"
    "\r\n"
    "Email;First name;Last name;Department;Start date\r\n"
    "zoe@example.com;Zoë;Ångström;Sales;2025-03-02\r\n"
    "bo@example.com;Bo;Lee;;2025-03-03\r\n"
    "ann@example.com;Ann;Roe;IT;\r\n"
).encode()


def records(data: bytes, delimiter: str = ";") -> list[tuple[int, list[str]]]:
    return list(iter_records(io.BytesIO(data), encoding="utf-8", delimiter=delimiter))


def never(_: str) -> bool:
    return False


def test_records_are_numbered_as_a_spreadsheet_numbers_its_rows():
    data = b'email,notes\r\n\r\na@x.io,"two\r\nlines"\r\nb@x.io,x\r\n'
    assert records(data, ",") == [
        (1, ["email", "notes"]),
        (3, ["a@x.io", "two\r\nlines"]),  # the blank row 2 counts; a quoted newline does not
        (4, ["b@x.io", "x"]),
    ]
    assert list(iter_rows(io.BytesIO(data), encoding="utf-8", delimiter=",")) == [
        cells for _, cells in records(data, ",")
    ]


def test_title_lines_do_not_throw_off_the_delimiter_detection():
    assert detect(TITLED).delimiter == ";"
    padded = TITLED.replace(b"Employee export", b"Employee export;;;;")
    assert detect(padded).delimiter == ";"


def test_the_header_is_found_below_title_lines_and_a_blank_line():
    assert find_header_row(records(TITLED), never) == 4


def test_a_blank_ish_line_of_empty_cells_is_skipped_too():
    data = TITLED.replace(
        b"Generated 2025-01-02 by HR\r\n\r\n", b"Generated 2025-01-02;by HR\r\n;;;;\r\n"
    )
    assert find_header_row(records(data), never) == 4


def test_a_file_that_starts_with_its_header_keeps_row_1():
    data = b"email;name\r\na@x.io;Ann\r\nb@x.io;\r\n"
    assert find_header_row(records(data), never) == 1
    one_column = b"email\r\na@x.io\r\n"
    assert find_header_row(records(one_column), never) == 1


def test_a_sparse_header_that_names_a_field_is_not_taken_for_a_title():
    data = b"email;;;\r\na@x.io;Ann;Lee;IT\r\nb@x.io;Bo;Roe;HR\r\n"
    assert find_header_row(records(data), never) == 2  # by its shape alone, a title
    assert find_header_row(records(data), lambda cell: cell == "email") == 1


def test_columns_of_a_file_without_a_header_are_numbered():
    assert column_names(3) == ["Column 1", "Column 2", "Column 3"]


def test_first_records_reads_on_to_the_row_after_a_header_row_asked_for():
    data = b"".join(f"r{n};x\r\n".encode() for n in range(1, 101))
    assert [n for n, _ in first_records(io.BytesIO(data), encoding="utf-8", delimiter=";",
                                        count=3)] == [1, 2, 3]  # fmt: skip
    found = first_records(io.BytesIO(data), encoding="utf-8", delimiter=";", count=3, upto=50)
    assert found[-1][0] == 51


@pytest.mark.parametrize(
    ("header_row", "problem"),
    [
        (4, ""),
        (0, ""),
        (1, ""),  # a title line may be chosen: the admin sees what it maps to
        (3, "Row 3 is empty: choose the row that names the columns."),
        (7, "Row 7 is the file's last row: no rows of data would be left."),
        (8, "The file has 7 rows: row 8 is beyond its end."),
        (99, "The file has 7 rows: row 99 is beyond its end."),
        (-1, "Row numbers start at 1 (0: the file has no header row)."),
        (5000, "The header must be on one of the first 1,000 rows."),
    ],
)
def test_a_header_row_that_cannot_be_one_says_why(header_row, problem):
    found = first_records(
        io.BytesIO(TITLED), encoding="utf-8", delimiter=";", count=30, upto=max(header_row, 0)
    )
    assert header_row_problem(found, header_row) == problem


def test_an_empty_file_has_no_header_row():
    assert header_row_problem([], 1) == "The file is empty."
    assert find_header_row([], never) == 1
