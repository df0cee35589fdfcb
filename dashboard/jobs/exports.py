"""errors.csv: a job's failed and unsent items, safe to open in a spreadsheet."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from dashboard.core.csvstream import BOM, csv_line_writer, csv_safe
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
    writer = csv_line_writer()
    yield BOM + writer.writerow(HEADER)
    for item in items:
        yield writer.writerow(item_row(item))
