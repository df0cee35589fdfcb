"""Uploading, mapping, previewing, confirming and discarding CSV imports.

The preview is built by streaming the stored file row by row and writing ``ImportRow`` in
batches, so a large file never sits in memory and its first rows can be shown while the rest
is read. Confirming hands exactly the previewed create and update rows to the sync engine.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import zlib
from array import array
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count
from django.utils import timezone, translation

from dashboard.audit.services import audit_record
from dashboard.connections.models import Connection
from dashboard.imports.models import Import, ImportRow, ImportStatus, RememberedMapping, RowKind
from dashboard.imports.selectors import import_fields, import_is_stale, import_rows
from integrations.catalogue import FieldSpec, Provider
from integrations.importing.building import (
    BatchBuilder,
    BuilderSpec,
    Mirror,
    Previewed,
    dumps_json,
)
from integrations.importing.mapping import auto_map, mapping_problems, normalise_header
from integrations.importing.reading import SAMPLE_BYTES, ImportFileError, detect, iter_rows
from integrations.importing.workbook import is_workbook, workbook_to_csv
from integrations.models import JobSource, MirroredRecipient, SyncJob
from integrations.planner import analyze_if_stale
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
    if len(header) > settings.IMPORT_MAX_COLUMNS:
        raise ImportFileError(
            f"The first line names {len(header):,} columns; an import takes at most "
            f"{settings.IMPORT_MAX_COLUMNS:,}. Export only the columns you want to send."
        )
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
        action="import.uploaded",
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
            action="import.mapping_changed",
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


def preview_blockers(import_run: Import) -> list[str]:
    """What must be settled before a preview is built (each a sentence for the admin): a
    column that identifies people, and any question the reading of the file raised."""
    fields = import_fields(connection=import_run.connection)
    return mapping_problems(import_run.mapped_paths, fields)


def _start_preview_if_mapped(import_run: Import, *, inline: bool = False) -> None:
    if not preview_blockers(import_run):
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
) -> dict[str, tuple[str, Any]]:
    """Lower-cased identifier → (remote id, provider record) of the live mirrored recipients
    (the record as JSON text on PostgreSQL, decoded elsewhere).

    On PostgreSQL the identifiers are one array joined to the mirror: an ``IN`` list of a
    thousand literals costs more to parse and plan than to run, and, with the statistics of
    a freshly refreshed mirror, can be planned as a scan of all the connection's recipients.
    """
    key_field = "email_lower" if identifier_path == "email" else "external_id"
    keys = [i.lower() for i in identifiers] if identifier_path == "email" else identifiers
    if db_connection.vendor == "postgresql":
        sql = (
            f"SELECT m.{key_field}, m.remote_id, m.record "  # noqa: S608 (names, not values)
            f"FROM unnest(%s::text[]) AS wanted(key) JOIN {MirroredRecipient._meta.db_table} m "
            f"ON m.connection_id = %s AND m.{key_field} = wanted.key WHERE m.gone_at IS NULL"
        )
        with db_connection.cursor() as cursor:
            cursor.execute(sql, [list(dict.fromkeys(keys)), connection.pk])
            found = cursor.fetchall()  # the records as JSON text: the previewer decodes them
    else:
        live = MirroredRecipient.objects.filter(connection=connection, gone_at__isnull=True)
        found = list(
            live.filter(**{f"{key_field}__in": keys})
            .order_by()
            .values_list(key_field, "remote_id", "record")
        )
    return {key.lower(): (remote_id, record) for key, remote_id, record in found}


# The columns of a preview row as the writer keeps them before they are stored.
_ROW_FIELDS = (
    "number", "cells", "kind", "payload", "errors", "changes", "identifier", "remote_id",
)  # fmt: skip
# The first data row (the header is row 1) keeps its cells whatever its kind: the mapping
# form shows them as each column's sample.
FIRST_ROW = 2


def _stored_cells(number: int, kind: str, cells: list[str]) -> list[str]:
    """The cells a preview row keeps: an invalid row's (shown beside its errors and written
    to invalid.csv) and the first row's. Every other row is shown by what it would send."""
    return cells if kind == RowKind.INVALID or number == FIRST_ROW else []


def _insert_rows(import_run: Import, rows: list[list[Any]]) -> None:
    """Write preview rows (lists in ``_ROW_FIELDS`` order, then optionally the warnings;
    payload, errors, changes and warnings are JSON text already, the cells are encoded here):
    ``COPY`` on PostgreSQL, one prepared ``INSERT`` for all rows elsewhere.

    ``bulk_create`` builds a model instance per row and adapts every JSON value through
    Django's and psycopg's dumpers, which together cost more than validating the row.
    """
    run_id, generation = import_run.pk, import_run.generation
    values = [
        (
            run_id, generation, number, dumps_json(_stored_cells(number, kind, cells)), kind,
            payload, errors, changes, identifier, remote_id, warnings,
        )
        for number, cells, kind, payload, errors, changes, identifier, remote_id, *more in rows
        for warnings in [more[0] if more else "{}"]
    ]  # fmt: skip
    table = db_connection.ops.quote_name(ImportRow._meta.db_table)
    columns = ", ".join(("import_run_id", "generation", *_ROW_FIELDS, "warnings"))
    with db_connection.cursor() as cursor:
        if db_connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * (3 + len(_ROW_FIELDS)))
            insert = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 (names)
            cursor.executemany(insert, values)


def _duplicate_message(other: int) -> str:
    return f"Same identifier as row {other}: keep one."


class _FirstRows:
    """Identifier → number of the first row with it, for every row of a file, by hash.

    Flat arrays with open addressing take 16 bytes a slot (at most two thirds full) where a
    dictionary of identifiers takes some 130 bytes an entry: a million-row file costs 32 MB,
    not 130. An identifier is known by two independent hashes, 96 bits: two identifiers
    would be taken for one about once in 10^17 million-row files.
    """

    def __init__(self) -> None:
        self.count = 0
        self._allocate(1 << 16)

    def _allocate(self, size: int) -> None:
        self.mask = size - 1
        self.hashes = array("q", bytes(8 * size))
        self.checks = array("I", bytes(4 * size))
        self.numbers = array("i", bytes(4 * size))  # 0: empty (row numbers start at 2)

    def setdefault(self, key: str, number: int) -> int:
        """The number stored for ``key``, after storing ``number`` if there was none."""
        return self._setdefault(hash(key), zlib.crc32(key.encode()), number)

    def _setdefault(self, first: int, second: int, number: int) -> int:
        hashes, checks, numbers, mask = self.hashes, self.checks, self.numbers, self.mask
        slot = first & mask
        while found := numbers[slot]:
            if hashes[slot] == first and checks[slot] == second:
                return found
            slot = (slot + 1) & mask
        hashes[slot], checks[slot], numbers[slot] = first, second, number
        self.count += 1
        if self.count * 3 > mask * 2:
            self._grow()
        return number

    def _grow(self) -> None:
        """Twice the slots, the entries moved one by one (a list of them all would hold
        ten times the arrays' memory at once)."""
        hashes, checks, numbers = self.hashes, self.checks, self.numbers
        self._allocate((self.mask + 1) * 2)
        self.count = 0
        for slot, number in enumerate(numbers):
            if number:
                self._setdefault(hashes[slot], checks[slot], number)


class _PreviewWriter:
    """Store previewed rows in batches, flagging repeated identifiers."""

    def __init__(self, import_run: Import, fields: list[FieldSpec]) -> None:
        self.run = import_run
        self.spec = BuilderSpec(
            provider=Provider(import_run.connection.provider),
            fields=tuple(fields),
            paths=tuple(import_run.mapped_paths),
            width=len(import_run.header),
            default_region=(import_run.connection.options or {}).get("default_region"),
            language=translation.get_language(),
        )
        self.first_seen = _FirstRows()
        # First row number → a later row with its identifier, for first rows already stored
        # (a first row still in the batch being written is flagged before it is stored).
        self.duplicates: dict[int, int] = {}
        self.flagged: set[int] = set()  # first rows flagged before they were stored
        # Running counts for progress: recounting the table after every batch grows with the
        # square of the file; the exact count is taken once at the end.
        self.kinds: dict[str, int] = {}

    def lookup(self, identifiers: dict[str, list[str]]) -> Mirror:
        """The mirror entries a batch's identifiers (by path) name."""
        mirror: Mirror = {}
        for path, keys in identifiers.items():
            found = _mirror_lookup(self.run.connection, path, keys)
            mirror.update({(path, key): entry for key, entry in found.items()})
        return mirror

    def write(self, first: int, batch: list[list[str]], previewed: list[Previewed]) -> None:
        """Store one batch of previewed rows, numbered from ``first``: a row repeating an
        earlier row's identifier is invalid, and so is the earlier row."""
        rows: list[list[Any]] = []
        in_batch: dict[int, list[Any]] = {}  # row number → its row, for duplicates
        firsts = self._first_rows(first, previewed)
        numbers = range(first, first + len(batch))
        for number, cells, one, seen in zip(numbers, batch, previewed, firsts, strict=True):
            kind, payload, errors, changes, identifier, remote_id, cell_errors = one
            key = identifier.lower()
            if key and seen != number:
                kind, payload, changes, remote_id = RowKind.INVALID, "{}", "{}", ""
                errors = dumps_json({**cell_errors, "row": _duplicate_message(seen)})
                earlier = in_batch.get(seen)
                if earlier is None:
                    self.duplicates.setdefault(seen, number)
                elif seen not in self.flagged:
                    self.flagged.add(seen)
                    earlier_errors = {**orjson.loads(earlier[4]), "row": _duplicate_message(number)}
                    earlier[2:6] = [RowKind.INVALID, "{}", dumps_json(earlier_errors), "{}"]
            row: list[Any] = [
                number, cells, kind, payload, errors, changes, identifier[:320], remote_id[:100],
            ]  # fmt: skip
            if key:
                in_batch.setdefault(number, row)
            rows.append(row)
        _insert_rows(self.run, rows)
        for row in rows:
            self.kinds[row[2]] = self.kinds.get(row[2], 0) + 1

    def _first_rows(self, first: int, previewed: list[Previewed]) -> list[int]:
        """For each row of the batch (numbered from ``first``), the number of the first row
        with its identifier, compared without case (its own number when it is the first, or
        has none)."""
        firsts = []
        for number, row in enumerate(previewed, start=first):
            key = row[4].lower()
            firsts.append(self.first_seen.setdefault(key, number) if key else number)
        return firsts

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
        rows of the same batch, already are), with the cells it now needs as an invalid row:
        read again from the file, as only invalid rows keep theirs."""
        if not self.duplicates:
            return
        cells = _cells_of(self.run, set(self.duplicates))
        firsts = sorted(self.duplicates)
        table = db_connection.ops.quote_name(ImportRow._meta.db_table)
        # One prepared statement for every row: bulk_update's CASE per field and row took
        # longer to compile than the rows took to write.
        update = (
            f"UPDATE {table} SET kind = %s, payload = %s, changes = %s, errors = %s, "  # noqa: S608
            "cells = %s WHERE id = %s"
        )
        for start in range(0, len(firsts), ROW_BATCH):
            chunk = firsts[start : start + ROW_BATCH]
            found = ImportRow.objects.filter(pk__in=_row_ids(self.run, chunk)).values_list(
                "pk", "number", "errors", "cells"
            )
            values = [
                (
                    RowKind.INVALID.value, "{}", "{}",
                    dumps_json({**errors, "row": _duplicate_message(self.duplicates[number])}),
                    dumps_json(cells.get(number, row_cells)), pk,
                )
                for pk, number, errors, row_cells in found
            ]  # fmt: skip
            with db_connection.cursor() as cursor:
                cursor.executemany(update, values)


def _row_ids(import_run: Import, numbers: list[int]) -> list[int]:
    """The ids of this preview's rows ``numbers``.

    On PostgreSQL the numbers are an array joined to the rows: with the statistics of a table
    still counted empty (a preview just written), ``number IN (…)`` is planned as a filter
    over every row of the preview instead of a seek per number.
    """
    if db_connection.vendor != "postgresql":
        return list(
            import_rows(import_run=import_run)
            .filter(number__in=numbers)
            .values_list("pk", flat=True)
        )
    table = ImportRow._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id FROM unnest(%s::integer[]) AS wanted(number) JOIN {table} r "  # noqa: S608
            "ON r.import_run_id = %s AND r.generation = %s AND r.number = wanted.number",
            [numbers, import_run.pk, import_run.generation],
        )
        return [row_id for (row_id,) in cursor.fetchall()]


def _data_rows(import_run: Import, handle: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """The file's data rows with their numbers (the header is row 1; blank lines skipped)."""
    rows = iter_rows(handle, encoding=import_run.encoding, delimiter=import_run.delimiter)
    next(rows, None)  # the header
    return enumerate(rows, start=FIRST_ROW)


def _cells_of(import_run: Import, numbers: set[int]) -> dict[int, list[str]]:
    """The cells of the rows ``numbers``, read again from the stored file."""
    found: dict[int, list[str]] = {}
    last = max(numbers)
    with import_run.file.open("rb") as stored:
        for number, cells in _data_rows(import_run, cast(BinaryIO, stored)):
            if number in numbers:
                found[number] = cells
            if number >= last:
                break
    return found


def import_sample_values(*, import_run: Import, rows: int = 5) -> list[str]:
    """Each column's first value that is not blank among the file's first ``rows`` data rows
    ("" for a column blank in all of them): the mapping table shows them before any preview
    row exists. Empty when the stored file cannot be read."""
    samples = [""] * len(import_run.header)
    try:
        with import_run.file.open("rb") as stored:
            data = _data_rows(import_run, cast(BinaryIO, stored))
            for count, (_number, cells) in enumerate(data, start=1):
                for index, cell in enumerate(cells[: len(samples)]):
                    if not samples[index] and cell.strip():
                        samples[index] = cell.strip()
                if count >= rows or all(samples):
                    break
    except (ImportFileError, OSError, ValueError):
        return [""] * len(import_run.header)
    return samples


def _batches(
    import_run: Import, handle: BinaryIO
) -> Iterator[tuple[tuple[int, int], list[list[str]]]]:
    """The data rows in batches of ``ROW_BATCH``, each keyed by its first row's number and
    the bytes of the file read once it was (the progress to show when it is written)."""
    batch: list[list[str]] = []
    first = FIRST_ROW
    for number, cells in _data_rows(import_run, handle):
        if not batch:
            first = number
        batch.append(cells)
        if len(batch) >= ROW_BATCH:
            yield (first, handle.tell()), batch
            batch = []
    if batch:
        yield (first, handle.tell()), batch


def _helpers(import_run: Import) -> int:
    """Helper processes for this file's preview: none for a small one, whose preview is
    ready before a helper would have started."""
    if import_run.size < settings.IMPORT_PREVIEW_HELPER_MIN_BYTES:
        return 0
    return max(0, settings.IMPORT_PREVIEW_HELPERS)


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


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Run the garbage collector less often while a preview is built, and keep the objects
    alive before it (Django, the app) out of its passes: every batch allocates thousands of
    dictionaries, freed by reference counting, and each pass walked all those objects again
    (a tenth of a 100,000-row preview's time)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@contextmanager
def _batch_transaction() -> Iterator[None]:
    """One transaction per written batch (its rows and the progress) that PostgreSQL need
    not flush to disk before going on.

    A preview can always be built again, and the final status is committed as usual, which
    flushes every earlier batch with it: a crash can lose rows only of a preview that was
    never marked ready. Inside a caller's transaction (tests), its own commit decides.
    """
    if db_connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        if db_connection.vendor == "postgresql":
            with db_connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


class _Superseded(Exception):
    """A newer preview of the import started, or the import was deleted: stop this one."""


def import_build_preview(*, import_id: int, generation: int) -> None:
    """Read every row, validate it, compare it with the mirror and store the preview.

    Progress is written after each batch; a newer preview (another ``generation``) stops this
    one, so changing the mapping mid-way never mixes two previews. The rows of a large file
    are cleaned and compared with the mirror in a helper process while earlier batches are
    stored (``integrations.importing.building``).
    """
    import_run = Import.objects.select_related("connection").filter(pk=import_id).first()
    if import_run is None or import_run.generation != generation:
        return
    current = Import.objects.filter(pk=import_id, generation=generation)
    writer = _PreviewWriter(import_run, import_fields(connection=import_run.connection))
    builder: BatchBuilder[tuple[int, int]] = BatchBuilder(
        writer.spec, helpers=_helpers(import_run), lookup=writer.lookup
    )
    try:
        with import_run.file.open("rb") as stored, builder, _collector_spared():
            # While the helper starts: a batch's mirror lookup is planned from the
            # statistics, and stale ones (a refresh just wrote the account) turn each lookup
            # into a scan of the connection's recipients.
            analyze_if_stale(MirroredRecipient)
            handle = cast(BinaryIO, stored)  # a FieldFile proxies the binary file it opened
            for (first, bytes_read), batch, built in builder.results(_batches(import_run, handle)):
                with _batch_transaction():
                    writer.write(first, batch, built)
                    progress = {"bytes_read": bytes_read, **writer.counts()}
                    if not current.update(**progress):
                        raise _Superseded  # and the batch is not stored
        writer.mark_duplicates()
    except ImportFileError as exc:
        current.update(status=ImportStatus.FAILED, error=str(exc)[:1000], **_counts(import_run))
        return
    except _Superseded:
        # The batches stored before belong to a preview nobody will see: a newer one started
        # (and removed the older rows it found then), or the import was deleted.
        ImportRow.objects.filter(import_run_id=import_id, generation=generation).delete()
        return
    if builder.helpers:
        logger.info(
            "Import %s preview: %d of its batches built by %d helper process(es)",
            import_run.pk, builder.built_by_helpers, builder.helpers,
        )  # fmt: skip
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
        action="import.confirmed",
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
    audit_record(actor=user, action="import.discarded", target=import_run)
    return import_run
