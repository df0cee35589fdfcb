from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard.accounts.permissions import require_capability
from dashboard.accounts.roles import Capability
from dashboard.connections import services
from dashboard.connections.forms import ConnectionForm, CustomFieldForm
from dashboard.connections.selectors import connection_field_groups, connection_mirror_summary
from dashboard.core.http import HtmxHttpRequest
from integrations.catalogue import Provider, supports_custom_fields
from integrations.models import Connection
from integrations.sync.services import job_create_pull

PROVIDER_BLURBS = {
    Provider.REDFLAG: "Employee communications: recipient profiles, tags and custom fields.",
    Provider.SNAPPY: "Corporate gifting: recipients, accounts and custom fields.",
    Provider.PARCELVOY: "Messaging: trigger an email, SMS or push campaign for one person.",
}


def _provider_or_none(value: str | None) -> Provider | None:
    try:
        return Provider(value) if value else None
    except ValueError:
        return None


@require_GET
@require_capability(Capability.MANAGE_CONNECTIONS)
def connection_list(request: HttpRequest) -> HttpResponse:
    connections = Connection.objects.select_related("secret_set_by").all()
    return render(request, "connections/list.html", {"connections": connections})


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_CONNECTIONS)
def connection_new(request: HttpRequest) -> HttpResponse:
    provider = _provider_or_none(request.GET.get("provider") or request.POST.get("provider"))
    if provider is None:
        choices = [(p, p.api_name, PROVIDER_BLURBS[p]) for p in Provider]
        return render(request, "connections/choose_provider.html", {"choices": choices})
    form = ConnectionForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        connection = services.connection_create(
            name=form.cleaned_data["name"],
            provider=provider,
            environment=form.cleaned_data["environment"],
            base_url=form.cleaned_data["base_url"],
            secret=form.cleaned_data["secret"],
            options=form.options,
            user=request.user,
            pull_interval_minutes=form.cleaned_data.get("pull_interval_minutes"),
        )
        messages.success(request, f"Connection “{connection.name}” created. Test it below.")
        return redirect("connections:detail", pk=connection.pk)
    return render(
        request,
        "connections/form.html",
        {"form": form, "provider": provider, "provider_label": provider.api_name},
    )


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_CONNECTIONS)
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection.objects.select_related("secret_set_by"), pk=pk)
    form = ConnectionForm(
        request.POST or None, provider=connection.provider_enum, instance=connection
    )
    if request.method == "POST" and form.is_valid():
        services.connection_update(
            connection=connection,
            user=request.user,
            name=form.cleaned_data["name"],
            environment=form.cleaned_data["environment"],
            base_url=form.cleaned_data["base_url"],
            options=form.options,
            secret=form.cleaned_data["secret"],
            pull_interval_minutes=form.cleaned_data.get("pull_interval_minutes"),
        )
        messages.success(request, "Changes saved.")
        return redirect("connections:detail", pk=connection.pk)
    return render(
        request,
        "connections/detail.html",
        {
            "connection": connection,
            "form": form,
            "provider_label": connection.provider_enum.api_name,
            "mirror": connection_mirror_summary(connection=connection),
        },
    )


@require_POST
@require_capability(Capability.MANAGE_CONNECTIONS)
def connection_toggle_active(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    active = request.POST.get("active") == "1"
    services.connection_set_active(connection=connection, active=active, user=request.user)
    messages.success(request, f"“{connection.name}” {'enabled' if active else 'disabled'}.")
    return redirect("connections:detail", pk=connection.pk)


@require_http_methods(["GET", "POST"])
@require_capability(Capability.MANAGE_CONNECTIONS)
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() == connection.name:
            name = connection.name
            services.connection_delete(connection=connection, user=request.user)
            messages.success(request, f"Connection “{name}” deleted.")
            return redirect("connections:list")
        error = "Type the connection's name exactly to confirm."
    return render(request, "connections/delete.html", {"connection": connection, "error": error})


@require_GET
@require_capability(Capability.MANAGE_CONNECTIONS)
def field_settings(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    return _render_fields(request, connection, CustomFieldForm(connection=connection))


def _render_fields(
    request: HttpRequest,
    connection: Connection,
    custom_form: CustomFieldForm,
    *,
    partial: str = "",
    status: int = 200,
) -> HttpResponse:
    template = "connections/fields.html" + (f"#{partial}" if partial else "")
    return render(
        request,
        template,
        {
            "connection": connection,
            "groups": connection_field_groups(connection=connection),
            "custom_form": custom_form,
            "supports_custom": supports_custom_fields(connection.provider),
        },
        status=status,
    )


@require_POST
@require_capability(Capability.MANAGE_CONNECTIONS)
def field_toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    path = request.POST.get("path", "")
    enabled = request.POST.get("enabled") == "on"
    try:
        services.field_setting_set(
            connection=connection, path=path, enabled=enabled, user=request.user
        )
    except services.FieldSettingError as exc:
        if request.htmx:
            return HttpResponse(str(exc), status=400)
        messages.error(request, str(exc))
        return redirect("connections:fields", pk=connection.pk)
    if request.htmx:
        group, row = next(
            (group, row)
            for group in connection_field_groups(connection=connection)
            for row in group.rows
            if row.spec.path == path
        )
        return render(
            request,
            "connections/fields.html#field-row",
            {"connection": connection, "row": row, "group": group, "just_saved": True},
        )
    messages.success(request, f"{path} {'enabled' if enabled else 'disabled'}.")
    return redirect("connections:fields", pk=connection.pk)


@require_POST
@require_capability(Capability.MANAGE_CONNECTIONS)
def custom_field_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    if not supports_custom_fields(connection.provider):
        raise Http404("This provider has no custom fields.")
    form = CustomFieldForm(request.POST, connection=connection)
    if form.is_valid():
        try:
            services.custom_field_add(
                connection=connection,
                key=form.cleaned_data["key"],
                label=form.cleaned_data["label"],
                user=request.user,
            )
        except services.FieldSettingError as exc:
            form.add_error("key", str(exc))
        else:
            messages.success(request, f"Custom field {form.cleaned_data['key']} added.")
            if request.htmx:
                return HttpResponseClientRedirect(
                    reverse("connections:fields", args=[connection.pk])
                )
            return redirect("connections:fields", pk=connection.pk)
    if request.htmx:
        return _render_fields(request, connection, form, partial="custom-form", status=422)
    return _render_fields(request, connection, form, status=422)


@require_POST
@require_capability(Capability.MANAGE_CONNECTIONS)
def custom_field_change(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    if not supports_custom_fields(connection.provider):
        raise Http404("This provider has no custom fields.")
    try:
        if request.POST.get("action") == "remove":
            services.custom_field_remove(connection=connection, key=key, user=request.user)
            messages.success(request, f"Custom field {key} removed.")
        else:
            form = CustomFieldForm(request.POST, connection=connection)
            if not form.is_valid():
                for error in form.errors.get("key", []) + form.errors.get("label", []):
                    messages.error(request, f"{key}: {error}")
                return redirect("connections:fields", pk=connection.pk)
            services.custom_field_rename(
                connection=connection,
                old_key=key,
                new_key=form.cleaned_data["key"],
                label=form.cleaned_data["label"],
                user=request.user,
            )
            messages.success(request, f"Custom field {key} saved.")
    except services.FieldSettingError as exc:
        messages.error(request, str(exc))
    return redirect("connections:fields", pk=connection.pk)


@require_POST
@require_capability(Capability.MANAGE_CONNECTIONS)
def connection_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=pk)
    connection = services.connection_test(connection=connection)
    if request.htmx:
        return render(request, "connections/detail.html#test-result", {"connection": connection})
    if connection.last_test_outcome == "ok":
        messages.success(request, f"Connected in {connection.last_test_latency_ms} ms.")
    else:
        messages.error(
            request,
            f"{connection.get_last_test_outcome_display()}: {connection.last_test_message}",
        )
    return redirect("connections:detail", pk=connection.pk)


@require_POST
@require_capability(Capability.REFRESH_MIRROR)
def connection_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Start (or join) a refresh of the connection's recipient mirror."""
    connection = get_object_or_404(Connection, pk=pk)
    if connection.provider_enum is Provider.PARCELVOY:
        raise Http404("Campaign connections have no recipients to mirror.")
    if not connection.is_active:
        messages.error(request, "This connection is disabled; enable it to refresh the mirror.")
        return redirect("overview")
    job = job_create_pull(connection=connection, user=request.user, source_label="Refresh now")
    messages.success(request, f"Refreshing the recipients of “{connection.name}”.")
    # The recipient search posts its own address as ``next`` and shows the progress there.
    next_url = request.POST.get("next", "")
    # A path on this site only: ``redirect`` takes a bare word for a URL name.
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("jobs:detail", pk=job.pk)
