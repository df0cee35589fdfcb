"""Request middleware: a request id on every log line, and NUL characters refused.

``RequestIdMiddleware`` gives each request an id (the proxy's ``X-Request-ID`` when it is a
sane token, else a new one), binds it for every line logged while the request is served and
returns it in the response's ``X-Request-ID``, so a user's report and the logs meet.

``RefuseNulMiddleware`` refuses a request that carries a NUL character where a view could
pass it to the database.

PostgreSQL cannot hold NUL in text and raises ``DataError`` for a query with one; many views
read ``request.GET``/``request.POST`` directly (a search box, a toggle's field path), and a
form's ``CharField`` is only one of the ways in. One check before any view runs keeps every
present and future view safe: the address, the query, the cookies (the session key is looked
up in the database) and the form values. Uploaded files are not checked: the import reads
their contents itself and names the row that holds a NUL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import loader

from integrations import logcontext

# A request id from the proxy is kept only when it is a plain token (no spaces or control
# characters that could forge a log line).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdMiddleware:
    """Bind the request's id for its log lines and return it as ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # for Django's own lines
        with logcontext.bound(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


NUL = "\x00"
MESSAGE = (
    "The address or a form field contained a NUL character (an invisible character 0), "
    "which cannot be stored. Go back, type the value again and retry."
)


def _holds_nul(values: Iterable[str]) -> bool:
    return any(NUL in value for value in values)


def _query_holds_nul(query: Any) -> bool:
    """True when a key or a value of a ``QueryDict`` holds NUL."""
    return _holds_nul(query.keys()) or any(_holds_nul(query.getlist(key)) for key in query)


def nul_refused(request: HttpRequest) -> HttpResponse:
    """The 400 answer: a page, or the message as text for htmx (shown as a toast)."""
    if request.headers.get("HX-Request"):
        return HttpResponse(MESSAGE, status=400, content_type="text/plain; charset=utf-8")
    # Rendered without the request: this runs before the session and the user are loaded.
    page = loader.render_to_string("400.html", {"message": MESSAGE})
    return HttpResponse(page, status=400)


class RefuseNulMiddleware:
    """Answer 400 to a request with NUL in its address, query, cookies or form values.

    Place it before ``SessionMiddleware``: a NUL in the session cookie is refused before the
    session is looked up.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            NUL in request.path_info
            or _query_holds_nul(request.GET)
            or _holds_nul(request.COOKIES.values())
        ):
            return nul_refused(request)
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        # A view exempt from CSRF reads its own body, as the import upload does with its size
        # cap: reading ``request.POST`` here would parse the upload first. Every other view
        # has its body read by the CSRF check before it runs anyway.
        if request.method != "POST" or getattr(view_func, "csrf_exempt", False):
            return None
        if _query_holds_nul(request.POST):
            return nul_refused(request)
        return None
