"""The local mirror of each connection's remote recipients."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection as db_connection
from django.utils import timezone

from integrations.clients import Recipient
from integrations.models import MirroredRecipient
from integrations.sync.mirror_copy import copy_upsert

MIRROR_FIELDS = [
    "email",
    "first_name",
    "last_name",
    "external_id",
    "phone",
    "email_lower",
    "name_search",
    "phone_digits",
    "record",
    "remote_modified_at",
    "last_seen_at",
    "gone_at",
]


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Zoë" and "zoe" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def mirror_row(connection: Any, recipient: Recipient, *, seen_at: datetime) -> MirroredRecipient:
    first, last = recipient.first_name or "", recipient.last_name or ""
    return MirroredRecipient(
        connection=connection,
        remote_id=recipient.remote_id[:100],
        email=(recipient.email or "")[:320],
        first_name=first[:200],
        last_name=last[:200],
        external_id=(recipient.external_id or "")[:200],
        phone=(recipient.phone or "")[:60],
        email_lower=(recipient.email or "").lower()[:320],
        name_search=fold(f"{first} {last}".strip())[:420],
        phone_digits=digits(recipient.phone or "")[:40],
        record=dict(recipient.raw or {}),
        remote_modified_at=recipient.modified_at,
        first_seen_at=seen_at,
        last_seen_at=seen_at,
        gone_at=None,
    )


def mirror_upsert(
    connection: Any, recipients: Iterable[Recipient], *, seen_at: datetime | None = None
) -> int:
    """Insert or update mirror rows by remote id in one transaction; return how many.

    On PostgreSQL the rows go through COPY (``mirror_copy``); elsewhere ``bulk_create``.
    """
    seen_at = seen_at or timezone.now()
    rows = {}
    for recipient in recipients:
        if recipient.remote_id:
            rows[recipient.remote_id] = mirror_row(connection, recipient, seen_at=seen_at)
    if not rows:
        return 0
    if db_connection.vendor == "postgresql":
        copy_upsert(list(rows.values()), MIRROR_FIELDS)  # the same rows, faster (its docstring)
    else:
        MirroredRecipient.objects.bulk_create(
            list(rows.values()),
            update_conflicts=True,
            unique_fields=["connection", "remote_id"],
            update_fields=MIRROR_FIELDS,
        )
    return len(rows)


def mirror_mark_gone(connection: Any, *, remote_id: str) -> None:
    MirroredRecipient.objects.filter(connection=connection, remote_id=remote_id).update(
        gone_at=timezone.now()
    )


def mirror_mark_unseen_gone(connection: Any, *, since: datetime) -> int:
    """After a complete pull: every row not seen since ``since`` has left the provider."""
    return MirroredRecipient.objects.filter(
        connection=connection, gone_at__isnull=True, last_seen_at__lt=since
    ).update(gone_at=timezone.now())
