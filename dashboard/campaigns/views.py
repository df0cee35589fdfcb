from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from dashboard.accounts.permissions import require_capability
from dashboard.accounts.roles import Capability
from dashboard.campaigns import selectors, services
from dashboard.campaigns.forms import AllowlistEntryForm, TestSendForm, campaign_connections
from dashboard.campaigns.models import AllowlistEntry, Channel, Outcome
from dashboard.campaigns.validation import timezone_names
from dashboard.core.http import HtmxHttpRequest
from integrations.catalogue import Provider
from integrations.models import Connection, MirroredRecipient

TEMPLATE = "campaigns/test_send.html"
PAGE_SIZE = 20
# Form data never carried over to the next send: a new send needs a new preview and id.
ONE_SHOT_KEYS = ("request_id", "previewed", "confirm_outside", "action", "csrfmiddlewaretoken")


@require_http_methods(["GET", "POST"])
@require_capability(Capability.SEND_TEST_CAMPAIGNS)
def test_send(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "GET":
        if getattr(request, "htmx", False) and request.htmx.target == "test-send-history":
            return _render(request, TestSendForm(), partial="history")
        return _render(request, TestSendForm(initial=_prefill(request)))

    form = TestSendForm(request.POST)
    if not form.is_valid():
        return _render(request, form, notice="Nothing was sent. Correct the fields marked below.")
    data = form.send_data()
    preview = services.test_send_preview(data=data)
    if request.POST.get("action") != "send":
        return _render(request, form, preview=preview, status=200)
    if request.POST.get("previewed") != preview.digest:
        return _render(
            request,
            form,
            preview=preview,
            notice="The form changed after the preview. Check the request below, then send.",
        )
    confirmed = request.POST.get("confirm_outside", "") == preview.address
    try:
        result = services.test_send_perform(
            data=data,
            request_id=form.cleaned_data["request_id"],
            user=request.user,
            confirmed_outside=confirmed,
        )
    except services.ConfirmationNeeded as exc:
        return _render(request, form, preview=preview, confirm_error=str(exc))
    except services.TestSendRefused as exc:
        return _render(request, form, preview=preview, notice=str(exc))

    # The next send starts from the same values with a fresh form id and no preview.
    next_data = request.POST.copy()
    for key in ONE_SHOT_KEYS:
        next_data.pop(key, None)
    next_data["request_id"] = str(uuid.uuid4())
    next_form = TestSendForm(next_data)
    next_form.is_valid()
    sent = result.test_send
    if sent.reply_field and sent.reply_field in next_form.fields:
        next_form.add_error(sent.reply_field, sent.reply_message)
    response = _render(request, next_form, result=sent, duplicate=result.duplicate, status=200)
    return trigger_client_event(response, "test-sent")


@require_GET
@require_capability(Capability.SEND_TEST_CAMPAIGNS)
def people(request: HttpRequest) -> HttpResponse:
    """Search the recipient mirrors to fill the form (htmx: the results only)."""
    query = request.GET.get("q", "")
    if getattr(request, "htmx", False):
        return render(
            request,
            f"{TEMPLATE}#people-results",
            {"people": selectors.people_search(query=query), "person_query": query},
        )
    return _render(
        request,
        TestSendForm(initial=_prefill(request)),
        people=selectors.people_search(query=query),
        person_query=query,
    )


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """Initial values from the query string: ``connection``, ``mirror`` or the fields."""
    initial: dict[str, Any] = {"timezone": selectors.default_timezone(user=request.user)}
    connections = campaign_connections()
    connection_id = request.GET.get("connection", "")
    if connection_id.isdigit() and connections.filter(pk=connection_id).exists():
        initial["connection"] = int(connection_id)
    elif len(connections) == 1:
        initial["connection"] = connections[0].pk
    mirror_id = request.GET.get("mirror", "")
    if mirror_id.isdigit():
        person = MirroredRecipient.objects.filter(pk=mirror_id).first()
        if person is not None:
            initial.update(email=person.email, external_id=person.external_id, phone=person.phone)
    for key in ("email", "external_id", "phone", "campaign_id"):
        if request.GET.get(key):
            initial[key] = request.GET[key].strip()[:320]
    if request.GET.get("channel") in Channel.values:
        initial["channel"] = request.GET["channel"]
    elif not initial.get("email") and initial.get("phone"):
        initial["channel"] = Channel.SMS
    return initial


def _render(
    request: HttpRequest,
    form: TestSendForm,
    *,
    partial: str = "",
    status: int | None = None,
    **extra: Any,
) -> HttpResponse:
    connections = list(campaign_connections())
    is_htmx = bool(getattr(request, "htmx", False))
    if partial == "" and is_htmx and request.method == "POST":
        partial = "send-panel"
    context: dict[str, Any] = {
        "form": form,
        "connections": connections,
        "connection_info": {
            str(c.pk): {"environment": c.environment, "label": c.get_environment_display()}
            for c in connections
        },
        "selected_connection": _selected_connection(form, connections),
        "remembered": selectors.remembered_campaigns(
            connections=Connection.objects.filter(pk__in=[c.pk for c in connections])
        ),
        "timezones": timezone_names(),
        **extra,
    }
    if partial in ("", "history"):
        context.update(_history_context(request))
    if status is None:
        status = 422 if (form.is_bound and form.errors) or extra.get("notice") else 200
        if extra.get("confirm_error"):
            status = 422
    template = f"{TEMPLATE}#{partial}" if partial else TEMPLATE
    return render(request, template, context, status=status)


def _selected_connection(form: TestSendForm, connections: list[Connection]) -> Connection | None:
    raw = form["connection"].value()
    return next((c for c in connections if str(c.pk) == str(raw)), None)


def _history_context(request: HttpRequest) -> dict[str, Any]:
    raw_connection = request.GET.get("f_connection", "")
    connection_id = int(raw_connection) if raw_connection.isdigit() else None
    channel = request.GET.get("f_channel", "")
    channel = channel if channel in Channel.values else ""
    outcome = request.GET.get("f_outcome", "")
    outcome = outcome if outcome in Outcome.values else ""
    sends = selectors.test_send_list(connection_id=connection_id, channel=channel, outcome=outcome)
    page = Paginator(sends, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = {"f_connection": raw_connection, "f_channel": channel, "f_outcome": outcome}
    return {
        "page": page,
        "sends": page.object_list,
        "filters": filters,
        "query": urlencode({k: v for k, v in filters.items() if v}),
        "filter_connections": Connection.objects.filter(provider=Provider.PARCELVOY.value),
        "channels": Channel.choices,
        "outcomes": [o for o in Outcome.choices if o[0] != Outcome.SENDING],
        "filtered": any(filters.values()),
    }


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_CONNECTIONS)
def allowlist(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    if connection.provider_enum is not Provider.PARCELVOY:
        messages.error(request, "Only campaign connections have a test list.")
        return redirect("campaigns:test_send")
    form = AllowlistEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        entry = services.allowlist_add(
            connection=connection,
            value=form.cleaned_data["value"],
            note=form.cleaned_data["note"],
            user=request.user,
        )
        messages.success(request, f"{entry.value} is on the test list.")
        return redirect("campaigns:allowlist", pk=connection.pk)
    return render(
        request,
        "campaigns/allowlist.html",
        {
            "connection": connection,
            "form": form,
            "entries": selectors.allowlist_entries(connection=connection),
        },
        status=422 if form.errors else 200,
    )


@require_POST
@require_capability(Capability.MANAGE_CONNECTIONS)
def allowlist_remove(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    entry = AllowlistEntry.objects.filter(pk=entry_pk, connection_id=pk).first()
    if entry is None:  # a second click on Remove, or another admin was quicker
        messages.info(request, "That entry is no longer on the test list.")
        return redirect("campaigns:allowlist", pk=pk)
    value = entry.value
    services.allowlist_remove(entry=entry, user=request.user)
    messages.success(request, f"{value} removed from the test list.")
    return redirect("campaigns:allowlist", pk=pk)
