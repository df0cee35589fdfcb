"""invalid.csv: the rows that cannot be sent, as uploaded plus an error column.

Fix the cells and upload the file again. Every cell is made safe for spreadsheets: one that a
spreadsheet would evaluate (``=HYPERLINK(…)``, ``+44…``) gets a leading ``'``.

Every line has the same cells, so the errors stay in their column: a row shorter than the
header is padded; a longer row's extra cells follow the errors, under "Extra cell 1", "Extra
cell 2"… (a missing quote or delimiter put them there; nothing of the row is dropped).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from dashboard.core.csvstream import BOM, csv_line_writer, csv_safe
from dashboard.imports.models import ImportRow

ERROR_COLUMN = "Errors"
EXTRA_COLUMN = "Extra cell {n}"


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
    rows: Iterable[ImportRow], header: Sequence[str], delimiter: str = ",", *, width: int = 0
) -> Iterator[str]:
    """The CSV line by line, in the upload's delimiter, with a UTF-8 BOM for Excel.

    ``width`` is the most cells a row holds (``import_invalid_width``): the columns for the
    extra cells of rows longer than the header.
    """
    columns = len(header)
    extra = max(0, width - columns)
    titles = [*header, ERROR_COLUMN, *(EXTRA_COLUMN.format(n=n) for n in range(1, extra + 1))]
    writer = csv_line_writer(delimiter=delimiter)
    yield BOM + writer.writerow([csv_safe(title) for title in titles])
    for row in rows:
        cells = [csv_safe(cell) for cell in row.cells]
        own = cells[:columns] + [""] * (columns - len(cells))
        beyond = cells[columns:]
        beyond += [""] * (extra - len(beyond))
        yield writer.writerow([*own, csv_safe(row_error_text(row, header)), *beyond])
