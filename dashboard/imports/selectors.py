"""Reads of imports and their preview rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Func, IntegerField, Max, QuerySet

from dashboard.connections.models import Connection
from dashboard.imports.models import Import, ImportRow, RowKind
from integrations.catalogue import FieldSpec
from integrations.importing.mapping import mappable_fields
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


class _JSONArrayLength(Func):
    """The length of a JSON array column: ``jsonb_array_length`` on PostgreSQL,
    ``json_array_length`` on SQLite."""

    function = "jsonb_array_length"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="json_array_length", **extra)


def import_invalid_width(*, import_run: Import) -> int:
    """The most cells any invalid row of the preview holds (0 for none): a row with more
    cells than the header is invalid, and invalid.csv keeps its extra cells."""
    widest = import_rows(import_run=import_run, kind=RowKind.INVALID).aggregate(
        widest=Max(_JSONArrayLength("cells"))
    )["widest"]
    return widest or 0


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
