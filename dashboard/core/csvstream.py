"""Stream a CSV download line by line, with cells a spreadsheet will not run as formulas.

Every CSV the dashboard offers (a job's errors.csv, an import's invalid.csv) is built here:
``csv_line_writer`` gives a ``csv.writer`` whose ``writerow`` returns the line instead of
writing it, so a view can stream the lines without holding the file; ``BOM`` goes first so
Excel reads accents correctly.
"""

from __future__ import annotations

import csv
from typing import Any

# A UTF-8 byte order mark: Excel reads the file as UTF-8 only when it starts with one.
BOM = "\ufeff"
# A spreadsheet evaluates a cell starting with one of these as a formula (OWASP, "CSV
# injection"); E.164 phone numbers start with "+" too, and stay readable text this way.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """Return the cell as text, with a leading ``'`` if a spreadsheet would take it for a
    formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose ``write`` hands the line back."""

    def write(self, value: str) -> str:
        return value


def csv_line_writer(*, delimiter: str = ",") -> Any:
    """Return a ``csv.writer`` whose ``writerow`` returns the formatted line."""
    return csv.writer(_Echo(), delimiter=delimiter)
