"""Planner statistics of tables that change in bulk.

PostgreSQL plans each query from statistics that ``ANALYZE`` gathers and autovacuum refreshes
only after a while (a minute's nap, then a tenth of the table changed). A mirror refresh can
write a whole account in seconds, and a preview started right after it then runs a hundred
lookups planned for an empty table: a scan of every recipient of the connection per batch of
rows instead of one index seek per identifier (three times slower a batch,
``bench/csv_preview.py``). The writers of bulk changes call
``analyze_if_stale`` when they finish, and the readers that depend on the plans before they
start, so neither waits for autovacuum.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, models, transaction

logger = logging.getLogger(__name__)

# Past this many rows written since the last ANALYZE, and this share of the rows the
# statistics counted, they are stale (autovacuum's own threshold is 50 rows and a tenth).
MIN_CHANGES = 1000
FRACTION = 0.1


def is_stale(*, counted: float, changed: int, min_changes: int, fraction: float) -> bool:
    """Whether statistics that counted ``counted`` rows (-1: never gathered) are stale after
    ``changed`` rows were inserted, updated or deleted."""
    if counted < 0:
        return True
    return changed >= max(min_changes, fraction * counted)


def analyze_if_stale(
    model: type[models.Model], *, min_changes: int | None = None, fraction: float | None = None
) -> bool:
    """``ANALYZE`` the model's table if its statistics are stale (past ``MIN_CHANGES`` rows
    and ``FRACTION`` of the table unless given); True if it ran.

    PostgreSQL only (elsewhere nothing to do). It reads a sample, not the table (about a
    tenth of a second at 100,000 rows), and never blocks writers. A failure (a lock held
    by a running ``VACUUM FULL``, a role that does not own the table) is logged and
    ignored: the statistics stay as they were, queries still answer, only slower.
    """
    if connection.vendor != "postgresql":
        return False
    table = model._meta.db_table
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.reltuples, s.n_mod_since_analyze FROM pg_class c "
                "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = %s::regclass",
                [table],
            )
            found = cursor.fetchone()
            if found is None:
                return False
            counted, changed = found[0], found[1] or 0
            if not is_stale(
                counted=counted,
                changed=changed,
                min_changes=MIN_CHANGES if min_changes is None else min_changes,
                fraction=FRACTION if fraction is None else fraction,
            ):
                return False
            # Never queue behind a lock for long (inside a caller's transaction too).
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    except DatabaseError as exc:
        logger.warning("Could not refresh the planner statistics of %s: %s", table, exc)
        return False
    logger.info("Planner statistics of %s refreshed (%d rows changed since)", table, changed)
    return True
