from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from dashboard.accounts.permissions import require_capability
from dashboard.accounts.roles import Capability
from dashboard.core.http import HtmxHttpRequest
from dashboard.imports import services
from dashboard.imports.exports import invalid_csv_lines, row_error_text
from dashboard.imports.forms import (
    ConstantsForm,
    DateOrderForm,
    FixCellForm,
    LayoutForm,
    ReadingForm,
    UploadForm,
)
from dashboard.imports.models import Import, ImportRow, ImportStatus, RowKind
from dashboard.imports.selectors import (
    ImportLookups,
    import_fields,
    import_first_records,
    import_invalid_width,
    import_is_stale,
    import_lookups,
    import_rows,
)
from dashboard.imports.upload import SizeCappedUploadHandler
from dashboard.recipients.fields import display_value, parse_provider_date
from integrations.catalogue import FieldSpec, FieldType, catalogue
from integrations.importing import dates
from integrations.importing.cells import MAX_CELL_CHARS, takes_constant
from integrations.importing.encoding import LABELS as ENCODING_LABELS
from integrations.importing.lookups import lookup_paths, provider_name
from integrations.importing.mapping import (
    ENTRY_MEMBERS,
    disabled_matches,
    entry_member,
    mapping_problems,
)
from integrations.importing.reading import ImportFileError

PAGE_SIZE = 50
DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SAMPLE = DEMO_DIR / "messy-new-starters.csv"
# A Windows-1252 semicolon export with US dates and Snappy account names (for the demo's
# Snappy connection): the encoding and the dates are asked, one email is fixed in place.
DEMO_WINDOWS_SAMPLE = DEMO_DIR / "international-new-starters.csv"


def _sample(path: Path, content_type: str) -> FileResponse:
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type
    )


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_sample_csv(request: HttpRequest) -> FileResponse:
    """Send the messy sample file the demo ships, to try an upload with."""
    return _sample(DEMO_SAMPLE, "text/csv")


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_sample_windows_csv(request: HttpRequest) -> FileResponse:
    """Send the demo's Windows-1252 export of international names (the upload page links it)."""
    return _sample(DEMO_WINDOWS_SAMPLE, "text/csv; charset=windows-1252")


MANY_SAMPLE_ROWS = 10_000
MANY_SAMPLE_NAME = "many-new-starters.csv"


def many_sample_lines(rows: int = MANY_SAMPLE_ROWS) -> Iterator[str]:
    """A clean UTF-8 export of ``rows`` new starters for the demo's Snappy connection, the
    same every time: big enough to watch a confirmed import spread over several workers."""
    departments = ("Engineering", "Finance", "Sales", "Marketing", "People", "Support")
    yield "Email,First name,Last name,Country,Start date,Department,Accounts\r\n"
    for n in range(1, rows + 1):
        yield (
            f"starter{n:05d}@example.com,Starter,Number {n:05d},GB,"
            f"2026-{(n % 12) + 1:02d}-{(n % 28) + 1:02d},{departments[n % len(departments)]},"
            "Onboarding kits\r\n"
        )


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_sample_many_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Send 10,000 new starters (written as they are sent, never held whole)."""
    response = StreamingHttpResponse(
        (line.encode() for line in many_sample_lines()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{MANY_SAMPLE_NAME}"'
    return response


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_list(request: HttpRequest) -> HttpResponse:
    imports = Import.objects.select_related("connection", "created_by", "job")
    page = Paginator(imports, 25).get_page(request.GET.get("page"))
    return render(request, "imports/list.html", {"page": page, "imports": page.object_list})


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


@csrf_exempt
@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_IMPORTS)
def import_new(request: HttpRequest) -> HttpResponse:
    """Upload a file. The size cap is enforced while it streams in, before CSRF reads the form.

    ``csrf_exempt`` + ``csrf_protect`` inside is Django's documented way to change the upload
    handlers of a view: the CSRF check reads ``request.POST``, which would parse the upload
    with the default handlers first.
    """
    if request.method == "POST" and not request.META.get("CONTENT_LENGTH"):
        return _length_required(request)
    cap = SizeCappedUploadHandler(request, settings.IMPORT_MAX_BYTES)
    request.upload_handlers.insert(0, cap)
    return _import_new(request, cap)


def _length_required(request: HttpRequest) -> HttpResponse:
    """Answer an upload whose body came without its length (streamed in chunks), which a WSGI
    application is never given: nothing was read, so nothing changes and no CSRF check is
    needed."""
    form = UploadForm(data={}, files={})
    form.is_valid()
    form.errors.clear()
    form.add_error(
        "file",
        "The upload arrived without its size, so it could not be read: choose the file and "
        "send it again from this page.",
    )
    context = {"form": form, "limit": _megabytes(settings.IMPORT_MAX_BYTES)}
    return render(request, "imports/new.html", context, status=411)


@csrf_protect
def _import_new(request: HttpRequest, cap: SizeCappedUploadHandler) -> HttpResponse:
    limit = _megabytes(settings.IMPORT_MAX_BYTES)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if cap.too_large:
            form.is_valid()
            form.errors.pop("file", None)
            form.add_error("file", f"The file is larger than {limit}: nothing was stored.")
        elif form.is_valid():
            try:
                import_run = services.import_create(
                    connection=form.cleaned_data["connection"],
                    upload=form.cleaned_data["file"],
                    user=request.user,
                )
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            else:
                if import_run.header_row > 1:
                    messages.info(request, _header_found(import_run.header_row))
                return redirect("imports:detail", pk=import_run.pk)
    # 413 when the file was too big: it was not read, so no other error is worth showing.
    status = 413 if cap.too_large else 422 if form.errors else 200
    context = {"form": form, "limit": limit}
    return render(request, "imports/new.html", context, status=status)


def _labels(import_run: Import, fields: list[FieldSpec]) -> dict[str, str]:
    """Labels of the paths a preview row may change: catalogue, custom and entry fields."""
    labels = {spec.path: spec.label for spec in catalogue(import_run.connection.provider)}
    labels.update({spec.path: spec.label for spec in fields})
    return labels


def _field_groups(fields: list[FieldSpec]) -> list[dict[str, Any]]:
    """The offered fields by catalogue group, in the order the groups first appear."""
    groups: dict[str, list[FieldSpec]] = {}
    for spec in fields:
        groups.setdefault(spec.group, []).append(spec)
    return [{"grouper": name, "list": specs} for name, specs in groups.items()]


def _shown(path: str, value: Any, names: dict[str, dict[str, str]] | None = None) -> Any:
    """A list (custom list tag) or an entry (``education``) in words; others as they are.

    An entry's members are shown in the documented order: PostgreSQL's ``jsonb`` keeps an
    object's keys in its own order. A value the provider names (a Snappy account id) is
    shown as its name with the value beside it (``names``: path → value → name).
    """
    named = (names or {}).get(path)
    if named and isinstance(value, list):
        value = [f"{named[v]} ({v})" if isinstance(v, str) and v in named else v for v in value]
    elif named and isinstance(value, str) and value in named:
        value = f"{named[value]} ({value})"
    if isinstance(value, dict) and path in ENTRY_MEMBERS:
        documented = [member.name for member in ENTRY_MEMBERS[path] if member.name in value]
        value = {name: value[name] for name in documented}
    if isinstance(value, list | dict):
        return display_value(value) or None
    return value


def _readable_dates(path: str, value: Any, date_paths: frozenset[str]) -> Any:
    """A date (or a history entry's dates) as a person reads it: "3 March 2025", where the
    payload holds the provider's format (``20250303``)."""
    if path in date_paths:
        day = parse_provider_date(value)
        return dates.spoken(day) if day else value
    if isinstance(value, dict) and path in ENTRY_MEMBERS:
        members = {m.name for m in ENTRY_MEMBERS[path] if m.type is FieldType.DATE}
        return {
            name: _readable_dates(f"{path}.{name}", item, date_paths) if name in members else item
            for name, item in value.items()
        }
    return value


def _warnings(row: ImportRow, header: list[str]) -> list[dict[str, str]]:
    """A row's warnings (values sent all the same) with their columns' titles."""
    return [
        {"column": header[int(key)] if key.isdigit() and int(key) < len(header) else "",
         "message": message}
        for key, message in (row.warnings or {}).items()
    ]  # fmt: skip


def _display(
    row: ImportRow,
    import_run: Import,
    labels: dict[str, str],
    names: dict[str, dict[str, str]] | None = None,
    date_paths: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    header = import_run.header
    problems = []
    for key, message in row.errors.items():
        if key == "row":
            problems.append({"column": "", "value": "", "message": message})
        else:
            index = int(key)
            value = row.cells[index] if index < len(row.cells) else ""
            title = header[index] if index < len(header) else ""
            problems.append({"column": title, "value": value, "message": message})
    changes = [
        {
            "label": labels.get(path, path),
            "path": path,
            "old": _shown(path, _readable_dates(path, old, date_paths), names),
            "new": _shown(path, _readable_dates(path, new, date_paths), names),
        }
        for path, (old, new) in row.changes.items()
    ]
    warnings = _warnings(row, header)
    return {"row": row, "problems": problems, "changes": changes, "warnings": warnings}


def _key_columns(import_run: Import, fields: list[FieldSpec]) -> dict[str, list[int]]:
    """The columns mapped to a field that identifies a person (email, id), and to a field a
    new recipient needs: the cells a row-level error may be fixed in."""
    paths = import_run.mapped_paths
    identifies = {spec.path for spec in fields if spec.identifies}
    required = {
        spec.path for spec in catalogue(import_run.connection.provider) if spec.required_on_create
    }
    return {
        "identifying": [i for i, path in enumerate(paths) if path in identifies],
        "required": [i for i, path in enumerate(paths) if path in required],
    }


def _fix_controls(
    item: dict[str, Any],
    import_run: Import,
    key_columns: dict[str, list[int]],
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add to a displayed row the cells fixed in the preview (``fixed``) and, for an invalid
    row, the cells it can be fixed in (``fixes``): each column with an error; for an error
    of the whole row, the empty cells of fields a new recipient needs and, for a missing or
    repeated identifier, the identifier columns.

    ``error`` ({"column", "value", "message"}) opens the editor of that column again with
    the value refused and why.
    """
    row: ImportRow = item["row"]
    header = import_run.header
    fixed = (import_run.fixes or {}).get(str(row.number), {})
    # A fixed row keeps its cells: a fix they do not hold did not apply (the file was read
    # again with other columns).
    item["fixed"] = [
        {"column": _column_title(header, int(column)), "value": value}
        for column, value in sorted(fixed.items(), key=lambda entry: int(entry[0]))
        if row.cells[int(column) : int(column) + 1] == [value]
    ]
    item["fixes"] = []
    if (
        import_run.status != ImportStatus.PREVIEWED
        or row.kind != RowKind.INVALID
        or len(row.cells) != len(header)
    ):
        return item
    columns = sorted(int(key) for key in row.errors if key.isdigit() and int(key) < len(header))
    row_error = row.errors.get("row")
    if row_error is not None:
        if not row.identifier or services.is_duplicate_message(row_error):
            columns += [c for c in key_columns["identifying"] if c not in columns]
        columns += [
            c for c in key_columns["required"] if c not in columns and not row.cells[c].strip()
        ]
    for column in columns:
        fix = {
            "index": column,
            "title": _column_title(header, column),
            "value": row.cells[column],
            "id": f"fix-{row.number}-{column}",
            "max_length": MAX_CELL_CHARS,
            "error": "",
        }
        if error is not None and error["column"] == column:
            fix.update(value=error["value"], error=error["message"])
        item["fixes"].append(fix)
    return item


def _column_title(header: list[str], column: int) -> str:
    title = header[column] if column < len(header) else ""
    return title.strip() or f"column {column + 1}"


def _tabs(import_run: Import, current: str) -> list[dict[str, Any]]:
    tabs = [
        ("", "All", import_run.n_rows),
        (RowKind.CREATE, "Create", import_run.n_create),
        (RowKind.UPDATE, "Update", import_run.n_update),
        (RowKind.UNCHANGED, "Unchanged", import_run.n_unchanged),
        (RowKind.INVALID, "Invalid", import_run.n_invalid),
    ]
    return [
        {"kind": kind, "label": label, "count": count, "current": kind == current}
        for kind, label, count in tabs
    ]


def _samples(import_run: Import, first_row: ImportRow | None) -> list[str]:
    """A value of each column to show beside it, read from the file's first rows: needed
    most before the preview exists (no identifier mapped yet). The first preview row's
    cells when the file cannot be read."""
    if import_run.status != ImportStatus.DISCARDED and import_run.file:
        samples = services.import_sample_values(import_run=import_run)
        if any(samples):
            return samples
    return list(first_row.cells) if first_row is not None else []


def _mapping_rows(
    import_run: Import, first_row: ImportRow | None, fields: list[FieldSpec]
) -> list[dict[str, Any]]:
    # An ignored column named like a field the connection disables says so: the admin sees why
    # "Mobile" is not offered a match, and where to change it.
    disabled = disabled_matches(import_run.header, import_run.connection.provider, fields)
    date_paths = _date_paths(fields)
    samples = _samples(import_run, first_row)
    rows = []
    for index, (title, entry) in enumerate(zip(import_run.header, import_run.mapping, strict=True)):
        sample = samples[index] if index < len(samples) else ""
        row = {"index": index, "title": title, "sample": sample, **entry}
        if not entry.get("path") and index in disabled:
            row["disabled_field"] = disabled[index].label
        if entry.get("path") in date_paths:
            row["date_format"] = dates.describe(entry)
        rows.append(row)
    return rows


def _import_lookups(import_run: Import, fields: list[FieldSpec]) -> ImportLookups:
    """The provider's lists of the offered fields whose values it defines (the page's
    choices for a value for every row, and the names shown beside ids), as read lately."""
    defined = lookup_paths(import_run.connection.provider)
    paths = [spec.path for spec in fields if spec.path in defined]
    if not paths or not import_run.header or import_run.status == ImportStatus.DISCARDED:
        return ImportLookups()
    return import_lookups(connection=import_run.connection, paths=paths)


def _constants_form(
    import_run: Import,
    fields: list[FieldSpec],
    lookups: ImportLookups,
    data: Any = None,
) -> ConstantsForm:
    """The form of values for every row, each field's help saying what a column does to it
    and why a provider list is missing."""
    mapped = {path: import_run.header[i] for i, path in enumerate(import_run.mapped_paths) if path}
    helps = {}
    for spec in fields:
        if spec.path in mapped:
            text = f"Column “{mapped[spec.path]}” gives it; rows whose cell is empty get this."
        elif spec.required_on_create:
            text = "Needed to create a recipient, and no column gives it."
        else:
            text = ""
        if spec.path in lookups.problems:
            text = (
                f"{text} {lookups.problems[spec.path]} Type a name or an id here: it is "
                "checked against the list when you save."
            ).strip()
        helps[spec.path] = text
    # The fields a create needs first: they are why the section is there.
    offered = sorted(
        (spec for spec in fields if takes_constant(spec)),
        key=lambda spec: not spec.required_on_create,
    )
    return ConstantsForm(
        data,
        fields=offered,
        lists=lookups.lists,
        provider=provider_name(import_run.connection.provider),
        helps=helps,
        initial=dict(import_run.constants or {}),
    )


def _constants_context(
    import_run: Import, fields: list[FieldSpec], lookups: ImportLookups, form: ConstantsForm
) -> dict[str, Any]:
    """The values-for-every-row section: its form, the values set (in words) and whether it
    opens at once (a value set, an error, or a field a create needs that no column gives)."""
    labels = {spec.path: spec.label for spec in fields}
    names = lookups.names()
    constants = dict(import_run.constants or {})
    mapped = set(import_run.mapped_paths)
    wanting = [
        spec.label for spec in fields
        if spec.required_on_create and takes_constant(spec)
        and spec.path not in mapped and spec.path not in constants
    ]  # fmt: skip
    return {
        "constants_form": form,
        "constants_set": [
            {"label": labels.get(path, path), "value": _shown(path, value, names)}
            for path, value in constants.items()
        ],
        "constants_wanting": wanting,
        "constants_open": bool(constants or form.errors or wanting),
    }


_PARTS = re.compile(r"([\s,;|]+)")


def _marked(texts: list[str]) -> list[list[dict[str, Any]]]:
    """Each reading of a line in parts (words and what separates them), the parts where
    the readings differ marked; unmarked when they do not split alike (CJK readings)."""
    split = [_PARTS.split(text) for text in texts]
    if len({len(parts) for parts in split}) != 1:
        return [[{"text": text, "differs": False}] for text in texts]
    return [
        [
            {"text": part, "differs": len({other[i] for other in split}) > 1}
            for i, part in enumerate(parts)
        ]
        for parts in split
    ]


def _encoding_context(import_run: Import) -> dict[str, Any]:
    """The encoding chosen for the file, why, and the rows its rivals read differently."""
    evidence = import_run.encoding_evidence or {}
    return {
        "label": ENCODING_LABELS.get(import_run.encoding, import_run.encoding),
        "evidence": evidence,
        "question": services.encoding_question(import_run),
        "choices": evidence.get("choices", []),
        "rows": [
            {"line": row["line"], "readings": _marked(row["texts"])}
            for row in evidence.get("rows", [])
        ],
        "candidates": evidence.get("candidates", []),
    }


def _date_paths(fields: list[FieldSpec]) -> frozenset[str]:
    return frozenset(spec.path for spec in fields if spec.type is FieldType.DATE)


def _detail_context(request: HttpRequest, import_run: Import) -> dict[str, Any]:
    kind = request.GET.get("rows", "")
    kind = kind if kind in RowKind.values else ""
    rows = import_rows(import_run=import_run, kind=kind)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    fields = import_fields(connection=import_run.connection)
    labels = _labels(import_run, fields)
    key_columns = _key_columns(import_run, fields)
    first = import_rows(import_run=import_run).first()
    problems = mapping_problems(import_run.mapped_paths, fields)
    lookups = _import_lookups(import_run, fields)
    names = lookups.names()
    return {
        **_constants_context(
            import_run, fields, lookups, _constants_form(import_run, fields, lookups)
        ),
        "import_run": import_run,
        "connection": import_run.connection,
        "fields": fields,
        "field_groups": _field_groups(fields),
        "has_custom": any(spec.custom for spec in fields),
        "has_entries": any(entry_member(spec.path) for spec in fields),
        "mapping_rows": _mapping_rows(import_run, first, fields),
        "mapping_problems": problems,
        "encoding": _encoding_context(import_run),
        "reading_form": ReadingForm(
            initial={"encoding": import_run.encoding, "delimiter": import_run.delimiter}
        ),
        "tabs": _tabs(import_run, kind),
        "kind": kind,
        "page": page,
        "query": f"rows={kind}" if kind else "",
        "display_rows": [
            _fix_controls(
                _display(row, import_run, labels, names, _date_paths(fields)),
                import_run,
                key_columns,
            )
            for row in page.object_list
        ],
        "date_questions": services.import_date_questions(import_run=import_run),
        "stale": import_run.status == ImportStatus.PREVIEWED
        and import_is_stale(import_run=import_run),
        "layout": _layout_context(import_run),
    }


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    import_run = get_object_or_404(Import.objects.select_related("connection", "job"), pk=pk)
    if (
        request.htmx
        and request.htmx.trigger == "preview"
        and import_run.status != ImportStatus.PARSING
    ):
        # The progress poll (the section polls itself) of a preview that has just ended: the
        # whole page changes (status, first values, buttons), so it is loaded once more.
        return HttpResponseClientRefresh()
    context = _detail_context(request, import_run)
    if request.htmx and request.htmx.target == "preview":
        return render(request, "imports/detail.html#preview", context)
    return render(request, "imports/detail.html", context)


def _back(request: HttpRequest, import_run: Import) -> HttpResponse:
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(import_run_url(import_run))
    return redirect("imports:detail", pk=import_run.pk)


def import_run_url(import_run: Import) -> str:
    from django.urls import reverse

    return reverse("imports:detail", args=[import_run.pk])


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_reading(request: HttpRequest, pk: int) -> HttpResponse:
    import_run = get_object_or_404(Import, pk=pk)
    form = ReadingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an encoding and a delimiter from the lists.")
    else:
        try:
            services.import_set_reading(
                import_run=import_run,
                encoding=form.cleaned_data["encoding"],
                delimiter=form.cleaned_data["delimiter"],
                user=request.user,
            )
            label = ENCODING_LABELS.get(import_run.encoding, import_run.encoding)
            messages.success(request, f"File read again as {label}.")
        except services.ImportStateError as exc:
            messages.error(request, str(exc))
    return _back(request, import_run)


def _header_found(header_row: int) -> str:
    skipped = "row 1" if header_row == 2 else f"rows 1\N{EN DASH}{header_row - 1}"
    return (
        f"Header found on row {header_row}; {skipped} skipped. If that is wrong, change it "
        "under “Sheet and header row”."
    )


# The rows shown to choose the header from: the first ones, and a few below the header.
LAYOUT_ROWS = 10
LAYOUT_CELLS = 4


def _layout_initial(import_run: Import) -> dict[str, Any]:
    return {
        "sheet": import_run.sheet,
        "header_row": import_run.header_row or None,
        "no_header": import_run.header_row == 0,
    }


def _layout_context(import_run: Import, form: LayoutForm | None = None) -> dict[str, Any]:
    """The sheet and header-row card: its form and the file's first rows as the spreadsheet
    numbers them (the header marked), to choose the header from."""
    if form is None:
        form = LayoutForm(initial=_layout_initial(import_run), sheets=import_run.sheets)
    count = min(max(LAYOUT_ROWS, import_run.header_row + 3), 3 * LAYOUT_ROWS)
    rows = [
        {
            "number": number,
            "cells": cells[:LAYOUT_CELLS],
            "more": max(0, len(cells) - LAYOUT_CELLS),
            "is_header": number == import_run.header_row,
            "skipped": number < import_run.header_row,
        }
        for number, cells in import_first_records(import_run=import_run, count=count)
    ]
    return {"form": form, "rows": rows, "skipped": max(0, import_run.header_row - 1)}


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_layout(request: HttpRequest, pk: int) -> HttpResponse:
    """Read another sheet of the workbook, or the column names from another row (or none)."""
    import_run = get_object_or_404(Import.objects.select_related("connection", "job"), pk=pk)
    form = LayoutForm(request.POST, initial=_layout_initial(import_run), sheets=import_run.sheets)
    if form.is_valid():
        sheet, header_row = form.layout()
        try:
            services.import_set_layout(
                import_run=import_run, sheet=sheet, header_row=header_row, user=request.user
            )
        except services.LayoutError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except services.ImportStateError as exc:
            messages.error(request, str(exc))
            return _back(request, import_run)
        else:
            messages.success(
                request, f"Now reading {services.layout_text(import_run)}; columns mapped again."
            )
            return _back(request, import_run)
    context = _detail_context(request, import_run)
    context["layout"] = _layout_context(import_run, form)
    return render(request, "imports/detail.html", context, status=422)


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    import_run = get_object_or_404(Import, pk=pk)
    paths = [request.POST.get(f"column-{i}", "") for i in range(len(import_run.header))]
    try:
        services.import_set_mapping(import_run=import_run, paths=paths, user=request.user)
    except services.MappingError as exc:
        for problem in exc.problems:
            messages.error(request, problem)
    except services.ImportStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Mapping saved; the preview is being rebuilt.")
    return _back(request, import_run)


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_constants(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the values for every row and rebuild the preview; a value that cannot be sent
    shows the page again with the form's errors, and nothing is saved."""
    import_run = get_object_or_404(Import.objects.select_related("connection", "job"), pk=pk)
    fields = import_fields(connection=import_run.connection)
    lookups = _import_lookups(import_run, fields)
    form = _constants_form(import_run, fields, lookups, data=request.POST)
    if form.is_valid():
        try:
            services.import_set_constants(
                import_run=import_run, values=form.cleaned_data, user=request.user
            )
        except services.ConstantsError as exc:
            for path, message in exc.errors.items():
                form.add_error(path if path in form.fields else None, message)
        except services.ImportStateError as exc:
            messages.error(request, str(exc))
            return _back(request, import_run)
        else:
            messages.success(request, "Values for every row saved; the preview is being rebuilt.")
            return _back(request, import_run)
    context = _detail_context(request, import_run)
    context.update(_constants_context(import_run, fields, lookups, form))
    return render(request, "imports/detail.html", context, status=422)


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_date_order(request: HttpRequest, pk: int) -> HttpResponse:
    """Read one date column's dates day first or month first, and rebuild the preview."""
    import_run = get_object_or_404(Import, pk=pk)
    form = DateOrderForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether the column's dates are day first or month first.")
        return _back(request, import_run)
    try:
        services.import_set_date_order(
            import_run=import_run,
            column=form.cleaned_data["column"],
            order=form.cleaned_data["order"],
            user=request.user,
        )
    except services.ImportStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Date order saved; the preview is being rebuilt.")
    return _back(request, import_run)


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    import_run = get_object_or_404(Import, pk=pk)
    try:
        services.import_start_preview(import_run=import_run)
        messages.success(request, "Preview rebuilt against the latest recipients.")
    except services.ImportStateError as exc:
        messages.error(request, str(exc))
    return _back(request, import_run)


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    import_run = get_object_or_404(Import, pk=pk)
    try:
        job = services.import_confirm(import_run=import_run, user=request.user)
    except services.ImportStateError as exc:
        messages.error(request, str(exc))
        return _back(request, import_run)
    messages.success(request, f"Import confirmed: job {job.pk} is sending {job.total} record(s).")
    return redirect("jobs:detail", pk=job.pk)


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_discard(request: HttpRequest, pk: int) -> HttpResponse:
    import_run = get_object_or_404(Import, pk=pk)
    try:
        services.import_discard(import_run=import_run, user=request.user)
        messages.success(request, f"Import {import_run.pk} discarded; nothing was sent.")
    except services.ImportStateError as exc:
        messages.error(request, str(exc))
        return _back(request, import_run)
    return redirect("imports:list")


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_invalid_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    import_run = get_object_or_404(Import, pk=pk)
    rows = import_rows(import_run=import_run, kind=RowKind.INVALID).iterator(chunk_size=2000)
    width = import_invalid_width(import_run=import_run)
    response = StreamingHttpResponse(
        invalid_csv_lines(rows, import_run.header, import_run.delimiter, width=width),
        content_type="text/csv; charset=utf-8",
    )
    stem = import_run.original_name.rsplit(".", 1)[0] or "import"
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)[:80]
    response["Content-Disposition"] = f'attachment; filename="{safe}-invalid-rows.csv"'
    return response


@require_POST
@require_capability(Capability.MANAGE_IMPORTS)
def import_fix_cell(request: HtmxHttpRequest, pk: int, number: int) -> HttpResponse:
    """Fix one cell of an invalid preview row.

    With htmx the answer is the row in its new class, with the counts, the tabs, the confirm
    bar and any other row of the page that the fix changed (a repeated identifier) out of
    band; without, the page again at the row.
    """
    import_run = get_object_or_404(Import.objects.select_related("connection", "job"), pk=pk)
    kind = request.POST.get("rows", "")
    kind = kind if kind in RowKind.values else ""
    page = Paginator(import_rows(import_run=import_run, kind=kind), PAGE_SIZE).get_page(
        request.POST.get("page")
    )
    # The page's rows as shown, to tell which the fix changed.
    shown = {row.number: (row.kind, row.errors) for row in page.object_list}
    form = FixCellForm(request.POST)
    fixed: ImportRow | None = None
    error = ""
    if not form.is_valid():
        error = "Choose a cell of the row and type its new value."
    else:
        try:
            fixed = services.import_fix_cell(
                import_run=import_run,
                number=number,
                column=form.cleaned_data["column"],
                value=form.cleaned_data["value"],
                user=request.user,
            )
        except services.ImportStateError as exc:
            error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif fixed is not None:
            still_invalid = fixed.kind == RowKind.INVALID
            said = _fix_status(fixed, import_run.header, [])
            (messages.warning if still_invalid else messages.success)(request, said)
        back = {"rows": kind} if kind else {}
        if page.number > 1:
            back["page"] = str(page.number)
        url = reverse("imports:detail", args=[import_run.pk])
        query = f"?{urlencode(back)}" if back else ""
        return redirect(f"{url}{query}#row-{number}")
    import_run.refresh_from_db()
    row = fixed or import_rows(import_run=import_run).filter(number=number).first()
    if row is None:
        # No row to show the message beside: the page shows it as an alert.
        return HttpResponse(error, status=409, content_type="text/plain; charset=utf-8")
    fields = import_fields(connection=import_run.connection)
    labels, key_columns = _labels(import_run, fields), _key_columns(import_run, fields)
    # Shown as the page shows rows: dates as a person reads them, account names beside ids.
    names, date_paths = _import_lookups(import_run, fields).names(), _date_paths(fields)
    refused = None
    if error and form.is_valid():
        refused = {**form.cleaned_data, "message": error}
    item = _fix_controls(
        _display(row, import_run, labels, names, date_paths), import_run, key_columns, refused
    )
    shows_error = any(fix["error"] for fix in item["fixes"])
    item["focus"] = not shows_error  # else the refused value's box has the focus
    others = [
        other
        for other in import_rows(import_run=import_run).filter(number__in=shown)
        if other.number != number and (other.kind, other.errors) != shown[other.number]
    ]
    stale = import_is_stale(import_run=import_run)
    status = "" if shows_error else error or _fix_status(row, import_run.header, others)
    if stale and not error:
        status += " The preview is out of date: refresh it before confirming (it keeps your fixes)."
    context = {
        "import_run": import_run,
        "connection": import_run.connection,
        "item": item,
        "changed_rows": [
            _fix_controls(
                _display(other, import_run, labels, names, date_paths), import_run, key_columns
            )
            for other in others
        ],
        "date_questions": services.import_date_questions(import_run=import_run),
        "tabs": _tabs(import_run, kind),
        "kind": kind,
        "page": page,
        "stale": stale,
        "fix_status": status,
    }
    return render(
        request, "imports/detail.html#fix_response", context, status=422 if error else 200
    )


def _fix_status(row: ImportRow, header: list[str], others: list[ImportRow]) -> str:
    """What a fix did, in a sentence for the page (and a screen reader)."""
    outcome = {
        RowKind.CREATE: "it will create a recipient",
        RowKind.UPDATE: "it will update the recipient",
        RowKind.UNCHANGED: "it is already the same at the provider and is not sent",
    }
    if row.kind == RowKind.INVALID:
        said = f"Row {row.number} is still invalid: {row_error_text(row, header)}"
    else:
        said = f"Row {row.number} fixed: {outcome[RowKind(row.kind)]}."
    for other in others:
        said += f" Row {other.number} is now {other.get_kind_display().lower()}."
    return said
