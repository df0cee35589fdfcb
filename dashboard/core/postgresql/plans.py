"""Custom query plans for reads whose best plan depends on their parameters.

With prepared statements on (``DB_PREPARED_STATEMENTS``, the default), a query a connection
has run five times is prepared, and after five more PostgreSQL may keep one generic plan for
it, planned without the parameters' values. For a page of one job's items of one status that
generic plan reads the job's rows through the ``job_id`` index and sorts them: it guesses a
job has a few hundred items. The last page of "succeeded" in a job of a million items then
read all 950,000 of them (``bench/history_pages.py``), where the plan made for the values
reads 101 entries of the (job, status, seq) index.

``custom_plans()`` plans every query of its block for its values (``plan_cache_mode =
force_custom_plan``, for the block's transaction only): a little planning per query. It changes
plans, never results. It becomes unnecessary if prepared statements are turned off
(``DB_PREPARED_STATEMENTS=false``) or if the redundant ``job_id`` index of sync items goes (the
generic plan would then use the (job, seq) or (job, status, seq) index, which both serve every
page).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def custom_plans() -> Iterator[None]:
    """Plan each query of the block for its parameters (PostgreSQL; elsewhere, nothing).

    Elsewhere no transaction is opened either: SQLite's begins by taking the write lock
    (``transaction_mode = IMMEDIATE``), which a read must not.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield
