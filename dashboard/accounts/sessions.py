"""The session engine: Django's database sessions, each request's read with SQL written once.

Every request reads its session. ``SessionStore`` of ``django.contrib.sessions.backends.db``
reads it with ``Session.objects.get(...)``, and composing that query cost the ORM three times
the query itself (half a millisecond of every request). This reads the same row
(``session_key`` and not expired) with the same SQL, written once per process; writing,
creating, deleting and clearing expired sessions are Django's, unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        model = self.model
        if self.session_key is None:
            return None
        connection = connections[router.db_for_read(model)]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_load_sql(connection.alias), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:  # no such session, or expired: as Django's, a new key on save
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])


@functools.cache
def _load_sql(alias: str) -> str:
    """``Session.objects.get(session_key=..., expire_date__gt=...)`` as SQL, data only."""
    model = db.SessionStore.get_model_class()
    quote = connections[alias].ops.quote_name
    column = {f.name: quote(str(f.column)) for f in model._meta.concrete_fields}
    return (
        f"SELECT {column['session_data']} FROM {quote(str(model._meta.db_table))} "  # noqa: S608
        f"WHERE {column['session_key']} = %s AND {column['expire_date']} > %s"
    )
