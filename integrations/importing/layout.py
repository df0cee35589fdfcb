"""Where a file's column names are: its first row, a row below title lines, or none.

Exports from HR systems and reports saved from Excel often start with title lines ("Employee
export", "Generated 2025-01-02", a blank line) above the row that names the columns. The
header is found the way a person finds it: the first row that fills more than half of the
columns the data rows use, or that names a known field. A file with no header at all cannot
be told from one whose first row is data, so that is the admin's choice; its columns are
then named "Column 1", "Column 2"….

Rows are numbered as a spreadsheet numbers them (blank rows counted): ``iter_records``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import BinaryIO

from integrations.importing.reading import iter_records

# The records looked at for the header: title blocks are a few lines, seldom more than ten.
HEADER_SEARCH_RECORDS = 30
# The furthest row the header may be on.
MAX_HEADER_ROW = 1000
# The records whose widest gives a file without a header its columns.
WIDTH_SAMPLE_RECORDS = 100

Records = list[tuple[int, list[str]]]


def column_names(width: int) -> list[str]:
    """Name the columns of a file without a header: "Column 1", "Column 2"…."""
    return [f"Column {n}" for n in range(1, width + 1)]


def filled(cells: Sequence[str]) -> int:
    return sum(1 for cell in cells if cell.strip())


def _used_width(cells: Sequence[str]) -> int:
    """The number of cells up to the last filled one (a workbook's rows end there)."""
    width = len(cells)
    while width and not cells[width - 1].strip():
        width -= 1
    return width


def find_header_row(
    records: Sequence[tuple[int, list[str]]], names_a_field: Callable[[str], bool]
) -> int:
    """Return the row number of the record that names the columns, among the first records.

    ``records`` are (row number, cells) in file order; ``names_a_field`` tells whether a cell
    is a known column name (a catalogue field's name or synonym). A record is a title line,
    and skipped, when it fills at most half the columns most records use and names no
    field; the first record that is not one is the header. Returns 1 for no records.
    """
    sample = list(records[:HEADER_SEARCH_RECORDS])
    if not sample:
        return 1
    widths = Counter(_used_width(cells) for _, cells in sample if filled(cells))
    if not widths:
        return sample[0][0]
    # The commonest width, the wider on a tie: the data rows' (and the header's) width.
    width = max(widths.items(), key=lambda item: (item[1], item[0]))[0]
    for number, cells in sample:
        if filled(cells) * 2 > width:
            return number
        if any(names_a_field(cell) for cell in cells if cell.strip()):
            return number
    return sample[0][0]


def first_records(
    binary: BinaryIO, *, encoding: str, delimiter: str, count: int, upto: int = 0
) -> Records:
    """Read the file's first ``count`` records, and on up to row ``upto`` and the record
    after it, as (row number, cells). Raises ``ImportFileError`` as ``iter_records`` does."""
    found: Records = []
    records = iter_records(binary, encoding=encoding, delimiter=delimiter)
    with contextlib.closing(records):
        for number, cells in records:
            found.append((number, cells))
            if len(found) >= count and number > upto:
                break
    return found


def header_row_problem(records: Records, header_row: int) -> str:
    """Say why row ``header_row`` (0: none) cannot be the header of the file whose first
    records are ``records`` (read up to the record after it); "" when it can."""
    if not records:
        return "The file is empty."
    if header_row == 0:
        return ""
    if header_row < 0:
        return "Row numbers start at 1 (0: the file has no header row)."
    if header_row > MAX_HEADER_ROW:
        return f"The header must be on one of the first {MAX_HEADER_ROW:,} rows."
    last = records[-1][0]
    if header_row > last:
        return (
            f"The file has {last:,} row{'s' if last != 1 else ''}: row {header_row:,} is "
            "beyond its end."
        )
    cells = dict(records).get(header_row)
    if cells is None or not filled(cells):
        return f"Row {header_row:,} is empty: choose the row that names the columns."
    if header_row == last:
        return f"Row {header_row:,} is the file's last row: no rows of data would be left."
    return ""
