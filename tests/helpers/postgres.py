"""Check for PostgreSQL and read its statistics, for the tests that need them."""

from __future__ import annotations

from tests.helpers.environment import skip_or_fail


def require_postgresql() -> None:
    """Skip (fail in CI) unless the test database is PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        skip_or_fail(
            "the test database is not PostgreSQL: set DATABASE_URL=postgres://... to run "
            "the PostgreSQL-only checks"
        )


def mirror_analyze_count() -> int:
    """How many times PostgreSQL gathered the mirror table's statistics so far."""
    from django.db import connection

    from integrations.models import MirroredRecipient

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [MirroredRecipient._meta.db_table],
        )
        return cursor.fetchone()[0]
