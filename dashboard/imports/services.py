"""Uploading, mapping, previewing, confirming and discarding CSV imports.

The preview is built by streaming the stored file row by row and writing ``ImportRow`` in
batches, so a large file never sits in memory and its first rows can be shown while the rest
is read. Confirming hands exactly the previewed create and update rows to the sync engine.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from dashboard.audit.services import audit_record
from dashboard.connections.models import Connection
from dashboard.imports.models import Import, ImportRow, ImportStatus, RememberedMapping, RowKind
from dashboard.imports.selectors import import_fields, import_is_stale, import_rows
from integrations.catalogue import FieldSpec, Provider
from integrations.clients.models import from_provider
from integrations.importing.cells import RowBuilder
from integrations.importing.compare import classify
from integrations.importing.mapping import auto_map, mapping_problems, normalise_header
from integrations.importing.reading import SAMPLE_BYTES, ImportFileError, detect, iter_rows
from integrations.importing.workbook import is_workbook, workbook_to_csv
from integrations.models import JobSource, MirroredRecipient, SyncJob
from integrations.sync.services import job_create_push

logger = logging.getLogger(__name__)

ROW_BATCH = 1000
IMPORTABLE_PROVIDERS = (Provider.REDFLAG, Provider.SNAPPY)


class ImportStateError(ValueError):
    """The import cannot do this now; the message is for the user."""


class MappingError(ImportStateError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


# -- upload and reading options -------------------------------------------------------------


def _read_header(import_run: Import) -> list[str]:
    with import_run.file.open("rb") as stored:
        handle = cast(BinaryIO, stored)  # a FieldFile proxies the binary file it opened
        rows = iter_rows(handle, encoding=import_run.encoding, delimiter=import_run.delimiter)
        header = next(rows, None)
        rows.close()
    if not header:
        raise ImportFileError("The file is empty.")
    if len(header) == 1 and not header[0].strip():
        raise ImportFileError("The first line is empty: it should name the columns.")
    return header


def _remembered(connection: Connection) -> dict[str, str]:
    memory = RememberedMapping.objects.filter(connection=connection).first()
    return dict(memory.columns) if memory else {}


def _auto_mapping(import_run: Import) -> list[dict[str, Any]]:
    fields = import_fields(connection=import_run.connection)
    matches = auto_map(import_run.header, fields, _remembered(import_run.connection))
    return [{"path": m.path, "confidence": m.confidence, "reason": m.reason} for m in matches]


def import_create(
    *, connection: Connection, upload: UploadedFile | File, user: Any, inline: bool = False
) -> Import:
    """Store an uploaded file, detect how to read it, map its columns, start the preview.

    ``inline`` builds the preview now whatever the file's size (the command line does).

    Raises ``ImportFileError`` (nothing stored) when the file cannot be read as CSV at all.
    """
    if Provider(connection.provider) not in IMPORTABLE_PROVIDERS:
        raise ImportFileError(f"{connection.get_provider_display()} has no recipients to import.")
    original_name = upload.name or "upload.csv"
    sample = upload.read(SAMPLE_BYTES)
    upload.seek(0)
    with ExitStack() as stack:
        sheet = ""
        if is_workbook(sample, original_name):
            converted = stack.enter_context(tempfile.TemporaryFile())
            sheet = workbook_to_csv(upload, converted, max_bytes=settings.IMPORT_MAX_BYTES)
            converted.seek(0)
            upload = File(converted, name=f"{Path(original_name).stem}.csv")
            sample = upload.read(SAMPLE_BYTES)
            upload.seek(0)
        return _import_store(connection, upload, original_name, sample, sheet, user, inline)


def _import_store(
    connection: Connection,
    upload: UploadedFile | File,
    original_name: str,
    sample: bytes,
    sheet: str,
    user: Any,
    inline: bool,
) -> Import:
    detected = detect(sample)
    import_run = Import(
        connection=connection,
        original_name=original_name[:255],
        sheet=sheet[:100],
        size=upload.size or 0,
        encoding=detected.encoding,
        delimiter=detected.delimiter,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    import_run.file.save(upload.name or "upload.csv", upload, save=False)
    try:
        import_run.header = _read_header(import_run)
    except ImportFileError:
        import_run.file.delete(save=False)
        raise
    import_run.mapping = _auto_mapping(import_run)
    import_run.save()
    read_from = f", sheet “{sheet}”" if sheet else ""
    audit_record(
        actor=user,
        action="import uploaded",
        target=import_run,
        summary=f"{import_run.original_name}{read_from} ({import_run.size} bytes) for "
        f"{connection.name}",
    )
    _start_preview_if_mapped(import_run, inline=inline)
    return import_run


def import_set_reading(*, import_run: Import, encoding: str, delimiter: str, user: Any) -> Import:
    """Read the file again with another encoding or delimiter; the mapping starts afresh."""
    _require_open(import_run)
    import_run.encoding, import_run.delimiter = encoding, delimiter
    try:
        import_run.header = _read_header(import_run)
    except ImportFileError as exc:
        import_run.status = ImportStatus.FAILED
        import_run.error = str(exc)[:1000]
        import_run.save()
        return import_run
    import_run.error = ""
    import_run.status = ImportStatus.UPLOADED
    import_run.mapping = _auto_mapping(import_run)
    import_run.save()
    _start_preview_if_mapped(import_run)
    return import_run


def import_set_mapping(*, import_run: Import, paths: Sequence[str], user: Any) -> Import:
    """Use the admin's mapping (one path or "" per column), remember it, rebuild the preview."""
    _require_open(import_run)
    fields = import_fields(connection=import_run.connection)
    problems = mapping_problems(paths, fields)
    if problems:
        raise MappingError(problems)
    previous = import_run.mapped_paths
    changed = {
        f"{title or 'column'} (column {i + 1})": {"before": old or None, "after": path or None}
        for i, (title, old, path) in enumerate(zip(import_run.header, previous, paths, strict=True))
        if old != path
    }
    import_run.mapping = [
        entry
        if previous[i : i + 1] == [path]
        else {"path": path, "confidence": 100, "reason": "chosen"}
        for i, (path, entry) in enumerate(zip(paths, import_run.mapping, strict=True))
    ]
    import_run.save(update_fields=["mapping", "updated_at"])
    RememberedMapping.objects.update_or_create(
        connection=import_run.connection,
        defaults={
            "columns": {
                normalise_header(title): path
                for title, path in zip(import_run.header, paths, strict=True)
                if normalise_header(title)
            }
        },
    )
    if changed:
        audit_record(
            actor=user,
            action="import mapping changed",
            target=import_run,
            summary=f"{len(changed)} column{'s' if len(changed) != 1 else ''} of "
            f"{import_run.original_name}",
            changes=changed,
        )
    import_start_preview(import_run=import_run)
    return import_run


def _require_open(import_run: Import) -> None:
    if import_run.status in {ImportStatus.CONFIRMED, ImportStatus.DISCARDED}:
        raise ImportStateError(f"This import is {import_run.get_status_display().lower()}.")


def _start_preview_if_mapped(import_run: Import, *, inline: bool = False) -> None:
    fields = import_fields(connection=import_run.connection)
    if not mapping_problems(import_run.mapped_paths, fields):
        import_start_preview(import_run=import_run, inline=inline)


# -- the preview ---------------------------------------------------------------------------


def import_start_preview(*, import_run: Import, inline: bool = False) -> Import:
    """(Re)build the preview: inline for small files, on a worker for large ones."""
    _require_open(import_run)
    with transaction.atomic():
        import_run.generation += 1
        import_run.status = ImportStatus.PARSING
        import_run.error = ""
        import_run.bytes_read = 0
        import_run.n_rows = import_run.n_create = import_run.n_update = 0
        import_run.n_unchanged = import_run.n_invalid = 0
        import_run.previewed_at = None
        import_run.save()
        ImportRow.objects.filter(import_run=import_run).exclude(
            generation=import_run.generation
        ).delete()
    if inline or import_run.size <= settings.IMPORT_INLINE_MAX_BYTES:
        import_build_preview(import_id=import_run.pk, generation=import_run.generation)
        import_run.refresh_from_db()
    else:
        from dashboard.imports.tasks import build_import_preview

        build_import_preview.delay_on_commit(import_run.pk, import_run.generation)
    return import_run


def _mirror_lookup(
    connection: Connection, identifier_path: str, identifiers: list[str]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Lower-cased identifier → (remote id, provider record) of the live mirrored recipients."""
    live = MirroredRecipient.objects.filter(connection=connection, gone_at__isnull=True)
    if identifier_path == "email":
        found = live.filter(email_lower__in=[i.lower() for i in identifiers])
        key_field = "email_lower"
    else:
        found = live.filter(external_id__in=identifiers)
        key_field = "external_id"
    return {
        key.lower(): (remote_id, record)
        for key, remote_id, record in found.values_list(key_field, "remote_id", "record")
    }


# The columns of a preview row as the writer keeps them before they are stored.
_ROW_FIELDS = (
    "number", "cells", "kind", "payload", "errors", "changes", "identifier", "remote_id",
)  # fmt: skip


def _insert_rows(import_run: Import, rows: list[list[Any]]) -> None:
    """Write preview rows (lists in ``_ROW_FIELDS`` order): ``COPY`` on PostgreSQL,
    ``bulk_create`` elsewhere.

    ``bulk_create`` builds a model instance per row and adapts every JSON value through
    psycopg's array dumpers, which together cost more than validating the row; ``COPY``
    streams the JSON text as it is.
    """
    if db_connection.vendor != "postgresql":
        ImportRow.objects.bulk_create(
            ImportRow(
                import_run=import_run,
                generation=import_run.generation,
                **dict(zip(_ROW_FIELDS, row, strict=True)),
            )
            for row in rows
        )
        return
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    table = db_connection.ops.quote_name(ImportRow._meta.db_table)
    columns = ", ".join(("import_run_id", "generation", *_ROW_FIELDS))
    run_id, generation = import_run.pk, import_run.generation
    with (
        db_connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for number, cells, kind, payload, errors, changes, identifier, remote_id in rows:
            copy.write_row(
                (
                    run_id, generation, number, dumps(cells), kind, dumps(payload),
                    dumps(errors), dumps(changes), identifier, remote_id,
                )
            )  # fmt: skip


def _duplicate_message(other: int) -> str:
    return f"Same identifier as row {other}: keep one."


class _PreviewWriter:
    """Classify rows in batches against the mirror and write them."""

    def __init__(self, import_run: Import, fields: list[FieldSpec]) -> None:
        self.run = import_run
        self.provider = Provider(import_run.connection.provider)
        self.paths = import_run.mapped_paths
        self.builder = RowBuilder(
            provider=self.provider,
            fields=fields,
            paths=self.paths,
            width=len(import_run.header),
            default_region=(import_run.connection.options or {}).get("default_region"),
        )
        self.pending: list[tuple[int, list[str], Any]] = []
        self.first_seen: dict[str, int] = {}
        # First row number → a later row with its identifier, for first rows already stored
        # (a first row still in the batch being written is flagged before it is stored).
        self.duplicates: dict[int, int] = {}
        self.flagged: set[int] = set()  # first rows flagged before they were stored
        # Running counts for progress: recounting the table after every batch grows with the
        # square of the file; the exact count is taken once at the end.
        self.kinds: dict[str, int] = {}

    def add(self, number: int, cells: list[str]) -> None:
        self.pending.append((number, cells, self.builder.build(cells)))

    def flush(self) -> None:
        if not self.pending:
            return
        by_path: dict[str, list[str]] = {}
        for _, _, result in self.pending:
            if result.identifier and not result.errors:
                by_path.setdefault(result.identifier_path, []).append(result.identifier)
        mirror: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for path, identifiers in by_path.items():
            found = _mirror_lookup(self.run.connection, path, identifiers)
            mirror.update({(path, key): entry for key, entry in found.items()})
        rows: list[list[Any]] = []
        in_batch: dict[int, list[Any]] = {}  # row number → its row, for duplicates
        for number, cells, result in self.pending:
            kind: str = RowKind.INVALID
            payload, changes, errors, remote_id = {}, {}, result.errors, ""
            key = result.identifier.lower()
            if key:
                first = self.first_seen.setdefault(key, number)
                if first != number:
                    errors = {**errors, "row": _duplicate_message(first)}
                    earlier = in_batch.get(first)
                    if earlier is None:
                        self.duplicates.setdefault(first, number)
                    elif first not in self.flagged:
                        self.flagged.add(first)
                        earlier[2:6] = [
                            RowKind.INVALID, {}, {**earlier[4], "row": _duplicate_message(number)},
                            {},
                        ]  # fmt: skip
            if not errors:
                remote_id, record = mirror.get((result.identifier_path, key), ("", None))
                current = dict(from_provider(self.provider, record).fields) if record else None
                outcome = classify(
                    provider=self.provider,
                    payload=result.payload,
                    current=current,
                    paths=self.paths,
                    enabled=self.builder.enabled_paths,
                )
                kind, payload, changes, errors = (
                    outcome.kind,
                    outcome.payload,
                    outcome.changes,
                    outcome.errors,
                )
            row = [
                number, cells, kind, payload, errors, changes, result.identifier[:320],
                remote_id[:100],
            ]  # fmt: skip
            if key:
                in_batch.setdefault(number, row)
            rows.append(row)
        _insert_rows(self.run, rows)
        for row in rows:
            self.kinds[row[2]] = self.kinds.get(row[2], 0) + 1
        self.pending = []

    def counts(self) -> dict[str, int]:
        return {
            "n_create": self.kinds.get(RowKind.CREATE, 0),
            "n_update": self.kinds.get(RowKind.UPDATE, 0),
            "n_unchanged": self.kinds.get(RowKind.UNCHANGED, 0),
            "n_invalid": self.kinds.get(RowKind.INVALID, 0),
            "n_rows": sum(self.kinds.values()),
        }

    def mark_duplicates(self) -> None:
        """Flag the stored first row of each repeated identifier too (later rows, and first
        rows of the same batch, already are)."""
        firsts = sorted(self.duplicates)
        for start in range(0, len(firsts), ROW_BATCH):
            chunk = firsts[start : start + ROW_BATCH]
            rows = list(import_rows(import_run=self.run).filter(number__in=chunk))
            for row in rows:
                row.kind = RowKind.INVALID
                row.errors = {**row.errors, "row": _duplicate_message(self.duplicates[row.number])}
                row.payload, row.changes = {}, {}
            ImportRow.objects.bulk_update(
                rows, ["kind", "errors", "payload", "changes"], batch_size=ROW_BATCH
            )


def _counts(import_run: Import) -> dict[str, int]:
    by_kind = dict(
        import_rows(import_run=import_run)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    return {
        "n_create": by_kind.get(RowKind.CREATE, 0),
        "n_update": by_kind.get(RowKind.UPDATE, 0),
        "n_unchanged": by_kind.get(RowKind.UNCHANGED, 0),
        "n_invalid": by_kind.get(RowKind.INVALID, 0),
        "n_rows": sum(by_kind.values()),
    }


def import_build_preview(*, import_id: int, generation: int) -> None:
    """Read every row, validate it, compare it with the mirror and store the preview.

    Progress is written after each batch; a newer preview (another ``generation``) stops this
    one, so changing the mapping mid-way never mixes two previews.
    """
    import_run = Import.objects.select_related("connection").filter(pk=import_id).first()
    if import_run is None or import_run.generation != generation:
        return
    current = Import.objects.filter(pk=import_id, generation=generation)
    writer = _PreviewWriter(import_run, import_fields(connection=import_run.connection))
    try:
        with import_run.file.open("rb") as stored:
            handle = cast(BinaryIO, stored)  # a FieldFile proxies the binary file it opened
            rows = iter_rows(handle, encoding=import_run.encoding, delimiter=import_run.delimiter)
            next(rows, None)  # the header
            for number, cells in enumerate(rows, start=2):
                writer.add(number, cells)
                if len(writer.pending) >= ROW_BATCH:
                    writer.flush()
                    progress = {"bytes_read": handle.tell(), **writer.counts()}
                    if not current.update(**progress):
                        return  # a newer preview has started
        writer.flush()
        writer.mark_duplicates()
    except ImportFileError as exc:
        current.update(status=ImportStatus.FAILED, error=str(exc)[:1000], **_counts(import_run))
        return
    counts = _counts(import_run)
    if counts["n_rows"] == 0:
        current.update(
            status=ImportStatus.FAILED,
            error="The file has a header but no data rows: there is nothing to import.",
            **counts,
        )
        return
    current.update(
        status=ImportStatus.PREVIEWED, previewed_at=timezone.now(), bytes_read=import_run.size,
        **counts,
    )  # fmt: skip


# -- confirm and discard --------------------------------------------------------------------


def _records(import_run: Import) -> Iterator[dict[str, Any]]:
    rows = import_rows(import_run=import_run).filter(kind__in=[RowKind.CREATE, RowKind.UPDATE])
    for identifier, kind, payload, remote_id in rows.values_list(
        "identifier", "kind", "payload", "remote_id"
    ).iterator(chunk_size=2000):
        yield {
            "identifier": identifier,
            "operation": kind,
            "payload": payload,
            "remote_id": remote_id,
        }


@transaction.atomic
def import_confirm(*, import_run: Import, user: Any) -> SyncJob:
    """Send exactly the previewed create and update rows as one push job."""
    import_run = (
        Import.objects.select_for_update().select_related("connection").get(pk=import_run.pk)
    )
    if import_run.status != ImportStatus.PREVIEWED:
        raise ImportStateError(
            f"Only a finished preview can be confirmed; this import is "
            f"{import_run.get_status_display().lower()}."
        )
    if import_is_stale(import_run=import_run):
        raise ImportStateError(
            "The recipients changed since this preview was built. Refresh the preview and check "
            "it again before confirming."
        )
    if import_run.n_to_send == 0:
        raise ImportStateError("Nothing to send: no row would create or update a recipient.")
    job = job_create_push(
        connection=import_run.connection,
        records=_records(import_run),
        user=user,
        source=JobSource.IMPORT,
        source_label=f"Import {import_run.pk}: {import_run.original_name}"[:200],
    )
    import_run.job = job
    import_run.status = ImportStatus.CONFIRMED
    import_run.confirmed_at = timezone.now()
    import_run.save(update_fields=["job", "status", "confirmed_at", "updated_at"])
    audit_record(
        actor=user,
        action="import confirmed",
        target=import_run,
        summary=(f"{import_run.n_create} to create, {import_run.n_update} to update: job {job.pk}"),
    )
    return job


def import_discard(*, import_run: Import, user: Any) -> Import:
    """Drop an import that was not confirmed; its file is deleted, nothing is sent."""
    if import_run.status != ImportStatus.FAILED:
        _require_open(import_run)
    import_run.status = ImportStatus.DISCARDED
    import_run.generation += 1  # stops a preview still being built
    import_run.save(update_fields=["status", "generation", "updated_at"])
    ImportRow.objects.filter(import_run=import_run).delete()
    if import_run.file:
        import_run.file.delete(save=False)
    audit_record(actor=user, action="import discarded", target=import_run)
    return import_run
