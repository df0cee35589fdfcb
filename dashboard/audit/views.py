from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts.permissions import require_capability
from dashboard.accounts.roles import Capability
from dashboard.audit.forms import AuditFilterForm
from dashboard.audit.models import AuditEvent
from dashboard.core.http import HtmxHttpRequest

ACTION_GROUP_LABELS = {
    "campaign": "Test sends",
    "connection": "Connections",
    "field": "Field settings",
    "import": "Imports",
    "job": "Sync jobs",
    "recipient": "Recipients",
}


@require_GET
@require_capability(Capability.VIEW_AUDIT)
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    events = AuditEvent.objects.all()
    form = AuditFilterForm(request.GET)
    errors: list[str] = []
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["actor"]:
            events = events.filter(actor_name=data["actor"])
        if data["target"]:
            events = events.filter(target_repr__icontains=data["target"])
        if data["since"]:
            events = events.filter(at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(at__date__lte=data["until"])
    else:
        for field, field_errors in form.errors.items():
            label = {"since": "From", "until": "To"}.get(field, field)
            errors += [f"{label}: {e}" if field != "__all__" else str(e) for e in field_errors]
        events = events.none()
    filters = {name: request.GET.get(name, "").strip() for name in form.fields}
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
    groups: dict[str, list[str]] = {}
    for action in actions:
        groups.setdefault(action.partition(".")[0], []).append(action)
    actors = get_user_model().objects.order_by("username").values_list("username", flat=True)
    query = request.GET.copy()
    query.pop("page", None)
    known = {value for kind, names in groups.items() for value in (f"{kind}.", *names)}
    context = {
        "page": page,
        "filters": filters,
        "errors": errors,
        # One group per kind of object ("recipient.created", "recipient.updated" ...), each with
        # an "all of them" entry whose value is the prefix the filter matches.
        "action_groups": [
            {"prefix": f"{kind}.", "label": ACTION_GROUP_LABELS.get(kind, kind), "actions": names}
            for kind, names in groups.items()
        ],
        "actors": list(actors),
        # A filter from a link or a bookmark that no event matches yet stays shown as chosen.
        "unknown_action": filters["action"] if filters["action"] not in known else "",
        "query": query.urlencode(),
    }
    template = "audit/list.html#results" if request.htmx else "audit/list.html"
    return render(request, template, context)
