"""Writes to connections and their field settings; every change is audited here."""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from dashboard.audit.services import SECRET_CHANGED, audit_record, diff
from integrations.catalogue import Provider, custom_field_path, field_spec
from integrations.clients.errors import (
    Forbidden,
    ProviderError,
    ProviderTimeout,
    Unauthorized,
    Unavailable,
)
from integrations.connection import BaseURLRefused, CredentialsUnreadable, connection_client
from integrations.crypto import SealedSecret
from integrations.models import Connection, FieldSetting, TestOutcome


class FieldSettingError(ValueError):
    """A field-settings change that cannot be made; the message is for the user."""


def _snapshot(connection: Connection) -> dict[str, Any]:
    return {
        "name": connection.name,
        "provider": connection.provider,
        "environment": connection.environment,
        "base_url": connection.base_url,
        "options": dict(connection.options),
        "is_active": connection.is_active,
        "pull_interval_minutes": connection.pull_interval_minutes,
    }


def _set_secret(connection: Connection, secret: str, user: Any) -> None:
    connection.secret = SealedSecret.seal(secret)
    connection.secret_hint = secret[-4:] if len(secret) >= 8 else ""
    connection.secret_set_at = timezone.now()
    connection.secret_set_by = user


@transaction.atomic
def connection_create(
    *,
    name: str,
    provider: Provider,
    environment: str,
    base_url: str,
    secret: str,
    options: dict[str, str],
    user: Any,
    pull_interval_minutes: int | None = None,
) -> Connection:
    connection = Connection(
        name=name,
        provider=provider.value,
        environment=environment,
        base_url=base_url,
        options=options,
        created_by=user,
        pull_interval_minutes=pull_interval_minutes,
    )
    _set_secret(connection, secret, user)
    connection.full_clean(exclude=["secret"])
    connection.save()
    changes = diff({}, _snapshot(connection))
    changes["secret"] = {"before": None, "after": SECRET_CHANGED}
    audit_record(
        actor=user,
        action="connection.created",
        target=connection,
        summary=f"Created {provider.label} connection ({environment})",
        changes=changes,
    )
    return connection


@transaction.atomic
def connection_update(
    *,
    connection: Connection,
    user: Any,
    name: str,
    environment: str,
    base_url: str,
    options: dict[str, str],
    secret: str | None = None,
    pull_interval_minutes: int | None = None,
) -> Connection:
    """Update a connection. ``secret=None`` keeps the stored secret."""
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    before = _snapshot(connection)
    connection.pull_interval_minutes = pull_interval_minutes
    connection.name = name
    connection.environment = environment
    connection.base_url = base_url
    connection.options = options
    if secret is not None:
        _set_secret(connection, secret, user)
    connection.save()
    changes = diff(before, _snapshot(connection))
    if secret is not None:
        changes["secret"] = {"before": SECRET_CHANGED, "after": SECRET_CHANGED}
    if changes:
        audit_record(
            actor=user,
            action="connection.updated",
            target=connection,
            summary="Changed " + ", ".join(sorted(changes)),
            changes=changes,
        )
    return connection


@transaction.atomic
def connection_set_active(*, connection: Connection, active: bool, user: Any) -> Connection:
    if connection.is_active == active:
        return connection
    connection.is_active = active
    connection.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=user,
        action="connection.enabled" if active else "connection.disabled",
        target=connection,
        summary="Enabled the connection" if active else "Disabled the connection",
        changes={"is_active": {"before": not active, "after": active}},
    )
    return connection


@transaction.atomic
def connection_delete(*, connection: Connection, user: Any) -> None:
    audit_record(
        actor=user,
        action="connection.deleted",
        target=connection,
        summary=f"Deleted {connection.provider_enum.label} connection",
        changes=diff(_snapshot(connection), {}),
    )
    connection.delete()


def connection_record_test(
    *, connection: Connection, outcome: str, message: str, latency_ms: int | None
) -> Connection:
    connection.last_test_at = timezone.now()
    connection.last_test_outcome = outcome
    connection.last_test_message = message[:500]
    connection.last_test_latency_ms = latency_ms
    connection.save(
        update_fields=[
            "last_test_at",
            "last_test_outcome",
            "last_test_message",
            "last_test_latency_ms",
        ]
    )
    return connection


@transaction.atomic
def field_setting_set(*, connection: Connection, path: str, enabled: bool, user: Any) -> bool:
    """Enable or disable one field; return the new state."""
    spec = field_spec(connection.provider, path)
    setting = FieldSetting.objects.select_for_update().filter(connection=connection, path=path)
    row = setting.first()
    if spec is None and (row is None or not row.custom):
        raise FieldSettingError("This field is not in the provider's catalogue.")
    before = row.enabled if row is not None else bool(spec and spec.enabled_by_default)
    if before == enabled:
        return enabled
    if row is None:
        row = FieldSetting(connection=connection, path=path)
    row.enabled = enabled
    row.updated_by = user
    row.save()
    audit_record(
        actor=user,
        action="field.enabled" if enabled else "field.disabled",
        target=connection,
        summary=f"{'Enabled' if enabled else 'Disabled'} {path}",
        changes={path: {"before": before, "after": enabled}},
    )
    return enabled


@transaction.atomic
def custom_field_add(*, connection: Connection, key: str, label: str, user: Any) -> FieldSetting:
    path = custom_field_path(connection.provider, key)
    if FieldSetting.objects.filter(connection=connection, path=path).exists():
        raise FieldSettingError(f"A custom field named {key} already exists.")
    row = FieldSetting.objects.create(
        connection=connection, path=path, enabled=True, custom=True, label=label, updated_by=user
    )
    audit_record(
        actor=user,
        action="field.custom_added",
        target=connection,
        summary=f"Added custom field {key}",
        changes={path: {"before": None, "after": {"label": label, "enabled": True}}},
    )
    return row


@transaction.atomic
def custom_field_rename(
    *, connection: Connection, old_key: str, new_key: str, label: str, user: Any
) -> FieldSetting:
    old_path = custom_field_path(connection.provider, old_key)
    new_path = custom_field_path(connection.provider, new_key)
    row = (
        FieldSetting.objects.select_for_update()
        .filter(connection=connection, path=old_path, custom=True)
        .first()
    )
    if row is None:
        raise FieldSettingError(f"There is no custom field named {old_key}.")
    if (
        new_path != old_path
        and FieldSetting.objects.filter(connection=connection, path=new_path).exists()
    ):
        raise FieldSettingError(f"A custom field named {new_key} already exists.")
    before = {"key": old_key, "label": row.label}
    row.path = new_path
    row.label = label
    row.updated_by = user
    row.save()
    audit_record(
        actor=user,
        action="field.custom_renamed",
        target=connection,
        summary=f"Renamed custom field {old_key} to {new_key}",
        changes={"custom_field": {"before": before, "after": {"key": new_key, "label": label}}},
    )
    return row


@transaction.atomic
def custom_field_remove(*, connection: Connection, key: str, user: Any) -> None:
    path = custom_field_path(connection.provider, key)
    deleted, _ = FieldSetting.objects.filter(connection=connection, path=path, custom=True).delete()
    if not deleted:
        raise FieldSettingError(f"There is no custom field named {key}.")
    audit_record(
        actor=user,
        action="field.custom_removed",
        target=connection,
        summary=f"Removed custom field {key}",
        changes={path: {"before": "present", "after": None}},
    )


def connection_test(*, connection: Connection) -> Connection:
    """Check the credentials with the provider's cheapest read and record the outcome."""
    started = time.monotonic()
    latency_ms: int | None = None
    try:
        client = connection_client(connection, max_attempts=2, total_timeout=20)
        try:
            check = client.check_credentials()
        finally:
            client.close()
        outcome, message = TestOutcome.OK, check.message
        latency_ms = round(check.latency * 1000)
    except CredentialsUnreadable:
        outcome = TestOutcome.BAD_CREDENTIALS
        message = "Credentials unreadable — re-enter them."
    except Unauthorized as exc:
        outcome, message = TestOutcome.BAD_CREDENTIALS, exc.message
    except Forbidden as exc:
        outcome, message = TestOutcome.FORBIDDEN, exc.message
    except (Unavailable, ProviderTimeout, BaseURLRefused) as exc:
        outcome, message = TestOutcome.UNREACHABLE, exc.message
    except ProviderError as exc:
        outcome, message = TestOutcome.ERROR, exc.message
    if latency_ms is None:
        latency_ms = round((time.monotonic() - started) * 1000)
    return connection_record_test(
        connection=connection, outcome=outcome, message=message, latency_ms=latency_ms
    )
