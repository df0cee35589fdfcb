"""errors.csv: a job's failed and unsent items, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from integrations.models import SyncItem

HEADER = [
    "seq",
    "identifier",
    "operation",
    "status",
    "http_status",
    "error_code",
    "error_message",
    "payload",
]
# A spreadsheet evaluates a cell starting with one of these as a formula (OWASP, "CSV
# injection"); E.164 phone numbers start with "+" too, and stay readable text this way.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """The cell as text, with a leading ``'`` if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose ``write`` hands the line back, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def item_row(item: SyncItem) -> list[str]:
    return [
        csv_safe(cell)
        for cell in (
            item.seq,
            item.identifier,
            item.get_operation_display(),
            item.get_status_display(),
            item.http_status,
            item.error_code,
            item.error_message,
            json.dumps(item.payload, ensure_ascii=False, sort_keys=True),
        )
    ]


def errors_csv_lines(items: Iterable[SyncItem]) -> Iterator[str]:
    """The CSV, line by line; a UTF-8 BOM first so Excel reads accents correctly."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)
    for item in items:
        yield writer.writerow(item_row(item))
