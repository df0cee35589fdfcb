"""The request type of views that read ``request.htmx``."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """An ``HttpRequest`` as ``HtmxMiddleware`` leaves it; a type for annotations only.

    Django builds plain ``HttpRequest`` objects; the middleware adds ``htmx`` to each one
    (django-htmx's documented pattern for type-checked views).
    """

    htmx: HtmxDetails
