"""Reads of imports and their preview rows."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import BinaryIO, cast

from django.db.models import Max, QuerySet

from dashboard.connections.models import Connection
from dashboard.imports.models import Import, ImportRow, RowKind
from integrations.catalogue import FieldSpec
from integrations.importing.layout import Records
from integrations.importing.mapping import mappable_fields
from integrations.importing.reading import ImportFileError, iter_records
from integrations.models import MirroredRecipient


def import_fields(*, connection: Connection) -> list[FieldSpec]:
    """The fields a column may map to: the connection's enabled ones (never a disabled one),
    its enabled custom fields included and RedFlag's history lists offered by member."""
    from dashboard.connections.selectors import connection_enabled_fields, connection_field_rows

    rows = connection_field_rows(connection=connection)
    custom = [row.spec for row in rows if row.spec.custom and row.enabled]
    return mappable_fields(
        connection.provider, connection_enabled_fields(connection=connection), custom
    )


def import_rows(*, import_run: Import, kind: str = "") -> QuerySet[ImportRow]:
    rows = ImportRow.objects.filter(import_run=import_run, generation=import_run.generation)
    if kind in RowKind.values:
        rows = rows.filter(kind=kind)
    return rows.order_by("number")


def mirror_changed_at(*, connection: Connection) -> datetime | None:
    """When the mirror last changed: its last refresh or the newest record seen."""
    newest = MirroredRecipient.objects.filter(connection=connection).aggregate(
        newest=Max("last_seen_at")
    )["newest"]
    candidates = [t for t in (connection.mirror_refreshed_at, newest) if t is not None]
    return max(candidates) if candidates else None


def import_is_stale(*, import_run: Import) -> bool:
    """True when the mirror changed after the preview was built: it may no longer be true."""
    if import_run.previewed_at is None:
        return False
    changed = mirror_changed_at(connection=import_run.connection)
    return changed is not None and changed > import_run.previewed_at


def import_first_records(*, import_run: Import, count: int) -> Records:
    """The stored file's first ``count`` records as (row number, cells), for choosing the
    header row; as many as could be read when the file cannot be read to there."""
    if not import_run.file:
        return []
    found: Records = []
    try:
        with import_run.file.open("rb") as stored:
            rows = iter_records(
                cast(BinaryIO, stored),
                encoding=import_run.encoding,
                delimiter=import_run.delimiter,
            )
            with closing(rows):
                for record in rows:
                    found.append(record)
                    if len(found) >= count:
                        break
    except (ImportFileError, OSError, LookupError):
        pass  # what was read so far; the page says what is wrong with the file
    return found
