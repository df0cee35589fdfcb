"""Uploading, mapping, previewing, confirming and discarding CSV imports.

The preview is built by streaming the stored file row by row and writing ``ImportRow`` in
batches, so a large file never sits in memory and its first rows can be shown while the rest
is read. Confirming hands exactly the previewed create and update rows to the sync engine.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import itertools
import json
import logging
import math
import os
import socket
import tempfile
import time
import uuid
import zlib
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation

from dashboard.accounts.permissions import denied_message, has_capability
from dashboard.accounts.roles import Capability
from dashboard.audit.services import audit_record
from dashboard.imports.models import (
    Import,
    ImportRow,
    ImportStatus,
    RememberedMapping,
    RowKind,
    upload_storage,
)
from dashboard.imports.selectors import (
    import_fields,
    import_is_stale,
    import_lookups,
    import_rows,
)
from integrations.catalogue import FieldSpec, FieldType, Provider
from integrations.importing import dates
from integrations.importing.building import (
    BuilderSpec,
    Mirror,
    Previewed,
    RowPreviewer,
    dumps_json,
    spec_dumps,
    spec_loads,
)
from integrations.importing.cells import MAX_CELL_CHARS, takes_constant
from integrations.importing.encoding import LABELS as ENCODING_LABELS
from integrations.importing.encoding import weigh_encodings
from integrations.importing.layout import (
    HEADER_SEARCH_RECORDS,
    MAX_HEADER_ROW,
    WIDTH_SAMPLE_RECORDS,
    Records,
    column_names,
    filled,
    find_header_row,
    first_records,
    header_row_problem,
)
from integrations.importing.lookups import lookup_paths
from integrations.importing.mapping import auto_map, mapping_problems, normalise_header
from integrations.importing.reading import (
    SAMPLE_BYTES,
    ImportFileError,
    check_not_binary,
    detect,
    iter_records,
)
from integrations.importing.workbook import is_workbook, workbook_sheets, workbook_to_csv
from integrations.models import Connection, JobSource, MirroredRecipient, SyncJob
from integrations.planner import analyze_if_stale
from integrations.sync.services import job_create_push

logger = logging.getLogger(__name__)

ROW_BATCH = 1000
# Where a preview's chunks keep their results, in upload storage (``_ChunkStore``).
PREVIEW_CHUNKS_FOLDER = "preview-chunks"
# A title line naming a field this surely is a header (a name or a synonym, not a header
# that merely contains one: "Email export").
KNOWN_NAME_CONFIDENCE = 90
IMPORTABLE_PROVIDERS = (Provider.REDFLAG, Provider.SNAPPY)


class ImportStateError(ValueError):
    """The import cannot do this now; the message is for the user."""


class MappingError(ImportStateError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class ConstantsError(ImportStateError):
    """Values for every row that cannot be sent: path → why (nothing was saved)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


# -- upload and reading options -------------------------------------------------------------


def _read_header(import_run: Import) -> list[str]:
    """The column names: the record on row ``header_row`` (the first below it when that row
    is blank), or for a file without a header "Column 1"… as many as its first rows have."""
    header_row = import_run.header_row
    with import_run.file.open("rb") as stored:
        records = first_records(
            cast(BinaryIO, stored),  # a FieldFile proxies the binary file it opened
            encoding=import_run.encoding,
            delimiter=import_run.delimiter,
            count=1 if header_row else WIDTH_SAMPLE_RECORDS,
            upto=header_row - 1,
        )
    if not records:
        raise ImportFileError("The file is empty.")
    if not header_row:
        header = column_names(max(len(cells) for _, cells in records))
        where = "The file's rows have"
    else:
        number, header = records[-1]
        if number < header_row:
            raise ImportFileError(header_row_problem(records, header_row))
        if not filled(header):
            line = "The first line" if number == 1 else f"Row {number}"
            raise ImportFileError(f"{line} is empty: it should name the columns.")
        where = "The first line names" if number == 1 else f"Row {number} names"
    if len(header) > settings.IMPORT_MAX_COLUMNS:
        raise ImportFileError(
            f"{where} {len(header):,} columns; an import takes at most "
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
    *,
    connection: Connection,
    upload: UploadedFile | File,
    user: Any,
    inline: bool = False,
    sheet: str = "",
    header_row: int | None = None,
) -> Import:
    """Store an uploaded file, detect how to read it, map its columns, start the preview.

    ``inline`` builds the preview now whatever the file's size (the command line does).
    ``sheet`` names the sheet of a workbook to read (by default the first with data);
    ``header_row`` the row that names the columns (0: none; by default the row found).

    Raises ``ImportFileError`` (nothing stored) when the file cannot be read as CSV at all.
    """
    if Provider(connection.provider) not in IMPORTABLE_PROVIDERS:
        raise ImportFileError(f"{connection.get_provider_display()} has no recipients to import.")
    original_name = upload.name or "upload.csv"
    sample = upload.read(SAMPLE_BYTES)
    upload.seek(0)
    with ExitStack() as stack:
        workbook = None
        if is_workbook(sample, original_name):
            converted = stack.enter_context(tempfile.TemporaryFile())
            read = workbook_to_csv(
                upload, converted, max_bytes=settings.IMPORT_MAX_BYTES, sheet_name=sheet or None
            )
            upload.seek(0)
            workbook = _Workbook(source=upload, sheet=read, sheets=_sheet_list(upload))
            converted.seek(0)
            upload = File(converted, name=f"{Path(original_name).stem}.csv")
            sample = upload.read(SAMPLE_BYTES)
            upload.seek(0)
        elif sheet:
            raise ImportFileError("Only an Excel workbook has sheets: this file is read as CSV.")
        return _import_store(
            connection, upload, original_name, sample, workbook, header_row, user, inline
        )


@dataclass(frozen=True)
class _Workbook:
    """An uploaded workbook: the file itself, the sheet read and every worksheet's name."""

    source: UploadedFile | File
    sheet: str
    sheets: list[dict[str, Any]]


def _sheet_list(source: UploadedFile | File) -> list[dict[str, Any]]:
    """The workbook's worksheets as ``Import.sheets`` keeps them: name, and whether empty."""
    sheets = [{"name": s.name, "empty": not s.has_data} for s in workbook_sheets(source)]
    source.seek(0)
    return sheets


def _short_stem(original_name: str) -> str:
    """The upload's name without its extension, cut to 100 bytes of UTF-8 (a file name
    may have at most 255, and a Japanese letter takes 3)."""
    stem = Path(original_name).stem.encode()[:100].decode(errors="ignore")
    return stem or "upload"


def _source_name(original_name: str) -> str:
    """A name to store the original workbook under (the upload's, shortened)."""
    suffix = Path(original_name).suffix
    return _short_stem(original_name) + (suffix if len(suffix.encode()) <= 10 else ".xlsx")


def _import_store(
    connection: Connection,
    upload: UploadedFile | File,
    original_name: str,
    sample: bytes,
    workbook: _Workbook | None,
    header_row: int | None,
    user: Any,
    inline: bool,
) -> Import:
    check_not_binary(sample)
    # Weighed once per upload, on the sample and (when it is all ASCII) a bounded read on.
    upload.seek(len(sample))
    evidence = weigh_encodings(
        sample, cast(BinaryIO, upload), remembered=_remembered_encoding(connection)
    )
    upload.seek(0)
    detected = detect(sample, encoding=evidence.encoding, complete=len(sample) < SAMPLE_BYTES)
    sheet = workbook.sheet if workbook else ""
    import_run = Import(
        connection=connection,
        original_name=original_name[:255],
        sheet=sheet[:100],
        sheets=workbook.sheets if workbook else [],
        size=upload.size or 0,
        encoding=detected.encoding,
        encoding_evidence=evidence.as_json(),
        delimiter=detected.delimiter,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    import_run.file.save(upload.name or "upload.csv", upload, save=False)
    if workbook:
        import_run.source_file.save(_source_name(original_name), workbook.source, save=False)
    try:
        import_run.header_row = _header_row_for(import_run, header_row)
        import_run.header = _read_header(import_run)
    except ImportFileError:
        import_run.file.delete(save=False)
        if import_run.source_file:
            import_run.source_file.delete(save=False)
        raise
    import_run.mapping = _auto_mapping(import_run)
    import_run.constants = _remembered_constants(connection)
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


def _remembered_encoding(connection: Connection) -> str:
    memory = RememberedMapping.objects.filter(connection=connection).first()
    return memory.encoding if memory else ""


def encoding_question(import_run: Import) -> bool:
    """Whether the admin must choose the encoding: the readings left differ on the text."""
    evidence = import_run.encoding_evidence or {}
    return bool(evidence.get("question")) and not evidence.get("confirmed")


def _encoding_chosen(import_run: Import, encoding: str, user: Any) -> None:
    """Record the admin's encoding as confirmed in the evidence and remember it for the
    connection's next files."""
    evidence = dict(import_run.encoding_evidence or {})
    evidence.update(
        encoding=encoding,
        confirmed=True,
        confirmed_by=user.get_username() if getattr(user, "is_authenticated", False) else "",
        confirmed_at=timezone.now().isoformat(),
    )
    import_run.encoding_evidence = evidence
    RememberedMapping.objects.update_or_create(
        connection=import_run.connection, defaults={"encoding": encoding}
    )


def import_set_reading(*, import_run: Import, encoding: str, delimiter: str, user: Any) -> Import:
    """Read the file again with another encoding or delimiter; the mapping starts afresh.

    An encoding that answers the question the evidence raised, or replaces the one detected,
    is recorded as the admin's choice and remembered for the connection.
    """
    _require_open(import_run)
    if delimiter != import_run.delimiter:
        import_run.fixes = {}  # the cells fixed in the preview are in other columns now
    before = {"encoding": import_run.encoding, "delimiter": import_run.delimiter}
    if encoding != import_run.encoding or encoding_question(import_run):
        _encoding_chosen(import_run, encoding, user)
    import_run.encoding, import_run.delimiter = encoding, delimiter
    after = {"encoding": encoding, "delimiter": delimiter}
    changes = {
        key: {"before": before[key], "after": after[key]}
        for key in before
        if before[key] != after[key]
    }
    audit_record(
        actor=user,
        action="import.reading_changed",
        target=import_run,
        summary=f"{import_run.original_name} read as {ENCODING_LABELS.get(encoding, encoding)}, "
        f"delimiter {delimiter!r}",
        changes=changes,
    )
    if not _read_again(import_run):
        return import_run
    _start_preview_if_mapped(import_run)
    return import_run


# -- the sheet and the header row ----------------------------------------------------------


class LayoutError(ImportStateError):
    """A sheet or header row that cannot be used; ``field`` is the choice ("sheet" or
    "header_row") the message is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _names_a_field(connection: Connection) -> Callable[[str], bool]:
    """Tell whether a cell is a column name the connection knows: a field's name or synonym,
    or a header mapped before (the fields are read when a first cell is asked about)."""

    @functools.cache
    def known() -> tuple[list[FieldSpec], dict[str, str]]:
        return import_fields(connection=connection), _remembered(connection)

    def names(title: str) -> bool:
        fields, remembered = known()
        if normalise_header(title) in remembered:
            return True
        match = auto_map([title], fields)[0]
        return bool(match.path) and match.confidence >= KNOWN_NAME_CONFIDENCE

    return names


def _records_of(handle: BinaryIO, encoding: str, delimiter: str, header_row: int | None) -> Records:
    """The first records of a file: enough to find its header, and to check ``header_row``."""
    upto = min(header_row or 0, MAX_HEADER_ROW)
    return first_records(
        handle, encoding=encoding, delimiter=delimiter, count=HEADER_SEARCH_RECORDS, upto=upto
    )


def _header_row_for(import_run: Import, header_row: int | None) -> int:
    """The row found to name the columns (``header_row`` None), or ``header_row`` checked.

    Raises ``ImportFileError`` when the stored file cannot have its header there.
    """
    with import_run.file.open("rb") as stored:
        handle = cast(BinaryIO, stored)  # a FieldFile proxies the binary file it opened
        records = _records_of(handle, import_run.encoding, import_run.delimiter, header_row)
    if header_row is None:
        return find_header_row(records, _names_a_field(import_run.connection))
    problem = header_row_problem(records, header_row)
    if problem:
        raise ImportFileError(problem)
    return header_row


def import_set_layout(
    *, import_run: Import, sheet: str, header_row: int | None, user: Any
) -> Import:
    """Read another sheet of the workbook, or the column names from another row (0: none,
    None: the row found), then map the columns afresh and rebuild the preview.

    Raises ``LayoutError`` (nothing changed) when the sheet cannot be read or the row cannot
    name the columns.
    """
    _require_open(import_run)
    before = {"sheet": import_run.sheet, "header row": import_run.header_row}
    with ExitStack() as stack:
        converted: File | None = None
        if sheet and sheet != import_run.sheet:
            target = stack.enter_context(tempfile.TemporaryFile())
            converted, sheet = _sheet_converted(import_run, sheet, target)
            reading = detect(converted.read(SAMPLE_BYTES))
            converted.seek(0)
            handle = cast(BinaryIO, converted)
            records = _records_of(handle, reading.encoding, reading.delimiter, header_row)
            converted.seek(0)
        else:
            sheet = import_run.sheet
            with import_run.file.open("rb") as stored:
                handle = cast(BinaryIO, stored)  # a FieldFile proxies the binary file it opened
                try:
                    records = _records_of(
                        handle, import_run.encoding, import_run.delimiter, header_row
                    )
                except ImportFileError as exc:
                    raise LayoutError("header_row", str(exc)) from None
        if header_row is None:
            header_row = find_header_row(records, _names_a_field(import_run.connection))
        elif problem := header_row_problem(records, header_row):
            raise LayoutError("header_row", problem)
        if converted is not None:
            old = import_run.file.name
            import_run.file.save(converted.name or "sheet.csv", converted, save=False)
            if old:
                import_run.file.storage.delete(old)
            import_run.sheet, import_run.size = sheet[:100], converted.size
            import_run.encoding, import_run.delimiter = reading.encoding, reading.delimiter
    if (import_run.sheet, import_run.header_row) != (before["sheet"], header_row):
        # Fixes are kept by row number and column: another sheet or header row moves both.
        import_run.fixes = {}
    import_run.header_row = header_row
    _preview_dropped(import_run)
    if not _read_again(import_run):
        return import_run
    after = {"sheet": import_run.sheet, "header row": import_run.header_row}
    changes = {
        key: {"before": before[key], "after": after[key]}
        for key in before
        if before[key] != after[key]
    }
    if changes:
        audit_record(
            actor=user,
            action="import.layout_changed",
            target=import_run,
            summary=f"{import_run.original_name}: {layout_text(import_run)}",
            changes=changes,
        )
    _start_preview_if_mapped(import_run)
    return import_run


def _sheet_converted(import_run: Import, sheet: str, target: BinaryIO) -> tuple[File, str]:
    """The workbook's sheet ``sheet`` written as CSV to ``target``, and the sheet's name.

    Raises ``LayoutError`` when the import is no workbook or the sheet cannot be read.
    """
    if not import_run.source_file:
        raise LayoutError("sheet", "Only an Excel workbook has sheets to choose from.")
    try:
        with import_run.source_file.open("rb") as source:
            read = workbook_to_csv(
                source, target, max_bytes=settings.IMPORT_MAX_BYTES, sheet_name=sheet
            )
    except ImportFileError as exc:
        raise LayoutError("sheet", str(exc)) from None
    except OSError:
        raise LayoutError("sheet", "The workbook is no longer stored: upload it again.") from None
    target.seek(0)
    return File(target, name=f"{_short_stem(import_run.original_name)}.csv"), read


def _preview_dropped(import_run: Import) -> None:
    """Forget the preview (its rows were read with another layout), stopping one still
    being built; the caller saves the import."""
    import_run.generation += 1
    import_run.n_rows = import_run.n_create = import_run.n_update = 0
    import_run.n_unchanged = import_run.n_invalid = 0
    import_run.bytes_read = 0
    import_run.previewed_at = None
    ImportRow.objects.filter(import_run=import_run).delete()


def layout_text(import_run: Import) -> str:
    """Where the import reads its rows, in words: "sheet “Staff”, header on row 3"."""
    parts = [f"sheet “{import_run.sheet}”"] if import_run.sheet else []
    if import_run.header_row == 0:
        parts.append("no header row")
    else:
        parts.append(f"header on row {import_run.header_row}")
    return ", ".join(parts)


def _read_again(import_run: Import) -> bool:
    """Read the header again and map the columns afresh, and save; return False (the import
    marked failed, with the reason) when the file cannot be read as now set."""
    try:
        import_run.header = _read_header(import_run)
    except ImportFileError as exc:
        import_run.status = ImportStatus.FAILED
        import_run.error = str(exc)[:1000]
        import_run.save()
        return False
    import_run.error = ""
    import_run.status = ImportStatus.UPLOADED
    import_run.mapping = _auto_mapping(import_run)
    import_run.save()
    return True


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
    _start_preview_if_mapped(import_run)
    return import_run


# -- values for every row ----------------------------------------------------------------------


def import_constant_fields(*, connection: Connection) -> list[FieldSpec]:
    """The fields that may have a value for every row: the offered ones but identifying
    fields and history members."""
    return [spec for spec in import_fields(connection=connection) if takes_constant(spec)]


def _remember_option(connection: Connection, key: str, value: Any) -> None:
    """Keep one reading choice (``RememberedMapping.options[key]``) for the connection's next
    files, beside the others: locked, so two choices saved at once both stay."""
    with transaction.atomic():
        memory, _ = RememberedMapping.objects.select_for_update().get_or_create(
            connection=connection
        )
        options = memory.options if isinstance(memory.options, dict) else {}
        memory.options = {**options, key: value}
        memory.save(update_fields=["options", "updated_at"])


def _remembered_constants(connection: Connection) -> dict[str, str]:
    """The values for every row last saved for the connection's imports, for fields it
    still offers."""
    memory = RememberedMapping.objects.filter(connection=connection).first()
    remembered = (memory.options or {}).get("constants") if memory else None
    if not isinstance(remembered, dict):
        return {}
    offered = {spec.path for spec in import_constant_fields(connection=connection)}
    return {
        path: value
        for path, value in remembered.items()
        if path in offered and isinstance(value, str) and value.strip()
    }


def _constants(import_run: Import) -> tuple[tuple[str, str], ...]:
    return tuple(
        (path, value)
        for path, value in (import_run.constants or {}).items()
        if isinstance(value, str) and value.strip()
    )


def _lookups(
    import_run: Import, fields: Sequence[FieldSpec], constants: dict[str, str], *, fresh: bool
) -> tuple[tuple[tuple[str, tuple[tuple[str, str], ...]], ...], tuple[tuple[str, str], ...]]:
    """The provider's lists (``BuilderSpec.lookups``) of the fields whose values it defines
    and that a column or a value for every row fills, and why any could not be read
    (``BuilderSpec.unreadable``).

    A list that cannot be read makes every value of its field a cell error saying so, rather
    than failing the whole preview: the rows that do not need it can still be checked and
    sent, and nothing is sent unresolved (a Snappy account name would be a 422 at best).
    """
    offered = {spec.path for spec in fields}
    used = {path for path in import_run.mapped_paths if path} | {
        path for path, value in constants.items() if value.strip()
    }
    wanted = sorted(used & offered & lookup_paths(import_run.connection.provider))
    if not wanted:
        return (), ()
    found = import_lookups(connection=import_run.connection, paths=wanted, fresh=fresh)
    return tuple(found.lists.items()), tuple(found.problems.items())


def import_set_constants(*, import_run: Import, values: Mapping[str, str], user: Any) -> Import:
    """Give every row ``values`` (path → text; "" for none) where its own cell is empty or
    no column maps to the field; remember them for the connection; rebuild the preview.

    Each value is cleaned as a cell of its field would be (provider-defined values through
    the provider's list). Raises ``ConstantsError`` naming each value that cannot be sent;
    nothing is saved then.
    """
    _require_open(import_run)
    connection = import_run.connection
    fields = import_fields(connection=connection)
    offered = {spec.path: spec for spec in fields if takes_constant(spec)}
    constants = {path: str(value).strip() for path, value in values.items() if str(value).strip()}
    errors = {
        path: "This field cannot have a value for every row here." for path in constants
        if path not in offered
    }  # fmt: skip
    # Afresh: a list the page could not read a moment ago must not refuse a value now.
    lookups, unreadable = _lookups(import_run, fields, constants, fresh=True)
    builder = BuilderSpec(
        provider=Provider(connection.provider),
        fields=tuple(fields),
        paths=tuple(import_run.mapped_paths),
        width=len(import_run.header),
        default_region=(connection.options or {}).get("default_region"),
        constants=tuple(constants.items()),
        lookups=lookups,
        unreadable=unreadable,
    ).builder()
    errors |= builder.constant_errors()
    if errors:
        raise ConstantsError(errors)
    names = {path: dict((value, name) for name, value in pairs) for path, pairs in lookups}

    def shown(path: str, value: str | None) -> str | None:
        name = names.get(path, {}).get(value or "")
        return f"{name} ({value})" if name else value or None

    previous = {path: str(value) for path, value in (import_run.constants or {}).items()}
    changed = {
        offered[path].label if path in offered else path: {
            "before": shown(path, previous.get(path)),
            "after": shown(path, constants.get(path)),
        }
        for path in dict.fromkeys([*previous, *constants])
        if previous.get(path) != constants.get(path)
    }
    import_run.constants = constants
    import_run.save(update_fields=["constants", "updated_at"])
    _remember_option(connection, "constants", constants)
    if changed:
        audit_record(
            actor=user,
            action="import.constants_changed",
            target=import_run,
            summary=f"{len(changed)} value{'s' if len(changed) != 1 else ''} for every row of "
            f"{import_run.original_name}",
            changes=changed,
        )
    _start_preview_if_mapped(import_run)
    return import_run


def _require_open(import_run: Import) -> None:
    if import_run.status in {ImportStatus.CONFIRMED, ImportStatus.DISCARDED}:
        raise ImportStateError(f"This import is {import_run.get_status_display().lower()}.")


def preview_blockers(import_run: Import) -> list[str]:
    """What must be settled before a preview is built (each a sentence for the admin): a
    column that identifies people, and any question the reading of the file raised."""
    fields = import_fields(connection=import_run.connection)
    problems = mapping_problems(import_run.mapped_paths, fields)
    problems += _reading_questions(import_run)
    return problems


def _reading_questions(import_run: Import) -> list[str]:
    if not encoding_question(import_run):
        return []
    labels = [choice["label"] for choice in import_run.encoding_evidence.get("choices", [])]
    return [
        f"Choose the file's encoding ({' or '.join(labels)}): they read some rows "
        "differently, shown under “How the file is read”."
    ]


def _start_preview_if_mapped(import_run: Import, *, inline: bool = False) -> None:
    if not preview_blockers(import_run):
        import_start_preview(import_run=import_run, inline=inline)


# -- dates by column --------------------------------------------------------------------------


def import_set_date_order(*, import_run: Import, column: int, order: str, user: Any) -> Import:
    """Read one date column's dates ``order`` (day or month first), and rebuild the preview.

    The choice is kept in the column's mapping entry, remembered for the connection's later
    files with a column of that name, and audited like a mapping change.
    """
    _require_open(import_run)
    if order not in dates.ORDERS:
        raise ImportStateError("Choose whether the dates are written day first or month first.")
    fields = import_fields(connection=import_run.connection)
    if column not in _date_columns(import_run, fields):
        raise ImportStateError("That column is not mapped to a date field.")
    entry = import_run.mapping[column]
    before = entry.get("date_order", "") if entry.get("date_how") else ""
    import_run.mapping[column] = {**entry, "date_order": order, "date_how": dates.CHOSEN}
    import_run.save(update_fields=["mapping", "updated_at"])
    title = import_run.header[column]
    if key := normalise_header(title):
        orders = {**_remembered_date_orders(import_run.connection), key: order}
        _remember_option(import_run.connection, "date_orders", orders)
    if before != order:
        name = f"{title or 'column'} (column {column + 1})"
        audit_record(
            actor=user,
            action="import.mapping_changed",
            target=import_run,
            summary=f"Dates of {name} read {dates.ORDER_NAMES[order]} in "
            f"{import_run.original_name}",
            changes={
                f"{name}: dates": {
                    "before": dates.ORDER_NAMES.get(before, "undecided"),
                    "after": dates.ORDER_NAMES[order],
                }
            },
        )
    import_start_preview(import_run=import_run)
    return import_run


def import_date_questions(*, import_run: Import) -> list[tuple[int, str]]:
    """The date columns whose order the admin must choose before confirming, each with a
    sentence saying why: (column, sentence)."""
    questions = []
    for column, entry in enumerate(import_run.mapping):
        value = dates.entry_question(entry) if entry.get("path") else ""
        if value:
            title = import_run.header[column] if column < len(import_run.header) else ""
            questions.append(
                (
                    column,
                    f"Choose how the dates in “{title or f'column {column + 1}'}” are written: "
                    f"“{value}” could be day first or month first, and no date in the column "
                    "tells which.",
                )
            )
    return questions


def _remembered_date_orders(connection: Connection) -> dict[str, str]:
    """The date orders chosen for the connection's files, by normalised column name."""
    memory = RememberedMapping.objects.filter(connection=connection).first()
    options = memory.options if memory is not None and isinstance(memory.options, dict) else {}
    orders = options.get("date_orders")
    if not isinstance(orders, dict):
        return {}
    return {str(key): order for key, order in orders.items() if order in dates.ORDERS}


def _date_columns(import_run: Import, fields: Sequence[FieldSpec]) -> list[int]:
    """The columns mapped to a date field (a history entry's dates included)."""
    date_paths = {spec.path for spec in fields if spec.type is FieldType.DATE}
    return [column for column, path in enumerate(import_run.mapped_paths) if path in date_paths]


def _date_source(import_run: Import, column: int) -> str:
    """What a column's values were read from: the evidence of an earlier preview is reused
    while the file, how it is read and the column's fixed cells are the same."""
    fixed = sorted(
        (number, str(cells[str(column)]))
        for number, cells in (import_run.fixes or {}).items()
        if isinstance(cells, dict) and str(column) in cells
    )
    reading = (
        import_run.file.name, import_run.encoding, import_run.delimiter, import_run.header_row,
        import_run.sheet, len(import_run.header), column, fixed,
    )  # fmt: skip
    return f"{zlib.crc32(orjson.dumps(reading)):08x}"


def _dates_scan(import_run: Import, columns: Sequence[int]) -> dict[int, dates.Evidence]:
    """Read the stored file's ``columns`` once: each one's distinct values, with how many
    rows hold each and the first of them, and what they say (``dates.column_evidence``).

    Rows of the wrong width are left out (their cells are not where the header says); cells
    fixed in the preview count as fixed. A value's rows and first row are one integer (the
    count above ``_ROWS_SHIFT``): a large file's distinct dates take half the memory.
    """
    seen: dict[int, dict[str, int]] = {column: {} for column in columns}
    one = 1 << _ROWS_SHIFT
    width = len(import_run.header)
    fixes = {
        int(number): cells
        for number, cells in (import_run.fixes or {}).items()
        if str(number).isdigit() and isinstance(cells, dict)
    }
    # A file of its own: the preview reads the import's (``FieldFile`` keeps one) meanwhile.
    with import_run.file.storage.open(str(import_run.file.name), "rb") as stored:
        for number, cells in _data_rows(import_run, cast(BinaryIO, stored)):
            if len(cells) != width:
                continue
            fixed = fixes.get(number) if fixes else None
            for column, values in seen.items():
                value = cells[column].strip()
                if fixed and str(column) in fixed:
                    value = str(fixed[str(column)]).strip()
                if value:
                    values[value] = values.get(value, number) + one
    mask = one - 1
    return {
        column: dates.column_evidence(
            (value, (packed >> _ROWS_SHIFT, packed & mask)) for value, packed in values.items()
        )
        for column, values in seen.items()
    }


_ROWS_SHIFT = 32


def _dates_decide(import_run: Import, fields: Sequence[FieldSpec]) -> bool:
    """Decide how each date column's dates are read, from all its values, and keep it in
    the column's mapping entry (``dates.entry_with_evidence``); False when a newer preview
    started meanwhile.

    The file is read for the columns whose values are not known yet (a first preview, another
    reading or mapping); a rebuild after choosing an order or a refresh reuses the evidence.
    """
    columns = _date_columns(import_run, fields)
    if not columns:
        return True
    sources = {column: _date_source(import_run, column) for column in columns}
    unknown = [
        column
        for column in columns
        if (import_run.mapping[column].get("date_evidence") or {}).get("source") != sources[column]
    ]
    scanned = _dates_scan(import_run, unknown) if unknown else {}
    remembered = _remembered_date_orders(import_run.connection)
    with transaction.atomic():
        stored = (
            Import.objects.select_for_update()
            .filter(pk=import_run.pk, generation=import_run.generation)
            .values_list("mapping", flat=True)
            .first()
        )
        if stored is None:
            return False
        mapping = list(stored) if len(stored) == len(import_run.mapping) else []
        for column in columns:
            entry = import_run.mapping[column]
            evidence = scanned.get(column) or dates.Evidence.from_json(entry["date_evidence"])
            # The stored entry, when the column still maps to the same field: it keeps an
            # order chosen since this preview started.
            same = bool(mapping) and mapping[column].get("path") == entry.get("path")
            decided = dates.entry_with_evidence(
                mapping[column] if same else entry,
                evidence,
                remembered=remembered.get(normalise_header(import_run.header[column]), ""),
            )
            decided["date_evidence"]["source"] = sources[column]
            import_run.mapping[column] = decided
            if same:
                mapping[column] = decided
        if mapping:
            Import.objects.filter(pk=import_run.pk).update(mapping=mapping)
    return True


# -- the preview ---------------------------------------------------------------------------


def import_start_preview(*, import_run: Import, inline: bool = False) -> Import:
    """(Re)build the preview: inline for small files, on a worker for large ones."""
    _require_open(import_run)
    if encoding_question(import_run):
        raise ImportStateError(_reading_questions(import_run)[0])
    with transaction.atomic():
        import_run.generation += 1
        import_run.status = ImportStatus.PARSING
        import_run.error = ""
        # Queued now: the watchdog queues it again if no worker takes it.
        import_run.preview_claim, import_run.preview_attempts = "", 0
        import_run.preview_heartbeat_at = timezone.now()
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


def _mirror_entries(connection: Connection, identifiers: dict[str, list[str]]) -> Mirror:
    """The mirror entries a batch's identifiers (by path) name."""
    mirror: Mirror = {}
    for path, keys in identifiers.items():
        found = _mirror_lookup(connection, path, keys)
        mirror.update({(path, key): entry for key, entry in found.items()})
    return mirror


# The columns of a preview row as the writer keeps them before they are stored.
_ROW_FIELDS = (
    "number", "cells", "kind", "payload", "errors", "changes", "identifier", "remote_id",
)  # fmt: skip


def first_data_row(import_run: Import) -> int:
    """The row number of the file's first data row: the row below the header (row 1
    without one). It keeps its cells whatever its kind: the mapping form shows them as each
    column's sample."""
    return import_run.header_row + 1 if import_run.header_row else 1


def _stored_cells(
    number: int, kind: str, cells: list[str], first_row: int, fixed: Collection[int] = ()
) -> list[str]:
    """The cells a preview row keeps: an invalid row's (shown beside its errors and written
    to invalid.csv), the first row's and a row fixed in the preview (``fixed``: its corrected
    cells). Every other row is shown by what it would send."""
    return cells if kind == RowKind.INVALID or number == first_row or number in fixed else []


def _insert_rows(import_run: Import, rows: list[list[Any]]) -> None:
    """Write preview rows (lists in ``_ROW_FIELDS`` order, then optionally the warnings;
    payload, errors, changes and warnings are JSON text already, the cells are encoded here):
    ``COPY`` on PostgreSQL, one prepared ``INSERT`` for all rows elsewhere.

    ``bulk_create`` builds a model instance per row and adapts every JSON value through
    Django's and psycopg's dumpers, which together cost more than validating the row.
    """
    run_id, generation = import_run.pk, import_run.generation
    first_row = first_data_row(import_run)
    fixed = _fixed_cells(import_run)
    values = [
        (
            run_id, generation, number,
            dumps_json(_stored_cells(number, kind, cells, first_row, fixed)), kind,
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


def is_duplicate_message(message: str) -> bool:
    """True for the error of a row whose identifier another row repeats."""
    return message.startswith("Same identifier as row ")


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
        self.numbers = array("i", bytes(4 * size))  # 0: empty (row numbers start at 1)

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
        constants = _constants(import_run)
        lookups, unreadable = _lookups(import_run, fields, dict(constants), fresh=True)
        self.spec = BuilderSpec(
            provider=Provider(import_run.connection.provider),
            fields=tuple(fields),
            paths=tuple(import_run.mapped_paths),
            width=len(import_run.header),
            default_region=(import_run.connection.options or {}).get("default_region"),
            language=translation.get_language(),
            constants=constants,
            lookups=lookups,
            unreadable=unreadable,
            date_orders=tuple(dates.entry_reading(entry) for entry in import_run.mapping),
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
        return _mirror_entries(self.run.connection, identifiers)

    def write(
        self, numbers: Sequence[int], batch: list[list[str]], previewed: list[Previewed]
    ) -> None:
        """Store one batch of previewed rows, numbered ``numbers``: a row repeating an
        earlier row's identifier is invalid, and so is the earlier row."""
        rows: list[list[Any]] = []
        in_batch: dict[int, list[Any]] = {}  # row number → its row, for duplicates
        firsts = self._first_rows(numbers, previewed)
        for number, cells, one, seen in zip(numbers, batch, previewed, firsts, strict=True):
            kind, payload, errors, changes, identifier, remote_id, cell_errors, warnings = one
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
                warnings,
            ]  # fmt: skip
            if key:
                in_batch.setdefault(number, row)
            rows.append(row)
        _insert_rows(self.run, rows)
        for row in rows:
            self.kinds[row[2]] = self.kinds.get(row[2], 0) + 1

    def _first_rows(self, numbers: Sequence[int], previewed: list[Previewed]) -> list[int]:
        """For each row of the batch (numbered ``numbers``), the number of the first row
        with its identifier, compared without case (its own number when it is the first, or
        has none)."""
        firsts = []
        for number, row in zip(numbers, previewed, strict=True):
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
    """The file's data rows with their row numbers as a spreadsheet shows them: the records
    below the header (every record without one; blank lines skipped)."""
    records = iter_records(handle, encoding=import_run.encoding, delimiter=import_run.delimiter)
    if import_run.header_row:
        for number, _ in records:  # title lines, then the header
            if number >= import_run.header_row:
                break
    if import_run.sheet:
        return _padded(records, len(import_run.header))
    return records


def _padded(
    records: Iterator[tuple[int, list[str]]], width: int
) -> Iterator[tuple[int, list[str]]]:
    """A workbook's rows as wide as its header: a sheet's row ends at its last filled cell,
    so one whose last cells are empty is no shorter than the others in the sheet."""
    for number, cells in records:
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        yield number, cells


def _fixed_cells(import_run: Import) -> dict[int, dict[int, str]]:
    """The cells fixed in the preview (``Import.fixes``): row number → column → value."""
    return {
        int(number): {int(column): value for column, value in columns.items()}
        for number, columns in (import_run.fixes or {}).items()
    }


def _with_fixes(
    import_run: Import, rows: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    """The file's ``rows`` with the cells fixed in the preview in place of the file's.

    A fix applies only to a row as wide as the header, as every fixed row was: read with
    another delimiter, a row's cells no longer line up with the columns it was fixed in.
    """
    fixed = _fixed_cells(import_run)
    if not fixed:
        return rows
    return _overlaid(rows, fixed, len(import_run.header))


def _overlaid(
    rows: Iterator[tuple[int, list[str]]], fixed: dict[int, dict[int, str]], width: int
) -> Iterator[tuple[int, list[str]]]:
    for number, cells in rows:
        columns = fixed.get(number)
        if columns and len(cells) == width:
            cells = list(cells)
            for column, value in columns.items():
                if column < width:
                    cells[column] = value
        yield number, cells


def _cells_of(import_run: Import, numbers: set[int]) -> dict[int, list[str]]:
    """The cells of the rows ``numbers``, read again from the stored file (with their fixes)."""
    found: dict[int, list[str]] = {}
    last = max(numbers)
    with import_run.file.open("rb") as stored:
        rows = _with_fixes(import_run, _data_rows(import_run, cast(BinaryIO, stored)))
        for number, cells in rows:
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
    import_run: Import, handle: BinaryIO, start: int = 0, end: int | None = None
) -> Iterator[tuple[tuple[list[int], int], list[list[str]]]]:
    """The data rows ``start`` to ``end`` (indexes among the data rows; all of them by
    default) in batches of ``ROW_BATCH``, each keyed by its rows' numbers (a blank line
    between two rows counts) and the bytes of the file read once it was (the progress to
    show when it is written)."""
    batch: list[list[str]] = []
    numbers: list[int] = []
    rows = _with_fixes(import_run, _data_rows(import_run, handle))
    for number, cells in itertools.islice(rows, start, end):
        numbers.append(number)
        batch.append(cells)
        if len(batch) >= ROW_BATCH:
            yield (numbers, handle.tell()), batch
            batch, numbers = [], []
    if batch:
        yield (numbers, handle.tell()), batch


# A previewed batch: its rows' numbers, the bytes of the file read once it was, its cells and
# its rows as previewed.
_Built = tuple[list[int], int, list[list[str]], list[Previewed]]


def _previewed_batches(
    import_run: Import, spec: BuilderSpec, start: int = 0, end: int | None = None
) -> Iterator[_Built]:
    """Preview the data rows ``start`` to ``end`` batch by batch, each batch's mirror
    entries looked up as it is read."""
    previewer = RowPreviewer(spec)
    with import_run.file.open("rb") as stored:
        handle = cast(BinaryIO, stored)  # a FieldFile proxies the binary file it opened
        for (numbers, bytes_read), batch in _batches(import_run, handle, start, end):
            mirror = _mirror_entries(import_run.connection, previewer.identifiers(batch))
            yield numbers, bytes_read, batch, previewer.preview(batch, mirror)


# -- a large file's preview in chunks ---------------------------------------------------------
#
# A file of IMPORT_PREVIEW_CHUNK_MIN_BYTES or more is previewed in ranges of
# IMPORT_PREVIEW_CHUNK_ROWS data rows, each a task (``imports.build_preview_chunk``) any
# worker on any host may run: it reads the stored file through the storage API, previews its
# range and stores the result beside the file (``_ChunkStore``). The build that claimed the
# preview (``import_build_preview``, the writer) writes every chunk's rows in file order, so
# duplicates are found across the whole file and progress shows as today; it previews itself
# any chunk no task has started, so a preview never waits for a free worker. Only the writer
# writes rows: a chunk delivered twice (acks late) stores its result twice, and one is read.

# Bytes of a file whose rows are counted to estimate its rows (from the bytes they take).
PLAN_SAMPLE_BYTES = 256 * 1024
# Seconds between two looks at a chunk being previewed by a task.
CHUNK_POLL = 0.05
# Seconds between the writer's heartbeats while it waits for a chunk.
WAIT_HEARTBEAT = 5.0


def _chunk_plan(import_run: Import) -> list[tuple[int, int | None]]:
    """The ranges of data rows (start, end; None: to the end of the file) previewed as one
    chunk each: the whole file for a small one. The rows are counted in the file's first
    ``PLAN_SAMPLE_BYTES``, and the rest estimated from the bytes those took; the last range
    runs to the end whatever the estimate."""
    size = settings.IMPORT_PREVIEW_CHUNK_ROWS
    if size <= 0 or import_run.size < settings.IMPORT_PREVIEW_CHUNK_MIN_BYTES:
        return [(0, None)]
    rows, ended = 0, True
    with import_run.file.open("rb") as stored:
        handle = cast(BinaryIO, stored)
        for _ in _data_rows(import_run, handle):
            rows += 1
            if handle.tell() >= PLAN_SAMPLE_BYTES:
                ended = False
                break
        estimate = rows if ended else import_run.size * rows / max(handle.tell(), 1)
    count = max(1, math.ceil(estimate / size))
    return [(k * size, (k + 1) * size if k < count - 1 else None) for k in range(count)]


class _ChunkStore:
    """The files of one preview build's chunks, in upload storage beside the uploads: the
    spec they preview with, and per chunk a ``started`` mark (a time) and, once previewed,
    its result and a ``done`` mark naming it (written last: a result is read only whole)."""

    def __init__(self, import_id: int, generation: int, claim: str) -> None:
        token = hashlib.sha256(claim.encode()).hexdigest()[:16]
        self.folder = f"{PREVIEW_CHUNKS_FOLDER}/{import_id}-{generation}-{token}"
        self.storage = upload_storage()

    def _name(self, index: int, what: str) -> str:
        return f"{self.folder}/chunk-{index:05d}.{what}"

    def save_spec(self, spec: BuilderSpec, plan: list[tuple[int, int | None]]) -> None:
        self.storage.save(f"{self.folder}/spec.json", ContentFile(spec_dumps(spec)))
        self.storage.save(f"{self.folder}/plan.json", ContentFile(orjson.dumps(plan)))

    def plan(self) -> list[tuple[int, int | None]]:
        with self.storage.open(f"{self.folder}/plan.json", "rb") as stored:
            return [(start, end) for start, end in orjson.loads(stored.read())]

    def spec(self) -> BuilderSpec:
        with self.storage.open(f"{self.folder}/spec.json", "rb") as stored:
            return spec_loads(stored.read())

    def started(self, index: int) -> float | None:
        """When the chunk was started (None: not yet; 0.0: the mark is being written)."""
        name = self._name(index, "started")
        if not self.storage.exists(name):
            return None
        try:
            with self.storage.open(name, "rb") as stored:
                return float(stored.read() or 0)
        except (OSError, ValueError):
            return 0.0

    def start(self, index: int) -> None:
        name = self._name(index, "started")
        self.storage.delete(name)  # a stale mark, taken over
        self.storage.save(name, ContentFile(str(time.time()).encode()))

    def unstart(self, index: int) -> None:
        self.storage.delete(self._name(index, "started"))

    def done(self, index: int) -> bool:
        return self.storage.exists(self._name(index, "done"))

    def save(self, index: int, built: Iterable[_Built]) -> None:
        data = orjson.dumps(list(built))
        name = self._name(index, f"{uuid.uuid4().hex[:8]}.json")
        part = self.storage.save(name, ContentFile(data))
        self.storage.save(self._name(index, "done"), ContentFile(part.encode()))

    def load(self, index: int) -> list[_Built] | None:
        """The chunk's previewed batches; None while it has none whole yet."""
        try:
            with self.storage.open(self._name(index, "done"), "rb") as stored:
                part = stored.read().decode()
            if not part:
                return None
            with self.storage.open(part, "rb") as stored:
                return cast(list[_Built], orjson.loads(stored.read()))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def delete(self) -> None:
        """Remove every file of this build's chunks; one left (storage unreachable) is
        logged, never an error."""
        _delete_chunk_folder(self.storage, self.folder)

    def delete_import(self, import_id: int) -> None:
        """Remove the chunks' files of every build of the import: this one's, and those of a
        build that died before it could (its claim taken over)."""
        try:
            folders, _names = self.storage.listdir(PREVIEW_CHUNKS_FOLDER)
        except (FileNotFoundError, NotImplementedError):
            return
        for folder in folders:
            if folder.startswith(f"{import_id}-"):
                _delete_chunk_folder(self.storage, f"{PREVIEW_CHUNKS_FOLDER}/{folder}")


def _delete_chunk_folder(storage: Storage, folder: str) -> None:
    try:
        _folders, names = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    import_files_delete(names=[f"{folder}/{name}" for name in names])
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(storage.path(folder))  # a file system's folder; a bucket has none


class _ChunkedPreview:
    """The writer's side of a preview in chunks: queue a task per chunk after the first,
    then give back every chunk's previewed batches in file order, previewing here each one
    no task has started (the earliest when it is next, else the last: tasks take them from
    the first) and any whose task went silent for ``IMPORT_PREVIEW_STALE_AFTER`` seconds."""

    def __init__(
        self,
        import_run: Import,
        spec: BuilderSpec,
        plan: list[tuple[int, int | None]],
        *,
        claim: str,
        heartbeat: Callable[[], None],
    ) -> None:
        self.run, self.spec, self.plan, self.claim = import_run, spec, plan, claim
        self.heartbeat = heartbeat
        self.store = _ChunkStore(import_run.pk, import_run.generation, claim)
        self.started: set[int] = {0}  # chunks known to be started, here or by a task
        self.by_tasks = 0  # chunks a task previewed, for the log
        self.ahead: set[int] = set()  # chunks previewed here ahead of their turn, stored

    def queue(self) -> None:
        from dashboard.imports.tasks import build_import_preview_chunk

        self.store.save_spec(self.spec, self.plan)
        for index, (start, end) in enumerate(self.plan[1:], start=1):
            build_import_preview_chunk.delay(
                self.run.pk, self.run.generation, self.claim, index, start, end
            )

    def _take(self, index: int, *, again: bool = False) -> bool:
        """Start the chunk here if no task has (a task starting it just now costs time only:
        the writer reads one result); ``again``: look again at a chunk seen started (a task
        that failed takes its mark back)."""
        if index in self.started and not again:
            return False
        if self.store.started(index) is not None or self.store.done(index):
            self.started.add(index)
            return False
        self.started.add(index)
        self.store.start(index)
        return True

    def _stale(self, index: int) -> bool:
        started = self.store.started(index)
        limit = settings.IMPORT_PREVIEW_STALE_AFTER
        return started is not None and 0 < started < time.time() - limit

    def results(self) -> Iterator[_Built]:
        last_beat = time.monotonic()
        for index, (start, end) in enumerate(self.plan):
            while True:
                if index == 0 or self._take(index, again=True):
                    yield from _previewed_batches(self.run, self.spec, start, end)
                    break
                loaded = self.store.load(index)
                if loaded is not None:
                    self.by_tasks += index not in self.ahead
                    yield from loaded
                    break
                later = next(
                    (j for j in range(len(self.plan) - 1, index, -1) if j not in self.started),
                    None,
                )
                if later is not None and self._take(later):
                    self.ahead.add(later)
                    later_start, later_end = self.plan[later]
                    self.store.save(
                        later, _previewed_batches(self.run, self.spec, later_start, later_end)
                    )
                elif later is None and self._stale(index):
                    logger.warning(
                        "Import %s preview: chunk %d stopped reporting; previewing it here",
                        self.run.pk, index,
                    )  # fmt: skip
                    yield from _previewed_batches(self.run, self.spec, start, end)
                    break
                else:
                    time.sleep(CHUNK_POLL)
                if time.monotonic() - last_beat >= WAIT_HEARTBEAT:
                    self.heartbeat()
                    last_beat = time.monotonic()


def import_build_preview_chunk(
    *,
    import_id: int,
    generation: int,
    claim: str,
    index: int,
    start: int,
    end: int | None,
    redelivered: bool = False,
) -> None:
    """Preview one chunk of a preview build's rows and store the result for its writer.

    Nothing to do once the build is over or taken over (another claim), or when the chunk is
    previewed or started already, unless this is a delivery again of a task whose worker
    stopped (``redelivered``): its own start mark is then the one found.
    """
    current = Import.objects.filter(
        pk=import_id, generation=generation, status=ImportStatus.PARSING, preview_claim=claim
    )
    if not current.exists():
        return
    store = _ChunkStore(import_id, generation, claim)
    if store.done(index) or (store.started(index) is not None and not redelivered):
        return
    store.start(index)
    try:
        import_run = Import.objects.select_related("connection").get(pk=import_id)
        spec, plan = store.spec(), store.plan()
        with translation.override(spec.language), _collector_spared():
            store.save(index, _previewed_batches(import_run, spec, start, end))
            # Then the next chunks nobody started: this process goes on at once, where the
            # queued task of each would wait for the broker to hand it over.
            for later, (later_start, later_end) in enumerate(plan):
                if later <= index or store.started(later) is not None or store.done(later):
                    continue
                if not current.exists():
                    break
                index = later
                store.start(index)
                store.save(index, _previewed_batches(import_run, spec, later_start, later_end))
    except Exception:
        # The writer previews the chunk itself, and meets the error (a file that stops
        # being CSV, say) where it reports it.
        store.unstart(index)
        if not current.exists():
            return
        raise
    if not current.exists():  # the writer finished without it
        store.delete()


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


MISSING_FILE = (
    "The uploaded file is no longer in storage, so its rows cannot be read: upload it again."
)


def interrupted_message(attempts: int) -> str:
    """Why an import failed after ``attempts`` builds of its preview that never finished."""
    return (
        f"Building the preview stopped {attempts} times before it was ready: each time, the "
        "worker building it was stopped, restarted or met an error (it may run out of memory "
        "on this file). Upload the file again, or ask whoever runs the workers to check their "
        "logs."
    )


def _claimant() -> str:
    """Who builds a preview, for the import's record and the logs: host, process, and a
    token of this build (a process builds many)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _preview_claim(import_id: int, generation: int) -> str | None:
    """Take the build of an import's preview ``generation``; return the claim, or None when
    there is nothing to build (a newer preview, no longer being read) or a live worker builds
    it (its heartbeat is fresh).

    A build taken over from a worker that stopped starts clean: the rows that worker stored
    are removed in the same transaction. After ``IMPORT_PREVIEW_MAX_ATTEMPTS`` builds that
    never finished, the import fails with the reason instead.
    """
    now = timezone.now()
    with transaction.atomic():
        import_run = (
            Import.objects.select_for_update()
            .filter(pk=import_id, generation=generation, status=ImportStatus.PARSING)
            .first()
        )
        if import_run is None:
            return None
        fresh = now - timedelta(seconds=settings.IMPORT_PREVIEW_STALE_AFTER)
        heartbeat = import_run.preview_heartbeat_at
        if import_run.preview_claim and heartbeat is not None and heartbeat >= fresh:
            return None  # another delivery of the task, while a live worker builds it
        if import_run.preview_attempts >= settings.IMPORT_PREVIEW_MAX_ATTEMPTS:
            _preview_given_up(import_run)
            return None
        if import_run.preview_claim:
            logger.warning(
                "Import %s preview: %s stopped reporting; building it again (attempt %d)",
                import_id, import_run.preview_claim, import_run.preview_attempts + 1,
            )  # fmt: skip
        claim = _claimant()
        Import.objects.filter(pk=import_id).update(
            preview_claim=claim, preview_heartbeat_at=now,
            preview_attempts=import_run.preview_attempts + 1, bytes_read=0, n_rows=0,
            n_create=0, n_update=0, n_unchanged=0, n_invalid=0,
        )  # fmt: skip
        if import_run.preview_attempts:
            ImportRow.objects.filter(import_run_id=import_id, generation=generation).delete()
    return claim


def _preview_given_up(import_run: Import) -> None:
    """Fail an import whose preview was started ``IMPORT_PREVIEW_MAX_ATTEMPTS`` times and
    never finished, saying so; drop the rows its builds stored. Inside a transaction that
    locked the import."""
    attempts = import_run.preview_attempts
    logger.error("Import %s preview: given up after %d builds that stopped", import_run.pk,
                 attempts)  # fmt: skip
    ImportRow.objects.filter(import_run_id=import_run.pk).delete()
    Import.objects.filter(pk=import_run.pk).update(
        status=ImportStatus.FAILED, error=interrupted_message(attempts)[:1000], preview_claim="",
        bytes_read=0, n_rows=0, n_create=0, n_update=0, n_unchanged=0, n_invalid=0,
    )  # fmt: skip


def import_previews_recover() -> list[int]:
    """Queue again the previews whose worker stopped: being built without a heartbeat for
    ``IMPORT_PREVIEW_STALE_AFTER`` seconds, or queued ``IMPORT_PREVIEW_QUEUED_LOST_AFTER``
    seconds ago and never taken. Fail those given up on (``_preview_claim``). Return the ids
    of the imports queued again.

    Safe to run anywhere, any time, twice: the build's claim decides who builds.
    """
    from dashboard.imports.tasks import build_import_preview

    now = timezone.now()
    stale = now - timedelta(seconds=settings.IMPORT_PREVIEW_STALE_AFTER)
    lost = now - timedelta(seconds=settings.IMPORT_PREVIEW_QUEUED_LOST_AFTER)
    waiting = Import.objects.filter(status=ImportStatus.PARSING).filter(
        Q(preview_claim__gt="", preview_heartbeat_at__lt=stale)
        | Q(preview_claim="", preview_heartbeat_at__lt=lost)
        | Q(preview_claim="", preview_heartbeat_at__isnull=True, updated_at__lt=lost)
    )
    queued = []
    for import_id, generation, attempts in waiting.values_list(
        "pk", "generation", "preview_attempts"
    ):
        if attempts >= settings.IMPORT_PREVIEW_MAX_ATTEMPTS:
            with transaction.atomic():
                import_run = (
                    Import.objects.select_for_update()
                    .filter(pk=import_id, generation=generation, status=ImportStatus.PARSING)
                    .first()
                )
                if import_run is not None:
                    _preview_given_up(import_run)
            continue
        logger.warning("Import %s preview has no live worker; queueing it again", import_id)
        build_import_preview.delay(import_id, generation)
        queued.append(import_id)
    return queued


def import_build_preview(*, import_id: int, generation: int, chunked: bool = False) -> None:
    """Read every row, validate it, compare it with the mirror and store the preview.

    Progress is written after each batch; a newer preview (another ``generation``) stops this
    one, so changing the mapping mid-way never mixes two previews. ``chunked`` (the Celery
    task's build): a large file's row ranges are previewed by chunk tasks on any worker
    while this build writes them in order (``_ChunkedPreview``).
    """
    claim = _preview_claim(import_id, generation)
    if claim is None:
        return
    import_run = Import.objects.select_related("connection").get(pk=import_id)
    # Every write of this build is to its own claim: a build taken over by another worker
    # (this one was silent too long) stops at its next batch, which is not stored.
    current = Import.objects.filter(pk=import_id, generation=generation, preview_claim=claim)
    fields = import_fields(connection=import_run.connection)
    writer = _PreviewWriter(import_run, fields)
    chunks: _ChunkedPreview | None = None

    def heartbeat() -> None:
        if not current.update(preview_heartbeat_at=timezone.now()):
            raise _Superseded

    try:
        with _collector_spared():
            # A batch's mirror lookup is planned from the statistics, and stale ones (a
            # refresh just wrote the account) turn each lookup into a scan of the
            # connection's recipients.
            analyze_if_stale(MirroredRecipient)
            # How each date column is read, from all its values: asked before any row.
            if not _dates_decide(import_run, fields):
                raise _Superseded
            spec = replace(
                writer.spec,
                date_orders=tuple(dates.entry_reading(entry) for entry in import_run.mapping),
            )
            plan: list[tuple[int, int | None]] = _chunk_plan(import_run) if chunked else [(0, None)]
            if len(plan) > 1:
                chunks = _ChunkedPreview(import_run, spec, plan, claim=claim, heartbeat=heartbeat)
                chunks.queue()
                built = chunks.results()
            else:
                built = _previewed_batches(import_run, spec)
            for numbers, bytes_read, batch, previewed in built:
                with _batch_transaction():
                    writer.write(numbers, batch, previewed)
                    progress = {"bytes_read": bytes_read, **writer.counts()}
                    if not current.update(preview_heartbeat_at=timezone.now(), **progress):
                        raise _Superseded  # and the batch is not stored
        writer.mark_duplicates()
    except ImportFileError as exc:
        current.update(
            status=ImportStatus.FAILED, error=str(exc)[:1000], preview_claim="",
            **_counts(import_run),
        )  # fmt: skip
        return
    except FileNotFoundError:
        logger.warning("Import %s preview: its file %r is not in storage", import_id,
                       import_run.file.name)  # fmt: skip
        ImportRow.objects.filter(import_run_id=import_id, generation=generation).delete()
        current.update(
            status=ImportStatus.FAILED, error=MISSING_FILE, preview_claim="", **_counts(import_run)
        )
        return
    except _Superseded:
        # The batches stored before belong to a preview nobody will see: a newer one started
        # (and removed the older rows it found then), or the import was deleted. A build
        # taken over for the same generation leaves them: the new build removed them when it
        # started, and the rows there now are its own.
        if not Import.objects.filter(pk=import_id, generation=generation).exists():
            ImportRow.objects.filter(import_run_id=import_id, generation=generation).delete()
        return
    finally:
        if chunks is not None:
            chunks.store.delete_import(import_id)
    if chunks is not None:
        logger.info(
            "Import %s preview: %d of its %d chunks previewed by chunk tasks",
            import_run.pk, chunks.by_tasks, len(chunks.plan),
        )  # fmt: skip
    counts = _counts(import_run)
    if counts["n_rows"] == 0:
        current.update(
            status=ImportStatus.FAILED,
            error="The file has a header but no data rows: there is nothing to import.",
            preview_claim="",
            **counts,
        )
        return
    current.update(
        status=ImportStatus.PREVIEWED, previewed_at=timezone.now(), bytes_read=import_run.size,
        preview_claim="", **counts,
    )  # fmt: skip


# -- fixing a cell in the preview -----------------------------------------------------------

_COUNT_FIELDS = {
    RowKind.CREATE: "n_create",
    RowKind.UPDATE: "n_update",
    RowKind.UNCHANGED: "n_unchanged",
    RowKind.INVALID: "n_invalid",
}


# Why the cells of an open import that is not previewed cannot be fixed, by its status.
_NOT_FIXABLE = {
    ImportStatus.PARSING: "The preview is being built: fix the cell once it is ready.",
    ImportStatus.UPLOADED: "There is no preview yet: map the columns first.",
    ImportStatus.FAILED: "The file could not be read: there is no preview to fix.",
}


class CellFixError(ImportStateError):
    """The cell cannot be fixed as asked; the message is for the admin."""


def import_fix_cell(
    *, import_run: Import, number: int, column: int, value: str, user: Any
) -> ImportRow:
    """Correct one cell of an invalid preview row, check the row again at once, keep the fix.

    The row is cleaned and compared with the recipient it names as the preview does (the
    preview's ``BuilderSpec``, the mirror entry of its identifier) and takes its new class.
    The rows that share its identifier, before or after the fix, are grouped again by the
    preview's rule (every row of a repeated identifier is invalid): a fix can make a
    duplicate, or settle one and give the other row back its own class. The counts follow.
    The fix is kept in ``Import.fixes``, which every rebuilt preview reads over the file's
    cell, and audited.

    On a preview older than the mirror, the rows are checked against the mirror as it is now,
    and the preview stays out of date: it must still be refreshed before it is confirmed,
    and the refresh applies every fix again.

    Raises ``CellFixError`` (nothing changed) for a value, row or column that cannot be
    fixed, ``PermissionDenied`` for a user who may not manage imports.
    """
    if not has_capability(user, Capability.MANAGE_IMPORTS):
        raise PermissionDenied(denied_message(Capability.MANAGE_IMPORTS))
    _check_fix_value(value)
    with transaction.atomic():
        # One fix at a time per import (the counts move by each); the connection is not
        # locked, so a mirror refresh never waits for a fix.
        locked = Import.objects.select_for_update(of=("self",)).select_related("connection")
        import_run = locked.get(pk=import_run.pk)
        row = _fixable_row(import_run, number, column)
        before = row.cells[column]
        if value == before:
            return row
        cells = [*row.cells]
        cells[column] = value
        fixes = dict(import_run.fixes or {})
        fixes[str(number)] = {**fixes.get(str(number), {}), str(column): value}
        import_run.fixes = fixes
        for old_kind, new_kind in _recheck(import_run, row, cells):
            for kind, step in ((old_kind, -1), (new_kind, 1)):
                field = _COUNT_FIELDS[RowKind(kind)]
                setattr(import_run, field, getattr(import_run, field) + step)
        import_run.save(update_fields=["fixes", *_COUNT_FIELDS.values(), "updated_at"])
        row.refresh_from_db()
        title = import_run.header[column] or f"column {column + 1}"
        audit_record(
            actor=user,
            action="import.cell_fixed",
            target=import_run,
            summary=f"Row {number} of {import_run.original_name}, {title}: the row is now "
            f"{row.get_kind_display().lower()}",
            changes={f"Row {number}, {title} (column {column + 1})": {"before": before,
                                                                      "after": value}},
        )  # fmt: skip
    return row


def _check_fix_value(value: str) -> None:
    if "\x00" in value:
        raise CellFixError(
            "The value contains a NUL character (an invisible control code): remove it and "
            "save again."
        )
    if len(value) > MAX_CELL_CHARS:
        raise CellFixError(
            f"A cell holds at most {MAX_CELL_CHARS:,} characters; this value has {len(value):,}."
        )


def _fixable_row(import_run: Import, number: int, column: int) -> ImportRow:
    """The invalid row ``number`` of a finished preview, whose cell ``column`` can be fixed."""
    _require_open(import_run)
    if import_run.status != ImportStatus.PREVIEWED:
        status = ImportStatus(import_run.status)
        raise CellFixError(_NOT_FIXABLE.get(status, "There is no preview to fix."))
    row = import_rows(import_run=import_run).filter(number=number).first()
    if row is None:
        raise CellFixError(f"There is no row {number} in this preview.")
    if row.kind != RowKind.INVALID:
        raise CellFixError(
            f"Row {number} is not invalid (it is “{row.get_kind_display()}”): only invalid rows "
            "are fixed in the preview."
        )
    width = len(import_run.header)
    if len(row.cells) != width:
        raise CellFixError(
            f"Row {number} has {len(row.cells)} cells but the header has {width}: fix it in "
            "the file (download the invalid rows) and upload it again."
        )
    if not 0 <= column < width:
        raise CellFixError(f"There is no column {column + 1}: the file has {width}.")
    return row


def _recheck(import_run: Import, fixed: ImportRow, cells: list[str]) -> list[tuple[str, str]]:
    """Preview the fixed row from ``cells`` again, and the rows sharing its identifier before
    or after the fix from theirs; store each row whose outcome changed. Return the class
    before and after of every row stored."""
    # The preview's own writer: its spec and mirror lookup are the ones the preview used.
    writer = _PreviewWriter(import_run, import_fields(connection=import_run.connection))
    previewer = RowPreviewer(writer.spec)
    own = previewer.preview([cells], writer.lookup(previewer.identifiers([cells])))[0]
    keys = {key for key in (fixed.identifier.lower(), own[4].lower()) if key}
    others = [row for row in _rows_with_identifiers(import_run, keys) if row.pk != fixed.pk]
    # A valid row keeps no cells: read them from the file (it becomes a duplicate).
    unstored = {row.number for row in others if not row.cells}
    from_file = _cells_of(import_run, unstored) if unstored else {}
    cells_of = {fixed.number: cells}
    cells_of.update({row.number: row.cells or from_file[row.number] for row in others})
    outcomes = {fixed.number: own}
    if others:
        batch = [cells_of[row.number] for row in others]
        again = previewer.preview(batch, writer.lookup(previewer.identifiers(batch)))
        outcomes.update({row.number: one for row, one in zip(others, again, strict=True)})
    fixed_numbers = _fixed_cells(import_run).keys()
    moved = []
    for row in [fixed, *others]:
        kind, payload, errors, changes, identifier, remote_id, warnings = _regrouped(
            outcomes, row.number
        )
        stored = _stored_cells(
            row.number, kind, cells_of[row.number], first_data_row(import_run), fixed_numbers
        )
        before = (
            row.kind, row.payload, row.errors, row.changes, row.cells, row.remote_id,
            row.warnings,
        )  # fmt: skip
        after = (kind, payload, errors, changes, stored, remote_id, warnings)
        if before == after and row.pk != fixed.pk:
            continue
        ImportRow.objects.filter(pk=row.pk).update(
            kind=kind, payload=payload, errors=errors, changes=changes, cells=stored,
            identifier=identifier[:320], remote_id=remote_id[:100], warnings=warnings,
        )  # fmt: skip
        moved.append((row.kind, kind))
    return moved


def _rows_with_identifiers(import_run: Import, keys: set[str]) -> list[ImportRow]:
    """The preview's rows whose identifier is one of ``keys`` (lower-cased), in file order.

    No index serves this (see ``ImportRow.Meta``): it reads the preview's rows once, a
    fraction of a second for the largest file, which a fix can spend and a preview cannot.
    """
    if not keys:
        return []
    wanted = Q()
    for key in keys:
        wanted |= Q(identifier__iexact=key[:320])
    return list(import_rows(import_run=import_run).filter(wanted))


def _regrouped(
    outcomes: dict[int, Previewed], number: int
) -> tuple[str, dict[str, Any], dict[str, str], dict[str, Any], str, str, dict[str, str]]:
    """Row ``number``'s stored outcome among ``outcomes`` (every row of its identifier), by
    the preview's rule for a repeated identifier (``_PreviewWriter``): the first row keeps its
    errors and its recipient and names the second; each later row keeps its cells' errors
    and names the first."""
    kind, payload, errors, changes, identifier, remote_id, cell_errors, warned = outcomes[number]
    warnings: dict[str, str] = orjson.loads(warned)
    key = identifier.lower()
    group = sorted(n for n, one in outcomes.items() if key and one[4].lower() == key)
    decoded: dict[str, str] = orjson.loads(errors)
    if len(group) < 2:
        # The standard decoder: orjson reads an integer beyond 64 bits as a float.
        return (
            kind, json.loads(payload), decoded, json.loads(changes), identifier, remote_id,
            warnings,
        )  # fmt: skip
    if number == group[0]:
        decoded = {**decoded, "row": _duplicate_message(group[1])}
    else:
        decoded = {**cell_errors, "row": _duplicate_message(group[0])}
        remote_id = ""
    return RowKind.INVALID, {}, decoded, {}, identifier, remote_id, warnings


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
    if questions := import_date_questions(import_run=import_run):
        raise ImportStateError(" ".join(question for _, question in questions))
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
    names = [str(field.name) for field in (import_run.file, import_run.source_file) if field]
    import_files_delete(names=names)
    audit_record(actor=user, action="import.discarded", target=import_run)
    return import_run


def import_files_delete(*, names: Sequence[str]) -> None:
    """Remove uploaded files from storage (``STORAGES["default"]``); one that cannot be
    removed now (the bucket unreachable) is logged and left, never an error for the admin."""
    storage = upload_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("The stored file %r could not be removed", name)
