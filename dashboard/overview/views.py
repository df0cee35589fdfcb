"""Serve the overview: connections' health, the background's state, running and failed jobs."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts.permissions import has_capability
from dashboard.accounts.roles import Capability
from dashboard.connections.models import Connection
from dashboard.core.http import HtmxHttpRequest
from dashboard.jobs.charts import outcome_chart
from dashboard.jobs.selectors import job_daily_outcomes, jobs_recent_failures, jobs_running
from dashboard.overview.selectors import connections_failed_refresh, worker_status


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
