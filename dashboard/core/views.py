from __future__ import annotations

import logging
from typing import Any

from django.db import connection as db_connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard.accounts.permissions import has_capability
from dashboard.accounts.roles import Capability
from dashboard.core.http import HtmxHttpRequest
from dashboard.core.selectors import (
    broker_connection,
    connections_failed_refresh,
    worker_status,
)
from dashboard.jobs.charts import outcome_chart
from dashboard.jobs.selectors import job_daily_outcomes, jobs_recent_failures, jobs_running
from integrations.models import Connection

logger = logging.getLogger(__name__)


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    sees_jobs = has_capability(request.user, Capability.VIEW_JOBS)
    if request.htmx and request.htmx.target == "running-jobs" and sees_jobs:
        # Polled every 3 s while a job runs, every 15 s otherwise: a job started from another
        # page, a schedule or a shell still appears without a reload.
        return render(request, "core/overview.html#running-jobs", {"running": jobs_running()})
    connections = list(Connection.objects.all())
    context: dict[str, Any] = {
        "connections": connections,
        "worker": worker_status(),
        "failed_refreshes": connections_failed_refresh(connections=connections),
        "production_count": sum(c.is_production for c in connections),
    }
    if sees_jobs:
        context |= {
            "running": jobs_running(),
            "failures": jobs_recent_failures(limit=10),
            "chart": outcome_chart(job_daily_outcomes(days=30)),
        }
    return render(request, "core/overview.html", context)


def _check_database() -> str | None:
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Health check: database unreachable: %s", type(exc).__name__)
        return "database unreachable"
    return None


def _check_broker() -> str | None:
    try:
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("Health check: broker unreachable: %s", type(exc).__name__)
        return "broker unreachable"
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, else 503 naming the failing part."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    body = {name: (error or "ok") for name, error in checks.items()}
    failing = [name for name, error in checks.items() if error]
    body["status"] = "ok" if not failing else "failing: " + ", ".join(failing)
    return JsonResponse(body, status=503 if failing else 200)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """An expired or missing CSRF token: say so plainly, for htmx requests too."""
    message = "Your session expired or the form was out of date. Reload the page and try again."
    if request.headers.get("HX-Request"):
        return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    template = loader.get_template("csrf_failure.html")
    return HttpResponse(template.render({"message": message}, request), status=403)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 403 page: tells the user what they lack (the message names the role needed)."""
    message = str(exception) if exception and str(exception) else "You do not have access."
    if request.headers.get("HX-Request"):
        return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    template = loader.get_template("403.html")
    return HttpResponse(template.render({"message": message}, request), status=403)
