"""Reads of imports and their preview rows."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, cast

from django.core.cache import cache
from django.db.models import Func, IntegerField, Max, QuerySet

from dashboard.connections.selectors import connection_enabled_fields, connection_field_rows
from dashboard.imports.models import Import, ImportRow, RowKind
from dashboard.recipients.provider import recipient_client
from dashboard.recipients.selectors import provider_problem
from integrations.catalogue import FieldSpec, field_spec
from integrations.clients.errors import ProviderError
from integrations.importing.layout import Records
from integrations.importing.lookups import lookup_paths, provider_name, read_lookup
from integrations.importing.mapping import mappable_fields
from integrations.importing.reading import ImportFileError, iter_records
from integrations.models import Connection, JobSource, MirroredRecipient, SyncJob

# How long the import page may show a provider list read before (the form's accounts, the
# names beside ids), and a failure to read one (so a page that polls does not ask again at
# once). A preview always reads the lists afresh.
LOOKUP_TTL = 300
LOOKUP_FAILURE_TTL = 30


def import_fields(*, connection: Connection) -> list[FieldSpec]:
    """The fields a column may map to: the connection's enabled ones (never a disabled one),
    its enabled custom fields included and RedFlag's history lists offered by member."""
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


@dataclass
class ImportLookups:
    """The provider's lists of the fields whose values it defines, by path (``(name,
    value)`` pairs), and for each list that could not be read, why (a sentence)."""

    lists: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def names(self) -> dict[str, dict[str, str]]:
        """Path → value → the name the provider gives it (to show beside the value)."""
        return {path: {value: name for name, value in pairs} for path, pairs in self.lists.items()}


def _lookup_key(connection: Connection, path: str) -> str:
    """The cache key of a connection's list for ``path``: a changed connection (its
    credentials, its base URL) or a new one with a reused id never reads an older list."""
    stamps = f"{connection.created_at.timestamp()}:{connection.updated_at.timestamp()}"
    return f"imports:lookup:{connection.pk}:{stamps}:{path}"


def import_lookups(
    *, connection: Connection, paths: Iterable[str], fresh: bool = False
) -> ImportLookups:
    """Read, through the connection's client, the provider's list of each of ``paths`` whose
    values it defines (Snappy's accounts); other paths are left out.

    ``fresh`` reads every list now (a preview: it is the contract); otherwise a list read in
    the last ``LOOKUP_TTL`` seconds will do (the page). Never raises for a provider failure:
    the list's path is in ``problems`` with the reason.
    """
    wanted = [path for path in dict.fromkeys(paths) if path in lookup_paths(connection.provider)]
    found = ImportLookups()
    keys = {path: _lookup_key(connection, path) for path in wanted}
    cached = {} if fresh or not keys else cache.get_many(list(keys.values()))
    missing = []
    for path in wanted:
        entry = cached.get(keys[path])
        if entry is None:
            missing.append(path)
        elif isinstance(entry, str):
            found.problems[path] = entry
        else:
            found.lists[path] = entry
    if not missing:
        return found
    who = provider_name(connection.provider)
    client = None
    try:
        client = recipient_client(connection)
        for path in missing:
            found.lists[path] = read_lookup(client, connection.provider, path)
            cache.set(keys[path], found.lists[path], timeout=LOOKUP_TTL)
    except ProviderError as exc:
        reason = provider_problem(exc, who)
        for path in missing:
            if path in found.lists:
                continue
            spec = field_spec(connection.provider, path)
            label = spec.label.lower() if spec else path
            found.problems[path] = (
                f"{who}'s list of {label} could not be read, so no value of this field can be "
                f"checked or sent: {reason.rstrip('.')}. Refresh the preview to try again."
            )
            cache.set(keys[path], found.problems[path], timeout=LOOKUP_FAILURE_TTL)
    finally:
        if client is not None:
            client.close()
    return found


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


def import_of_job(*, job: SyncJob) -> Import | None:
    """Return the CSV import a push job was confirmed from, if any (one query, for imports)."""
    if job.source != JobSource.IMPORT:
        return None
    return Import.objects.filter(job=job).only("pk").first()
