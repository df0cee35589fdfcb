"""What reading a request's session costs in queries, by the session engine in use."""

from __future__ import annotations

from django.conf import settings


def session_queries() -> int:
    """Queries a signed-in request spends on its session: none when Redis caches it
    (``cached_db``, CI and production), one with database sessions."""
    return 0 if settings.SESSION_ENGINE.endswith("cached_db") else 1
