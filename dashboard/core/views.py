"""Serve the pages every area shares: the liveness check, the CSRF failure and the 403."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 whenever this process serves requests, asking nothing else.

    A process restarted because the database is down would come back to the same database;
    whether the parts it depends on answer is ``/readyz/`` (``dashboard.overview.views``).
    """
    return JsonResponse({"status": "ok"})


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
