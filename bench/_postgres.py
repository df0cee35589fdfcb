"""PostgreSQL for the benchmarks that need it: DATABASE_URL, or a local database they create.

Without either, the benchmark says how to run it and ends with a JSON line whose value is
null, so results stay comparable from run to run.
"""

from __future__ import annotations

import json
import os
from typing import NoReturn
from urllib.parse import urlsplit


def skip(*, reason: str, metric: str, anchor: float, script: str, database: str) -> NoReturn:
    print(f"Skipped: {reason}")
    print(
        "Run it against PostgreSQL: DATABASE_URL=postgres://USER@HOST:5432/DB "
        f".venv/bin/python bench/{script} (or start PostgreSQL on 127.0.0.1:5432 with user "
        f"postgres and trust authentication: the benchmark then creates and uses {database})."
    )
    print(
        json.dumps(
            {
                "metric": metric,
                "value": None,
                "unit": "ms",
                "anchor": anchor,
                "ratio": None,
                "target": 1.0,
                "better": "lower",
                "skipped": reason,
            }
        )
    )
    raise SystemExit(0)


def postgres_url(*, database: str, metric: str, anchor: float, script: str) -> str:
    """DATABASE_URL if it is PostgreSQL; else the local ``database`` (created); else skip."""

    def give_up(reason: str) -> NoReturn:
        skip(reason=reason, metric=metric, anchor=anchor, script=script, database=database)

    url = os.environ.get("DATABASE_URL", "")
    if url:
        if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
            give_up(f"DATABASE_URL is not PostgreSQL ({urlsplit(url).scheme}).")
        return url
    local = local_postgres_url(database)
    if isinstance(local, Unreachable):
        give_up(f"no DATABASE_URL, and {local.reason}.")
    return local


class Unreachable:
    """Why the local PostgreSQL could not be used."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def local_postgres_url(database: str) -> str | Unreachable:
    """The URL of ``database`` on the local PostgreSQL (127.0.0.1:5432, user postgres, trust
    authentication), created if missing; or why there is none."""
    import psycopg

    try:
        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            connect_timeout=3,
            autocommit=True,
        ) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [database]
            ).fetchone()
            if not exists:
                admin.execute(f'CREATE DATABASE "{database}"')
                print(f"Created the database {database} on 127.0.0.1.")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Unreachable(f"no PostgreSQL with user postgres on 127.0.0.1:5432 ({first_line})")
    return f"postgres://postgres@127.0.0.1:5432/{database}"
