"""Writes to remote recipients: the provider first, then the mirror from its reply, then audit.

Provider errors (``integrations.clients.errors``) propagate to the caller unchanged, except
that a recipient the provider no longer has is marked gone in the mirror on the way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F

from dashboard.audit.services import audit_record
from dashboard.recipients.fields import recipient_version
from dashboard.recipients.provider import recipient_client
from integrations.clients import NotFound, Recipient
from integrations.models import Connection, MirroredRecipient
from integrations.recipients import field_value, recipient_payload
from integrations.sync.mirror import mirror_mark_gone, mirror_upsert


class RecipientChanged(Exception):
    """The provider's record changed after the form was opened; nothing was sent.

    ``current`` is the record as it is now, for the user to compare with their changes.
    """

    def __init__(self, current: Recipient) -> None:
        super().__init__("The recipient changed at the provider since the form was opened.")
        self.current = current


def _mirror_row(connection: Connection, recipient: Recipient) -> MirroredRecipient:
    mirror_upsert(connection, [recipient])
    return MirroredRecipient.objects.get(connection=connection, remote_id=recipient.remote_id)


def _who(recipient: Recipient) -> str:
    return recipient.email or recipient.display_name or recipient.remote_id


def recipient_update(
    *,
    connection: Connection,
    remote_id: str,
    changes: Mapping[str, Any],
    current: Recipient,
    opened_version: str,
    user: Any,
) -> Recipient:
    """Send the changed fields to the provider, refresh the mirror from its reply, audit.

    ``current`` is the provider's record as the page fetched it; ``opened_version`` is what
    the form saw when it was opened (``recipient_version``). If the record changed since,
    ``RecipientChanged`` is raised and nothing is sent, never an overwrite.

    The providers offer no conditional update, so saves of one record are serialised here:
    under a database lock on the record's mirror row (``_record_lock``), the live record is
    fetched again, compared with ``opened_version`` and only then written. A second save of
    the same record started meanwhile waits for the lock, then sees the first one's change
    and gets the conflict instead of overwriting it.
    """
    if recipient_version(current) != opened_version:
        raise RecipientChanged(current)
    if not changes:
        return current
    provider = connection.provider_enum
    missing: NotFound | None = None
    with transaction.atomic():
        _record_lock(connection, remote_id)
        client = recipient_client(connection)
        try:
            live = client.get_recipient(remote_id)
            if recipient_version(live) != opened_version:
                raise RecipientChanged(live)
            payload = recipient_payload(provider, changes, live.fields)
            updated = client.update_recipient(remote_id, payload, current=live.fields)
        except NotFound as exc:
            missing = exc  # marked gone below, in the transaction, then raised
        finally:
            client.close()
        if missing is not None:
            mirror_mark_gone(connection, remote_id=remote_id)
        else:
            row = _mirror_row(connection, updated)
            audit_record(
                actor=user,
                action="recipient.updated",
                target=row,
                summary=f"Edited {_who(updated)} at {connection.name}: "
                + ", ".join(sorted(changes)),
                changes={
                    path: {
                        "before": field_value(provider, live.fields, path),
                        "after": field_value(provider, updated.fields, path),
                    }
                    for path in sorted(changes)
                },
            )
    if missing is not None:
        raise missing
    return updated


def _record_lock(connection: Connection, remote_id: str) -> None:
    """Hold one remote record's lock until the current transaction ends.

    PostgreSQL locks the record's mirror row (``SELECT ... FOR UPDATE``): saves of other
    records go on in parallel. SQLite has no row locks: a write to the row takes the
    database's write lock first (the settings already begin every transaction with it,
    ``transaction_mode = IMMEDIATE``), which serialises every save, and is enough there.
    A record not in the mirror has no row to lock; the pages only edit mirrored records.
    """
    rows = MirroredRecipient.objects.filter(connection=connection, remote_id=remote_id)
    if db_connection.features.has_select_for_update:
        list(rows.select_for_update().values_list("pk", flat=True))
    else:
        rows.update(remote_id=F("remote_id"))


def recipient_create(*, connection: Connection, changes: Mapping[str, Any], user: Any) -> Recipient:
    """Create a recipient at the provider, mirror the reply and audit the values sent."""
    provider = connection.provider_enum
    payload = recipient_payload(provider, changes, {})
    client = recipient_client(connection)
    try:
        created = client.create_recipient(payload)
    finally:
        client.close()
    with transaction.atomic():
        row = _mirror_row(connection, created)
        audit_record(
            actor=user,
            action="recipient.created",
            target=row,
            summary=f"Created {_who(created)} at {connection.name}",
            changes={
                path: {"before": None, "after": field_value(provider, created.fields, path)}
                for path in sorted(changes)
            },
        )
    return created


def recipient_delete(*, connection: Connection, row: MirroredRecipient, user: Any) -> None:
    """Delete the recipient at the provider, mark it gone in the mirror, audit what it was."""
    client = recipient_client(connection)
    try:
        client.delete_recipient(row.remote_id)
    except NotFound:
        pass  # already gone there: the outcome the user asked for
    finally:
        client.close()
    with transaction.atomic():
        mirror_mark_gone(connection, remote_id=row.remote_id)
        audit_record(
            actor=user,
            action="recipient.deleted",
            target=row,
            summary=f"Deleted {row.email or row.remote_id} at {connection.name}",
            changes={
                name: {"before": value, "after": None}
                for name, value in (
                    ("email", row.email),
                    ("name", f"{row.first_name} {row.last_name}".strip()),
                    ("external_id", row.external_id),
                    ("remote_id", row.remote_id),
                )
                if value
            },
        )
