"""Serve the overview: connections' health, the background's state, running and failed jobs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard.accounts.permissions import has_capability
from dashboard.accounts.roles import Capability
from dashboard.core.health import check_broker, check_database
from dashboard.core.http import HtmxHttpRequest
from dashboard.jobs.charts import outcome_chart
from dashboard.jobs.selectors import job_daily_outcomes, jobs_recent_failures, jobs_running
from dashboard.overview.selectors import (
    connections_failed_refresh,
    scheduler_status,
    worker_status,
    workers_answering,
)
from integrations.models import Connection


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    sees_jobs = has_capability(request.user, Capability.VIEW_JOBS)
    if request.htmx and request.htmx.target == "running-jobs" and sees_jobs:
        # Polled every 3 s while a job runs, every 15 s otherwise: a job started from another
        # page, a schedule or a shell still appears without a reload.
        return render(request, "overview/overview.html#running-jobs", {"running": jobs_running()})
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
    return render(request, "overview/overview.html", context)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database, the broker, a worker and the scheduler all answer.

    Each part is named in the reply with "ok" or what is wrong, and a 503 lists the failing
    ones. Workers are asked with Celery's ping (the answer is kept for
    ``OVERVIEW_WORKERS_CACHE_SECONDS``, as the overview's); the scheduler is alive when it
    renewed its lock within two lock lifetimes.
    """
    checks: dict[str, str | None] = {"database": check_database(), "broker": check_broker()}
    if checks["broker"]:
        checks["workers"] = "unknown: the broker did not answer"
    else:
        workers = workers_answering()
        if workers is None:
            checks["workers"] = "unknown: the broker did not answer the ping"
        elif not workers:
            checks["workers"] = "no worker answered"
        else:
            checks["workers"] = None
    if checks["database"]:
        checks["scheduler"] = "unknown: the database did not answer"
    else:
        beat, alive = scheduler_status()
        if beat is None:
            checks["scheduler"] = "never seen"
        elif not alive:
            seconds = int((timezone.now() - beat.seen_at).total_seconds())
            checks["scheduler"] = f"last seen {seconds} s ago"
        else:
            checks["scheduler"] = None
    body: dict[str, Any] = {name: (error or "ok") for name, error in checks.items()}
    if not checks["workers"] and not checks["broker"]:
        body["workers_answering"] = len(workers or [])
    failing = [name for name, error in checks.items() if error]
    body["status"] = "ok" if not failing else "failing: " + ", ".join(failing)
    return JsonResponse(body, status=503 if failing else 200)
