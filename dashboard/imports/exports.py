"""invalid.csv: the rows that cannot be sent, as uploaded plus an error column.

Fix the cells and upload the file again. Every cell is made safe for spreadsheets: one that a
spreadsheet would evaluate (``=HYPERLINK(…)``, ``+44…``) gets a leading ``'``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from dashboard.imports.models import ImportRow
from dashboard.jobs.exports import _Echo, csv_safe

ERROR_COLUMN = "Errors"


def row_error_text(row: ImportRow, header: Sequence[str]) -> str:
    parts = []
    for key, message in sorted(row.errors.items(), key=lambda item: (item[0] != "row", item[0])):
        if key == "row":
            parts.append(message)
        else:
            index = int(key)
            title = header[index] if index < len(header) else f"column {index + 1}"
            parts.append(f"{title}: {message}")
    return "; ".join(parts)


def invalid_csv_lines(
    rows: Iterable[ImportRow], header: Sequence[str], delimiter: str = ","
) -> Iterator[str]:
    """The CSV line by line, in the upload's delimiter, with a UTF-8 BOM for Excel."""
    writer = csv.writer(_Echo(), delimiter=delimiter)
    yield "\ufeff" + writer.writerow([csv_safe(title) for title in [*header, ERROR_COLUMN]])
    for row in rows:
        cells = [csv_safe(cell) for cell in row.cells]
        yield writer.writerow([*cells, csv_safe(row_error_text(row, header))])
