from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from dashboard.accounts.permissions import has_capability, require_capability
from dashboard.accounts.roles import Capability
from dashboard.campaigns import selectors as campaign_selectors
from dashboard.core.http import HtmxHttpRequest
from dashboard.recipients import selectors, services
from dashboard.recipients.fields import (
    RecipientField,
    comparison_rows,
    display_field_value,
    recipient_fields,
    recipient_version,
)
from dashboard.recipients.forms import DeleteForm, RecipientForm
from integrations.clients import (
    Conflict,
    FieldNotEnabled,
    Invalid,
    NotFound,
    ProviderError,
    Recipient,
)
from integrations.models import Connection, MirroredRecipient
from integrations.recipients import field_value

RESULTS_PER_PAGE = 25
SEARCH_HINT = "Name, email, external id, phone or id"


def _connection_or_404(pk: int) -> Connection:
    connection = get_object_or_404(Connection, pk=pk)
    if connection.provider not in selectors.SEARCH_PROVIDERS:
        raise Http404("Campaign connections have no recipients.")
    return connection


def _mirror_row_or_404(connection: Connection, remote_id: str) -> MirroredRecipient:
    row = selectors.mirror_recipient_get(connection=connection, remote_id=remote_id)
    if row is None:
        raise Http404("No such recipient in the mirror. Refresh the mirror and search again.")
    return row


# -- search -----------------------------------------------------------------------------------


@require_GET
@require_capability(Capability.SEARCH_RECIPIENTS)
def recipient_search_all(request: HtmxHttpRequest) -> HttpResponse:
    """Search every searchable connection: the support staff's home."""
    return _search(request, connection=None)


@require_GET
@require_capability(Capability.SEARCH_RECIPIENTS)
def recipient_search(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _search(request, connection=_connection_or_404(pk))


def _search(request: HtmxHttpRequest, *, connection: Connection | None) -> HttpResponse:
    # The results as typed, sent on every keystroke pause, show no mirror status: they need
    # no running pull, and no context processor runs for them (the navigation and the user's
    # roles are not shown).
    results_only = bool(request.htmx and request.htmx.target == "results")
    connections = (
        [connection]
        if connection
        else selectors.searchable_connection_list(with_running_pull=not results_only)
    )
    if request.htmx and request.htmx.target == "mirror-status":
        return _mirror_status_poll(request, connection, connections)
    # Free text: cleaning it (control characters out, spaces collapsed, length capped) is
    # all the validation it needs; a form would refuse a NUL and search for everyone instead.
    query = selectors.search_query_clean(request.GET.get("q", ""))
    page = selectors.recipient_search_page(
        query=query,
        connections=connections,
        page=request.GET.get("page"),
        per_page=RESULTS_PER_PAGE,
    )
    context: dict[str, Any] = {
        "connection": connection,
        "query": query,
        "page": page,
        "rows": _result_rows(page.rows),
        "q_param": urlencode({"q": query}) if query else "",
        "search_url": request.path,
        "search_hint": SEARCH_HINT,
    }
    if results_only:
        return HttpResponse(get_template("recipients/search.html#results").render(context))
    statuses = selectors.mirror_statuses(connections=connections)
    context |= {
        "statuses": statuses,
        "refreshing": any(status.running for status in statuses),
        "can_create": connection is not None
        and connection.is_active
        and has_capability(request.user, Capability.CREATE_DELETE_RECIPIENTS),
    }
    return render(request, "recipients/search.html", context)


# What reverse() leaves unescaped in a path segment (RFC 3986 pchar, less "/", which would
# start another segment).
PATH_SEGMENT_SAFE = "!$&'()*+,;=~:@"


def _result_rows(rows: list[selectors.ResultRow]) -> list[dict[str, str]]:
    """The results table's cells, as the template shows them (it escapes them), with each
    row's detail page address.

    Plain dictionaries: the template engine reads a dictionary key at its first try, where an
    attribute costs it a failed ``[]`` lookup first; with the defaults applied here the rows
    render in about half the time (they were most of the cost of a page of results).
    """
    return [
        {
            "url": url,
            "name": f"{row.first_name} {row.last_name}"
            if row.first_name or row.last_name
            else "(no name)",
            "email": row.email or NO_VALUE,
            "external_id": row.external_id or NO_VALUE,
            "phone": row.phone or NO_VALUE,
            "connection": row.connection.name,
        }
        for row, url in _with_detail_urls(rows)
    ]


def _with_detail_urls(
    rows: Sequence[selectors.ResultRow | MirroredRecipient],
) -> list[tuple[Any, str]]:
    """Each row with its detail page's address: one reverse() per connection, not per row.

    Reversing a URL per row was most of the cost of rendering a page of results. A detail
    page's address is its connection's search address plus the remote id (``urls.py``).
    """
    prefixes: dict[int, str] = {}
    for row in rows:
        if row.connection_id not in prefixes:
            prefixes[row.connection_id] = reverse("recipients:search", args=[row.connection_id])
    return [
        (row, f"{prefixes[row.connection_id]}{quote(row.remote_id, safe=PATH_SEGMENT_SAFE)}/")
        for row in rows
    ]


NO_VALUE = "—"


def _mirror_status_poll(
    request: HttpRequest, connection: Connection | None, connections: list[Connection]
) -> HttpResponse:
    statuses = selectors.mirror_statuses(connections=connections)
    refreshing = any(status.running for status in statuses)
    context = {
        "statuses": statuses,
        "refreshing": refreshing,
        "connection": connection,
        "search_url": request.path,
    }
    if refreshing:
        return render(request, "recipients/search.html#mirror-status", context)
    # The refresh has ended: 286 stops the polling and app.js reloads the page once, so the
    # results come from the refreshed mirror.
    response = HttpResponseStopPolling(
        render_to_string("recipients/search.html#mirror-status", context, request)
    )
    return trigger_client_event(response, "job-finished")


# -- detail -----------------------------------------------------------------------------------


@require_GET
@require_capability(Capability.SEARCH_RECIPIENTS)
def recipient_detail(request: HttpRequest, pk: int, remote_id: str) -> HttpResponse:
    connection = _connection_or_404(pk)
    row = _mirror_row_or_404(connection, remote_id)
    mirror = selectors.mirror_as_recipient(row)
    live = _live_or_reason(connection, row, with_accounts=True)
    rows = comparison_rows(
        connection=connection,
        live=live.recipient,
        mirror=mirror,
        accounts=dict(live.accounts or []),
    )
    shown = [r for r in rows if r.live or r.mirror]
    context = {
        "connection": connection,
        "row": row,
        "live": live,
        "rows": shown,
        "empty_rows": [r for r in rows if not (r.live or r.mirror)],
        "n_differ": sum(r.differs for r in shown),
        "live_modified": live.recipient.modified_at if live.recipient else None,
        "items": selectors.recipient_sync_items(
            connection=connection, email=row.email, remote_id=row.remote_id
        ),
        "provider": selectors.provider_label(connection),
        "can_edit": _writable(connection, row)
        and has_capability(request.user, Capability.EDIT_RECIPIENTS),
        "can_delete": _writable(connection, row)
        and has_capability(request.user, Capability.CREATE_DELETE_RECIPIENTS),
        "can_send_test": has_capability(request.user, Capability.SEND_TEST_CAMPAIGNS),
        "test_sends": campaign_selectors.test_sends_for_recipient(
            email=row.email, external_id=row.external_id
        )[:20],
    }
    return render(request, "recipients/detail.html", context)


def _writable(connection: Connection, row: MirroredRecipient) -> bool:
    return connection.is_active and row.gone_at is None


def _live_or_reason(
    connection: Connection, row: MirroredRecipient, *, with_accounts: bool = False
) -> selectors.LiveRecord:
    """The live record, or why it is not fetched (a disabled connection sends nothing)."""
    if not connection.is_active:
        return selectors.LiveRecord(
            problem="This connection is disabled: nothing is sent to or fetched from "
            "the provider. The mirror's copy is shown.",
            blocked=True,
        )
    if row.gone_at is not None:
        return selectors.LiveRecord(
            problem=f"This recipient was no longer at {selectors.provider_label(connection)} "
            f"when the mirror was refreshed on {row.gone_at:%d %b %Y, %H:%M}.",
            gone=True,
        )
    return selectors.recipient_live_get(
        connection=connection, remote_id=row.remote_id, with_accounts=with_accounts
    )


# -- edit -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_capability(Capability.EDIT_RECIPIENTS)
def recipient_edit(request: HttpRequest, pk: int, remote_id: str) -> HttpResponse:
    connection = _connection_or_404(pk)
    row = _mirror_row_or_404(connection, remote_id)
    live = _live_or_reason(connection, row, with_accounts=True)
    fields_info = recipient_fields(connection=connection, mode="edit")
    context: dict[str, Any] = {
        "connection": connection,
        "row": row,
        "provider": selectors.provider_label(connection),
        "mode": "edit",
    }
    current = live.recipient
    if current is None:
        # Editing starts from the live record. Without it, say why; after a POST keep what
        # was typed (nothing is sent) so the user can try again once the provider answers.
        form = RecipientForm(
            request.POST or None,
            connection=connection,
            fields_info=fields_info,
            mode="edit",
            current=selectors.mirror_as_recipient(row).fields,
            accounts=live.accounts,
        )
        context |= {
            "form": form,
            "problem": live.problem
            + (
                " Nothing was sent."
                if request.method == "POST"
                else " Editing starts from the live record: try again once it can be fetched."
            ),
            "show_form": request.method == "POST" and not live.gone and not live.blocked,
        }
        if request.method == "POST":
            form.is_valid()
            return render(request, "recipients/form.html", context, status=_problem_status(live))
        return render(request, "recipients/form.html", context)
    form = RecipientForm(
        request.POST or None,
        connection=connection,
        fields_info=fields_info,
        mode="edit",
        current=current.fields,
        accounts=live.accounts,
        version=recipient_version(current),
    )
    context |= {"form": form, "show_form": True}
    if request.method == "GET" or not form.is_valid():
        status = 422 if request.method == "POST" else 200
        return render(request, "recipients/form.html", context, status=status)
    changes = form.changes()
    try:
        services.recipient_update(
            connection=connection,
            remote_id=row.remote_id,
            changes=changes,
            current=current,
            opened_version=form.cleaned_data["version"],
            user=request.user,
        )
    except services.RecipientChanged as exc:
        return _render_conflict(request, context, form, exc.current)
    except ProviderError as exc:
        return _render_save_error(request, context, form, exc, live_label=context["provider"])
    if changes:
        labels = ", ".join(_labels(fields_info, changes))
        messages.success(request, f"Saved at {context['provider']}: {labels}.")
    else:
        messages.info(request, "Nothing was changed, so nothing was sent.")
    return redirect("recipients:detail", pk=connection.pk, remote_id=row.remote_id)


def _labels(fields_info: list[RecipientField], changes: dict[str, Any]) -> list[str]:
    labels = {info.path: info.spec.label for info in fields_info}
    return [labels.get(path, path) for path in changes]


def _problem_status(live: selectors.LiveRecord) -> int:
    return 404 if live.gone else 503


def _render_save_error(
    request: HttpRequest,
    context: dict[str, Any],
    form: RecipientForm,
    exc: ProviderError,
    *,
    live_label: str,
) -> HttpResponse:
    """A refused or failed save: the message beside the field it names, the input kept."""
    status = 422
    if isinstance(exc, FieldNotEnabled):
        for path in exc.paths:
            form.add_error(None, f"{path} is disabled in field settings: it was not sent.")
    elif isinstance(exc, Invalid):
        form.apply_provider_errors(exc.field_errors, exc.message)
    elif isinstance(exc, Conflict):
        status = 409
        message = (
            "Another recipient already uses this email address."
            if "email" in form.fields
            else exc.message
        )
        form.add_error("email" if "email" in form.fields else None, message)
        if "email" in form.fields and exc.message != message:
            form.add_error(None, exc.message)
    elif isinstance(exc, NotFound):
        status = 404
        context["problem"] = (
            f"{live_label} no longer has this recipient: it was deleted there meanwhile. "
            "Nothing was saved."
        )
        context["show_form"] = False
    else:
        status = 503
        context["problem"] = (
            selectors.provider_problem(exc, live_label)
            + " Your changes may not have been saved: open the recipient again to check "
            "before retrying."
        )
    return render(request, "recipients/form.html", context, status=status)


def _render_conflict(
    request: HttpRequest, context: dict[str, Any], form: RecipientForm, fresh: Recipient
) -> HttpResponse:
    """Someone changed the record meanwhile: show both versions, let the user choose.

    "Keep mine" submits the same form again, now remembering the fresh version, so only the
    fields this user changed are sent; "Take theirs" reopens the form from the live record.
    """
    data = form.rebased(fresh.fields)
    data["version"] = recipient_version(fresh)
    rebound = RecipientForm(
        data,
        connection=form.connection,
        fields_info=form.fields_info,
        mode="edit",
        current=fresh.fields,
        accounts=form.accounts,
        version=recipient_version(fresh),
    )
    rebound.is_valid()
    mine = form.changes()
    rows = []
    for info in form.editable:
        opened = form.opened_value(info)
        theirs = field_value(form.provider, fresh.fields, info.path)
        changed_here = info.path in mine
        changed_there = form.changed_since_opened(info, fresh.fields)
        if changed_here or changed_there:
            rows.append(
                {
                    "label": info.spec.label,
                    "opened": display_field_value(info.spec, opened),
                    "mine": display_field_value(info.spec, mine[info.path]) if changed_here else "",
                    "theirs": display_field_value(info.spec, theirs),
                    "changed_here": changed_here,
                    "changed_there": changed_there,
                    "clash": changed_here and changed_there,
                }
            )
    context |= {"form": rebound, "conflict": rows, "fresh_modified": fresh.modified_at}
    return render(request, "recipients/form.html", context, status=409)


# -- create and delete ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require_capability(Capability.CREATE_DELETE_RECIPIENTS)
def recipient_new(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection_or_404(pk)
    provider = selectors.provider_label(connection)
    context: dict[str, Any] = {
        "connection": connection,
        "provider": provider,
        "mode": "create",
        "show_form": True,
    }
    accounts = None
    if not connection.is_active:
        context |= {
            "problem": "This connection is disabled: nothing is sent to the provider.",
            "show_form": False,
        }
    elif connection.provider == "snappy":
        # Snappy needs at least one account: offer the company's accounts to pick from.
        listing = selectors.connection_accounts(connection=connection)
        accounts = listing.accounts
        if listing.blocked or accounts is None:
            problem = listing.problem or "Snappy did not list the company's accounts."
            context |= {"problem": problem + " Try again later.", "show_form": False}
    fields_info = recipient_fields(connection=connection, mode="create")
    form = RecipientForm(
        request.POST or None,
        connection=connection,
        fields_info=fields_info,
        mode="create",
        accounts=accounts,
    )
    context["form"] = form
    context["missing_required"] = [
        info.spec.label for info in fields_info if info.spec.required_on_create and not info.enabled
    ]
    if request.method == "GET" or not context["show_form"]:
        status = 503 if request.method == "POST" else 200
        return render(request, "recipients/form.html", context, status=status)
    if not form.is_valid():
        return render(request, "recipients/form.html", context, status=422)
    try:
        created = services.recipient_create(
            connection=connection, changes=form.changes(), user=request.user
        )
    except ProviderError as exc:
        return _render_save_error(request, context, form, exc, live_label=provider)
    messages.success(request, f"Created {created.email or created.display_name} at {provider}.")
    return redirect("recipients:detail", pk=connection.pk, remote_id=created.remote_id)


@require_http_methods(["GET", "POST"])
@require_capability(Capability.CREATE_DELETE_RECIPIENTS)
def recipient_delete(request: HttpRequest, pk: int, remote_id: str) -> HttpResponse:
    connection = _connection_or_404(pk)
    row = _mirror_row_or_404(connection, remote_id)
    if not _writable(connection, row):
        raise Http404("This recipient cannot be deleted here: it is gone or the connection is off.")
    expected = row.email or row.remote_id
    form = DeleteForm(request.POST or None, expected=expected)
    context: dict[str, Any] = {
        "connection": connection,
        "row": row,
        "form": form,
        "expected": expected,
        "provider": selectors.provider_label(connection),
    }
    if request.method == "POST" and form.is_valid():
        try:
            services.recipient_delete(connection=connection, row=row, user=request.user)
        except ProviderError as exc:
            context["problem"] = (
                selectors.provider_problem(exc, context["provider"]) + " Nothing was deleted."
            )
            return render(request, "recipients/delete.html", context, status=503)
        messages.success(request, f"Deleted {expected} at {context['provider']}.")
        return redirect(reverse("recipients:search", args=[connection.pk]))
    status = 422 if request.method == "POST" else 200
    return render(request, "recipients/delete.html", context, status=status)
