"""Django's PostgreSQL backend with the per-request health check skipped for a connection that
answered moments ago.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before a persistent connection's first
query in every request, so a connection the server dropped (a restart, a failover, a firewall
closing idle sockets) is replaced instead of failing the request. Under load that round trip
cost as much as a fifth of a search request's CPU (``bench/lookup.py``), to re-check a
connection that ran a query a few milliseconds earlier. As connection pools do (HikariCP's
``aliveBypassWindowMs``), a connection used less than ``HEALTH_CHECK_BYPASS_SECONDS`` ago is
trusted; one idle for longer, the case the check exists for, is still checked. A connection that
fails inside the window fails that one request, and Django closes it when the request ends
(``errors_occurred``), as it does without health checks.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

# How long after its last query a connection is trusted without a health check (seconds).
HEALTH_CHECK_BYPASS_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    last_used_at: float | None = None

    def create_cursor(self, name: Any = None) -> Any:
        self.last_used_at = time.monotonic()
        return super().create_cursor(name)

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and getattr(self, "health_check_enabled", False)
            and not getattr(self, "health_check_done", True)
            and self.last_used_at is not None
            and time.monotonic() - self.last_used_at < HEALTH_CHECK_BYPASS_SECONDS
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
