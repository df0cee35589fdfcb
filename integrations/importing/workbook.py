"""Excel workbooks (.xlsx): one sheet turned into a UTF-8 CSV file for the same pipeline.

An upload that is an ``.xlsx`` workbook is converted at upload (the first sheet with data;
another sheet when the admin chooses it), so encoding and delimiter
detection, mapping, validation and the preview work on it exactly as on a CSV export.
openpyxl's read-only mode streams the sheet's XML, so a large workbook never sits in memory;
the CSV written is capped (a few kilobytes of zip can expand to gigabytes of cells).

Cells become text the way a person reads them in Excel: whole numbers without ``.0`` (an
employee number or a phone typed as a number), dates as ``YYYY-MM-DD``, times of day
dropped from whole-day dates, booleans as ``true``/``false``, empty cells as nothing.
Formulas are read as their last computed value (what Excel shows), never as formula text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

from integrations.importing.reading import ImportFileError

XLSX_MAGIC = b"PK\x03\x04"
# The rows looked at to tell whether a sheet has data: an empty sheet's used range may still
# span thousands of formatted rows, which are not worth reading to the end.
PROBE_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Sheet:
    """A worksheet of a workbook (chart sheets hold no rows and are not listed)."""

    name: str
    has_data: bool


def is_workbook(sample: bytes, name: str = "") -> bool:
    """True for an .xlsx upload: a zip file, named .xlsx or holding a workbook part."""
    if not sample.startswith(XLSX_MAGIC):
        return False
    return name.lower().endswith((".xlsx", ".xlsm")) or b"xl/" in sample


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _rows(sheet: Any) -> Iterable[list[str]]:
    """The sheet's rows as text, with trailing empty cells and empty rows at the end dropped
    (Excel often reports a used range wider and longer than the data)."""
    blank = 0
    for values in sheet.iter_rows(values_only=True):
        row = [cell_text(value) for value in values]
        while row and not row[-1].strip():
            row.pop()
        if not row:
            blank += 1
            continue
        yield from ([] for _ in range(blank))
        blank = 0
        yield row


# What reading a damaged sheet raises (xml.etree's ParseError is a SyntaxError).
_DAMAGED = (zipfile.BadZipFile, KeyError, TypeError, ValueError, SyntaxError, OSError)


def _has_data(sheet: Any) -> bool:
    """True when a cell of the sheet's first ``PROBE_ROWS`` rows is filled, or the sheet
    cannot be read (converting it says what is wrong)."""
    try:
        for values in sheet.iter_rows(max_row=PROBE_ROWS, values_only=True):
            if any(cell_text(value).strip() for value in values):
                return True
    except _DAMAGED:
        return True
    return False


def _chosen_sheet(book: Any, name: str | None) -> Any:
    """The worksheet ``name``, or for None the first one with data (else the first)."""
    if not book.worksheets:
        raise ImportFileError("This workbook has no sheets.")
    if name is not None:
        for sheet in book.worksheets:
            if sheet.title == name:
                return sheet
        raise ImportFileError(f"This workbook has no sheet named “{name}”.")
    return next((s for s in book.worksheets if _has_data(s)), book.worksheets[0])


def workbook_sheets(source: IO[bytes]) -> list[Sheet]:
    """List the worksheets of the workbook ``source`` in order, saying which have data.

    Read after ``workbook_to_csv`` accepted the same workbook: a sheet that cannot be read
    is listed as having data (choosing it says what is wrong with it), and a workbook that
    cannot be opened has no sheets to list.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (*_DAMAGED, InvalidFileException):
        return []
    try:
        return [Sheet(name=str(s.title), has_data=_has_data(s)) for s in book.worksheets]
    finally:
        book.close()


def workbook_to_csv(
    source: IO[bytes], target: IO[bytes], *, max_bytes: int, sheet_name: str | None = None
) -> str:
    """Write a sheet of the workbook ``source`` as UTF-8 CSV into ``target``.

    The sheet is ``sheet_name``, or the first sheet with data. Returns the sheet's name.
    Raises ``ImportFileError`` when the workbook cannot be read, the sheet is missing or has
    no data, or it expands beyond ``max_bytes`` of CSV.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(
            "This Excel workbook could not be opened: it may be damaged, protected by a "
            "password or not really an .xlsx file. Save it again from Excel, or as CSV UTF-8."
        ) from exc
    try:
        sheet = _chosen_sheet(book, sheet_name)
        text = io.TextIOWrapper(target, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\r\n")
        rows = iter(_rows(sheet))
        wrote_any = False
        try:
            while True:
                try:
                    row = next(rows, None)
                except (zipfile.BadZipFile, KeyError, TypeError, ValueError) as exc:
                    raise ImportFileError(
                        f"The sheet “{sheet.title}” could not be read to the end: the workbook "
                        "may be damaged. Save it again from Excel, or as CSV UTF-8."
                    ) from exc
                if row is None:
                    break
                writer.writerow(row)
                wrote_any = True
                if target.tell() > max_bytes:
                    raise ImportFileError(
                        f"The sheet “{sheet.title}” of this workbook holds more than "
                        f"{max_bytes // 1_000_000} MB of data, the most an import may have. "
                        "Split it into several files."
                    )
        finally:
            text.detach()
        if not wrote_any:
            if sheet_name is None and len(book.worksheets) > 1:
                raise ImportFileError("Every sheet of this workbook is empty.")
            raise ImportFileError(f"The sheet “{sheet.title}” of this workbook is empty.")
        return str(sheet.title)
    finally:
        book.close()
