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
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

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


# What a workbook may unpack to before openpyxl reads it (``workbook_check``). A sheet's XML
# runs 5 to 15 times the CSV it becomes (measured on openpyxl's output: an HR export, a
# column of one repeated word, styled empty cells), so a workbook whose data fits the CSV cap
# unpacks to well under this many times the cap.
UNPACKED_PER_CSV_BYTE = 20
# Real parts deflate 8 to 15 times (same files); a zip bomb over 1,000 times. Parts under
# RATIO_FROM_BYTES unpacked may be as repetitive as they like: they cannot hurt.
MAX_RATIO = 100
RATIO_FROM_BYTES = 1 << 20
# A cell holds at most 32,767 characters in Excel (under 350 kB even as escaped UTF-16): no
# tag or text of a real part is longer than MAX_TOKEN_BYTES, and no row of a sheet longer
# than MAX_ROW_BYTES. openpyxl holds a whole cell, and a whole row, in memory.
MAX_TOKEN_BYTES = 1 << 20
MAX_ROW_BYTES = 16 << 20
# openpyxl holds every part but a sheet whole: the shared strings of all sheets, the styles.
PARTS_PER_CSV_BYTE = 4
# openpyxl lays each row out up to its last cell: a cell far right on many rows (even an
# empty one) costs that many places each. A real sheet's rows are laid out in a few places
# per byte of its CSV.
PLACES_PER_CSV_BYTE = 4
EXCEL_ROWS = 1_048_576
_XML_NAMES = (".xml", ".rels")
_CHUNK = 1 << 16
_SAVE_AGAIN = "Save it again from Excel, or as CSV UTF-8."
_EXHAUSTING = "the file may be built to exhaust the server"


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
    # Read every row there is, each as long as its own cells: openpyxl otherwise stops at the
    # sheet's recorded dimension (rows past a wrong one were lost) and pads every row, the
    # empty ones between rows too, to its width (16,384 columns: a second per row).
    sheet.reset_dimensions()
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


def _megabytes(size: int) -> str:
    """Megabytes as the upload page counts them (of 1,024 kB)."""
    return f"{max(1, round(size / (1 << 20))):,} MB"


class _PartScanner:
    """Parse one XML part with expat, keeping nothing: refuse a DTD (never expand an entity)
    and any tag, text or sheet row longer than a real workbook has.

    ECMA-376 part 2 (Open Packaging Conventions) forbids DTDs in a package's XML; the stdlib
    parser openpyxl uses would expand the entities one declares.
    """

    def __init__(self, info: zipfile.ZipInfo, max_bytes: int) -> None:
        self.name = info.filename
        self.size = info.file_size
        self.max_part_bytes = PARTS_PER_CSV_BYTE * max_bytes
        self.max_places = PLACES_PER_CSV_BYTE * max_bytes
        self.places = 0  # where the sheet's rows are laid out, so far
        self.parser = expat.ParserCreate()
        if hasattr(self.parser, "SetReparseDeferralEnabled"):
            # Report each tag as soon as it is complete, so a token's length is measured
            # while it is read, not once expat chooses to parse again.
            self.parser.SetReparseDeferralEnabled(False)
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.StartElementHandler = self._element
        self.parser.EndElementHandler = self._element_end
        self.fed = 0
        self.depth = 0
        self.last_start = 0  # where the last tag began
        self.row_start = -1  # where the sheet's current row began (-1: not in a row)
        self.row_depth = 0
        self.row_width = self.column = 0  # the current row's last column, and its cell's
        self.is_sheet: bool | None = None  # known at the root element

    def _doctype(self, *args: Any) -> None:
        raise ImportFileError(
            f"This workbook's part “{self.name}” declares a DTD (entities), which Excel never "
            f"writes and an import never reads: {_EXHAUSTING}. {_SAVE_AGAIN}"
        )

    def _element(self, name: str, attributes: Any) -> None:
        position = self.parser.CurrentByteIndex
        self._check_token(position)
        self.last_start = position
        self.depth += 1
        local = name.rpartition(":")[2]
        if self.is_sheet is None:
            self.is_sheet = local == "worksheet"
            if not self.is_sheet and self.size > self.max_part_bytes:
                # openpyxl streams a sheet but holds every other part whole (all the
                # shared strings, the styles).
                raise ImportFileError(
                    f"This workbook's part “{self.name}” unpacks to {_megabytes(self.size)}, "
                    f"more than an import reads ({_megabytes(self.max_part_bytes)}). Save the "
                    "sheet you want as CSV UTF-8 and upload that instead."
                )
        elif self.is_sheet and local == "row" and self.row_start < 0:
            self.row_start, self.row_depth = position, self.depth
            self.row_width = self.column = 0
            self._check_row_number(attributes.get("r", ""))
        elif self.row_start >= 0 and local == "c" and self.depth == self.row_depth + 1:
            # As openpyxl places a cell: at its reference's column, or after the last one.
            self.column = _column(attributes.get("r", "")) or self.column + 1
            self.row_width = max(self.row_width, self.column)

    def _element_end(self, name: str) -> None:
        if self.depth == self.row_depth and self.row_start >= 0:
            self._check_row(self.parser.CurrentByteIndex)
            self.row_start = -1
            self.places += self.row_width
            if self.places > self.max_places:
                raise ImportFileError(
                    f"The sheet “{self.name}” lays its rows out over more than "
                    f"{self.max_places:,} cells (cells far to the right on many rows), more than "
                    f"an import reads: {_EXHAUSTING}. {_SAVE_AGAIN}"
                )
        self.depth -= 1

    def _check_row_number(self, number: str) -> None:
        # openpyxl gives every row number up to this one (rows missing are empty ones).
        digits = number.lstrip("0")
        if digits.isascii() and digits.isdigit() and (len(digits) > 7 or int(digits) > EXCEL_ROWS):
            raise ImportFileError(
                f"The sheet “{self.name}” numbers a row {number[:20]}, past Excel's last row "
                f"({EXCEL_ROWS:,}): {_EXHAUSTING}. {_SAVE_AGAIN}"
            )

    def _check_token(self, position: int) -> None:
        if position - self.last_start > MAX_TOKEN_BYTES:
            raise ImportFileError(
                f"This workbook's part “{self.name}” holds a cell or tag of more than "
                f"{_megabytes(MAX_TOKEN_BYTES)}; Excel allows 32,767 characters in a cell: "
                f"{_EXHAUSTING}. {_SAVE_AGAIN}"
            )

    def _check_row(self, position: int) -> None:
        if position - self.row_start > MAX_ROW_BYTES:
            raise ImportFileError(
                f"A row of this workbook's sheet “{self.name}” holds more than "
                f"{_megabytes(MAX_ROW_BYTES)} of cells, more than Excel can: {_EXHAUSTING}. "
                f"{_SAVE_AGAIN}"
            )

    def feed(self, chunk: bytes) -> bool:
        """Parse the next ``chunk`` (``b""`` at the end); False once the part is found not to
        be XML, past which no parser reads it."""
        self.fed += len(chunk)
        try:
            self.parser.Parse(chunk, not chunk)
        except expat.ExpatError as exc:
            if not self.name.endswith(_XML_NAMES):
                return False  # a legacy VML drawing is not XML, and openpyxl never reads it
            raise ImportFileError(
                f"This workbook is damaged: its part “{self.name}” is not well-formed XML "
                f"({exc}). {_SAVE_AGAIN}"
            ) from None
        # Also between tags: a token still being read is measured before it is complete.
        self._check_token(self.fed)
        if self.row_start >= 0:
            self._check_row(self.fed)
        return True


def _column(reference: str) -> int:
    """The column number of a cell reference ("AB12" → 28; 0 for none or a bad one)."""
    letters = reference.rstrip("0123456789")
    if not letters or len(letters) > 3 or not letters.isascii() or not letters.isalpha():
        return 0
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def workbook_check(source: IO[bytes], *, max_bytes: int) -> None:
    """Refuse a workbook that would take far more memory to read than its data is worth,
    before openpyxl reads anything.

    The zip's directory is checked first (the size each part unpacks to, alone and in all,
    and how much it is compressed: a zip bomb's one cell inflates a thousand times), then
    every XML part is parsed once, streamed and kept nowhere: no DTD, no tag or text longer
    than a cell can be, no sheet row longer than a row can be. A part whose declared size
    lies is read only up to that size (``zipfile`` stops there and reports the bad checksum).

    ``max_bytes`` is the cap on the CSV the workbook becomes. Raises ``ImportFileError``.
    ``source`` is left at its start.
    """
    budget = UNPACKED_PER_CSV_BYTE * max_bytes
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            total = sum(info.file_size for info in members)
            if total > budget:
                raise ImportFileError(
                    f"This workbook unpacks to {_megabytes(total)}, more than an import reads "
                    f"({_megabytes(budget)}). Save the sheet you want as CSV UTF-8 and upload "
                    "that instead."
                )
            for info in members:
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size >= RATIO_FROM_BYTES and ratio > MAX_RATIO:
                    raise ImportFileError(
                        f"This workbook's part “{info.filename}” unpacks {ratio:,.0f} times "
                        f"its size (a real workbook's, about 15 times): {_EXHAUSTING}. "
                        f"{_SAVE_AGAIN}"
                    )
            for info in members:
                _scan_part(archive, info, max_bytes=max_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # A damaged part, an unknown compression method, a password.
        raise ImportFileError(
            "This Excel workbook could not be opened: it may be damaged, protected by a "
            f"password or not really an .xlsx file. {_SAVE_AGAIN}"
        ) from exc
    finally:
        source.seek(0)


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_bytes: int) -> None:
    """Scan one part if it is XML: by its name, or by its first byte (a part's name is only a
    convention: the workbook's relationships may point anywhere)."""
    with archive.open(info) as part:
        chunk = part.read(_CHUNK)
        if not chunk:
            return
        looks_like_xml = chunk.lstrip(b"\xef\xbb\xbf\xfe\xff\x00 \t\r\n")[:1] == b"<"
        if not (info.filename.endswith(_XML_NAMES) or looks_like_xml):
            return
        scanner = _PartScanner(info, max_bytes)
        while chunk and scanner.feed(chunk):
            chunk = part.read(_CHUNK)
        if not chunk:
            scanner.feed(b"")


# What reading a damaged sheet raises (xml.etree's ParseError is a SyntaxError).
_DAMAGED = (
    zipfile.BadZipFile, KeyError, TypeError, ValueError, SyntaxError, OSError, IndexError,
    AttributeError,
)  # fmt: skip


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

    workbook_check(source, max_bytes=max_bytes)
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (
        InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, ParseError,
        TypeError, IndexError, AttributeError,  # openpyxl on a styles part it does not expect
    ) as exc:  # fmt: skip
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
                except (
                    zipfile.BadZipFile, KeyError, TypeError, ValueError, ParseError, IndexError,
                    AttributeError,  # a cell pointing past the shared strings, and the like
                ) as exc:  # fmt: skip
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
