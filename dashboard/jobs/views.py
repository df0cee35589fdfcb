from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from dashboard.accounts.permissions import has_capability, require_capability
from dashboard.accounts.roles import Capability
from dashboard.core.http import HtmxHttpRequest
from dashboard.imports.selectors import import_of_job
from dashboard.jobs import selectors, services, waiting
from dashboard.jobs.exports import errors_csv_lines
from dashboard.jobs.forms import AcknowledgeForm, JobFilterForm
from integrations.catalogue import Provider
from integrations.models import Connection, ItemStatus, SyncJob

JOBS_PER_PAGE = 50
ITEMS_PER_PAGE = 100


def _job_or_404(pk: int) -> SyncJob:
    job = selectors.job_get(pk=pk)
    if job is None:
        raise Http404("No such job.")
    return job


@require_GET
@require_capability(Capability.VIEW_JOBS)
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    connections = list(Connection.objects.values_list("pk", "name"))
    form = JobFilterForm(request.GET, connections=connections)
    form.is_valid()
    filters = form.valid_filters()
    page = Paginator(selectors.job_list(**filters), JOBS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "form": form,
        "errors": form.error_messages(),
        "connections": connections,
        "starters": selectors.job_starters(),
        "filters": {name: request.GET.get(name, "").strip() for name in form.fields},
        "filtered": any(v for k, v in filters.items() if k != "sort"),
        "query": query.urlencode(),
    }
    template = "jobs/list.html#results" if request.htmx else "jobs/list.html"
    return render(request, template, context)


def _detail_context(
    request: HttpRequest, job: SyncJob, *, ack_form: AcknowledgeForm | None = None
) -> dict[str, object]:
    counts = selectors.job_item_counts(job=job)
    pruned = selectors.job_items_pruned(job=job) if job.is_finished else None
    item_status = request.GET.get("items", "")
    notice = ""
    if item_status and item_status not in ItemStatus.values:
        notice = "There is no item status with that name; showing every item."
        item_status = ""
    page = selectors.job_item_page(
        job=job,
        status=item_status,
        count=counts[item_status] if item_status else sum(counts.values()),
        after=_cursor(request.GET.get("after")),
        before=_cursor(request.GET.get("before")),
        last=request.GET.get("page") == "last",
        per_page=ITEMS_PER_PAGE,
    )
    # A record's remote id links to the person's page for those who may look people up (a
    # deleted connection has no people to open).
    connection = job.connection
    resolved = waiting.items_resolved_by_retry(items=page.items)
    for item in page.items:
        item.resolved_by = resolved.get(item.pk)  # type: ignore[attr-defined]
    if (
        connection is not None
        and connection.provider_enum is not Provider.PARCELVOY
        and has_capability(request.user, Capability.SEARCH_RECIPIENTS)
    ):
        for item in page.items:
            # For the template only: not a field of the model.
            url = _recipient_url(connection.pk, item.remote_id)
            item.recipient_url = url  # type: ignore[attr-defined]
    query = request.GET.copy()
    for cursor in ("page", "after", "before"):
        query.pop(cursor, None)
    retried_as = selectors.job_retried_as(job=job)
    return {
        "job": job,
        "progress": selectors.job_progress(job=job),
        "retried_as": retried_as,
        "resolved_by_retries": waiting.job_resolved_by_retries(job=job) if retried_as else 0,
        "waiting_hint": waiting.job_waiting_hint(job=job),
        "items_waiting": waiting.job_items_waiting(job=job),
        "source_import": import_of_job(job=job),
        "tabs": selectors.job_item_tabs(counts=counts, current=item_status),
        "item_status": item_status,
        "item_notice": notice,
        "page": page,
        "query": query.urlencode(),
        "page_links": _page_links(request.path, query.urlencode(), page),
        "n_failed_items": counts.get(ItemStatus.FAILED, 0),
        "n_unsent_items": counts.get(ItemStatus.SKIPPED, 0),
        # Pruned records cannot be sent again nor listed (their counts stay).
        "retryable": 0
        if pruned
        else counts.get(ItemStatus.FAILED, 0)
        + counts.get(ItemStatus.SKIPPED, 0)
        + counts.get(ItemStatus.UNKNOWN, 0),
        "pruned": pruned,
        "retention_days": settings.RETENTION_DAYS,
        "ack_form": ack_form or AcknowledgeForm(),
    }


def _page_links(path: str, query: str, page: selectors.ItemPage) -> dict[str, str]:
    """The addresses of the first, previous, next and last pages of records (same tab)."""

    def link(cursor: str) -> str:
        parts = [part for part in (query, cursor) if part]
        return f"{path}?{'&'.join(parts)}" if parts else path

    return {
        "first": link(""),
        "previous": link(f"before={page.before}"),
        "next": link(f"after={page.after}"),
        "last": link("page=last"),
    }


def _cursor(value: str | None) -> int | None:
    """A page cursor (an item's ``seq``) from the address; anything else is no cursor."""
    if value is None or not value.isdigit() or len(value) > 10:
        return None
    return int(value)


def _recipient_url(connection_id: int, remote_id: str) -> str:
    if not remote_id:
        return ""
    try:
        return reverse("recipients:detail", args=[connection_id, remote_id])
    except NoReverseMatch:  # an id the address cannot carry (a "/"): shown, not linked
        return ""


@require_GET
@require_capability(Capability.VIEW_JOBS)
def job_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    if request.htmx and request.htmx.target == "progress":
        context = {
            "job": job,
            "progress": selectors.job_progress(job=job),
            "waiting_hint": waiting.job_waiting_hint(job=job),
            "items_waiting": waiting.job_items_waiting(job=job),
        }
        if not job.is_finished:
            return render(request, "jobs/detail.html#progress", context)
        # 286 stops htmx polling; the event makes app.js reload the page once, so the
        # header, the buttons and the item table show the final state too.
        response = HttpResponseStopPolling(
            render_to_string("jobs/detail.html#progress", context, request)
        )
        return trigger_client_event(response, "job-finished")
    return render(request, "jobs/detail.html", _detail_context(request, job))


@require_GET
@require_capability(Capability.VIEW_JOBS)
def job_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = _job_or_404(pk)
    response = StreamingHttpResponse(
        errors_csv_lines(selectors.job_unsent_items(job=job)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-errors.csv"'
    return response


def _steer(
    request: HttpRequest,
    pk: int,
    action: Callable[..., SyncJob],
    done: Callable[[SyncJob, SyncJob], str],
) -> HttpResponse:
    job = _job_or_404(pk)
    try:
        result = action(job=job, user=request.user)
    except services.JobStateError as exc:
        messages.error(request, str(exc))
        return redirect("jobs:detail", pk=job.pk)
    messages.success(request, done(job, result))
    return redirect("jobs:detail", pk=result.pk)


@require_POST
@require_capability(Capability.MANAGE_JOBS)
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        services.job_cancel,
        lambda job, _: (
            f"Job {job.pk} is stopping: calls already made finish and are recorded; "
            "nothing more is sent."
        ),
    )


@require_POST
@require_capability(Capability.MANAGE_JOBS)
def job_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        services.job_pause,
        lambda job, _: f"Job {job.pk} is pausing after the calls in flight. Resume it any time.",
    )


@require_POST
@require_capability(Capability.MANAGE_JOBS)
def job_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _steer(
        request, pk, services.job_resume, lambda job, _: f"Job {job.pk} is queued to go on."
    )


@require_POST
@require_capability(Capability.MANAGE_JOBS)
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        services.job_retry_failed,
        lambda job, retry: (
            f"Retrying {retry.total} failed or unsent items of job {job.pk} as job {retry.pk}."
        ),
    )


@require_POST
@require_capability(Capability.ACKNOWLEDGE_JOBS)
def job_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(pk)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, job, ack_form=form)
        return render(request, "jobs/detail.html", context, status=422)
    try:
        services.job_acknowledge(job=job, user=request.user, comment=form.cleaned_data["comment"])
    except services.JobStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Job {job.pk} acknowledged.")
    return redirect("jobs:detail", pk=job.pk)
