from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET

from dashboard.accounts.permissions import require_capability
from dashboard.accounts.roles import Capability
from dashboard.audit.models import AuditEvent


@require_GET
@require_capability(Capability.VIEW_AUDIT)
def audit_list(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.all()
    filters = {
        "action": request.GET.get("action", "").strip(),
        "actor": request.GET.get("actor", "").strip(),
        "target": request.GET.get("target", "").strip(),
        "since": request.GET.get("since", "").strip(),
        "until": request.GET.get("until", "").strip(),
    }
    errors = []
    if filters["action"]:
        events = events.filter(action__startswith=filters["action"])
    if filters["actor"]:
        events = events.filter(actor_name=filters["actor"])
    if filters["target"]:
        events = events.filter(target_repr__icontains=filters["target"])
    for key, lookup in (("since", "at__date__gte"), ("until", "at__date__lte")):
        if filters[key]:
            day = parse_date(filters[key]) if len(filters[key]) == 10 else None
            if day is None:
                errors.append(f"“{filters[key]}” is not a date (use YYYY-MM-DD).")
            else:
                events = events.filter(**{lookup: day})
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    actions = (
        AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
    )
    actors = get_user_model().objects.order_by("username").values_list("username", flat=True)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "errors": errors,
        "actions": list(actions),
        "actors": list(actors),
        "query": query.urlencode(),
    }
    template = "audit/list.html#results" if request.htmx else "audit/list.html"
    return render(request, template, context)
