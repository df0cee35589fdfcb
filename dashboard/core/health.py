"""Ask the parts the web process depends on whether they answer: each check names what failed."""

from __future__ import annotations

import logging

from django.db import connection as db_connection

from dashboard.core.broker_probe import broker_connection

logger = logging.getLogger(__name__)


def check_database() -> str | None:
    """``None`` when the database answers, else what to report."""
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Health check: database unreachable: %s", type(exc).__name__)
        return "database unreachable"
    return None


def check_broker() -> str | None:
    """``None`` when the broker accepts a connection, else what to report."""
    try:
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("Health check: broker unreachable: %s", type(exc).__name__)
        return "broker unreachable"
    return None
