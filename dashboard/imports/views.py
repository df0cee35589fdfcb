from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from dashboard.accounts.permissions import require_capability
from dashboard.accounts.roles import Capability
from dashboard.core.http import HtmxHttpRequest
from dashboard.imports import services
from dashboard.imports.exports import invalid_csv_lines
from dashboard.imports.forms import ReadingForm, UploadForm
from dashboard.imports.models import Import, ImportRow, ImportStatus, RowKind
from dashboard.imports.selectors import (
    import_fields,
    import_invalid_width,
    import_is_stale,
    import_rows,
)
from dashboard.imports.upload import SizeCappedUploadHandler
from dashboard.recipients.fields import display_value
from integrations.catalogue import FieldSpec, catalogue
from integrations.importing.mapping import (
    ENTRY_MEMBERS,
    disabled_matches,
    entry_member,
    mapping_problems,
)
from integrations.importing.reading import ImportFileError

PAGE_SIZE = 50
DEMO_SAMPLE = Path(__file__).resolve().parent / "demo" / "messy-new-starters.csv"


@require_GET
@require_capability(Capability.MANAGE_IMPORTS)
def import_sample_csv(request: HttpRequest) -> FileResponse:
    """The messy sample file the demo ships, to try an upload with (the upload page links it)."""
    return FileResponse(
        DEMO_SAMPLE.open("rb"),
        as_attachment=True,
        filename=DEMO_SAMPLE.name,
        content_type="text/csv",
    )


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


def _shown(path: str, value: Any) -> Any:
    """A list (custom list tag) or an entry (``education``) in words; others as they are.

    An entry's members are shown in the documented order: PostgreSQL's ``jsonb`` keeps an
    object's keys in its own order.
    """
    if isinstance(value, dict) and path in ENTRY_MEMBERS:
        documented = [member.name for member in ENTRY_MEMBERS[path] if member.name in value]
        value = {name: value[name] for name in documented}
    if isinstance(value, list | dict):
        return display_value(value) or None
    return value


def _display(row: ImportRow, import_run: Import, labels: dict[str, str]) -> dict[str, Any]:
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
            "old": _shown(path, old),
            "new": _shown(path, new),
        }
        for path, (old, new) in row.changes.items()
    ]
    return {"row": row, "problems": problems, "changes": changes}


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
    samples = _samples(import_run, first_row)
    rows = []
    for index, (title, entry) in enumerate(zip(import_run.header, import_run.mapping, strict=True)):
        sample = samples[index] if index < len(samples) else ""
        row = {"index": index, "title": title, "sample": sample, **entry}
        if not entry.get("path") and index in disabled:
            row["disabled_field"] = disabled[index].label
        rows.append(row)
    return rows


def _detail_context(request: HttpRequest, import_run: Import) -> dict[str, Any]:
    kind = request.GET.get("rows", "")
    kind = kind if kind in RowKind.values else ""
    rows = import_rows(import_run=import_run, kind=kind)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    fields = import_fields(connection=import_run.connection)
    labels = _labels(import_run, fields)
    first = import_rows(import_run=import_run).first()
    problems = mapping_problems(import_run.mapped_paths, fields)
    return {
        "import_run": import_run,
        "connection": import_run.connection,
        "fields": fields,
        "field_groups": _field_groups(fields),
        "has_custom": any(spec.custom for spec in fields),
        "has_entries": any(entry_member(spec.path) for spec in fields),
        "mapping_rows": _mapping_rows(import_run, first, fields),
        "mapping_problems": problems,
        "reading_form": ReadingForm(
            initial={"encoding": import_run.encoding, "delimiter": import_run.delimiter}
        ),
        "tabs": _tabs(import_run, kind),
        "kind": kind,
        "page": page,
        "query": f"rows={kind}" if kind else "",
        "display_rows": [_display(row, import_run, labels) for row in page.object_list],
        "stale": import_run.status == ImportStatus.PREVIEWED
        and import_is_stale(import_run=import_run),
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
            messages.success(request, "File read again with the new settings.")
        except services.ImportStateError as exc:
            messages.error(request, str(exc))
    return _back(request, import_run)


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
