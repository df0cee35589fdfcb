"""Serve the pages every area shares: the health check, the CSRF failure and the 403."""

from __future__ import annotations

import logging

from django.db import connection as db_connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard.core.broker_probe import broker_connection

logger = logging.getLogger(__name__)


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
