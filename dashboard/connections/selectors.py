"""Reads of connections and their field settings."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.catalogue import (
    CUSTOM_FIELD_PREFIX,
    FieldSpec,
    FieldType,
    Provider,
    catalogue,
    enabled_paths,
)
from integrations.models import Connection, FieldSetting, JobKind, MirroredRecipient, SyncJob


@dataclass(frozen=True)
class FieldRow:
    spec: FieldSpec
    enabled: bool
    key: str = ""  # a custom field's own key (the part after the prefix)
    custom_label: str = ""  # a custom field's label as stored (may be empty)

    @property
    def dom_id(self) -> str:
        return "field-" + "".join(ch if ch.isalnum() else "-" for ch in self.spec.path)


@dataclass(frozen=True)
class FieldGroup:
    name: str
    rows: list[FieldRow]

    @property
    def enabled_count(self) -> int:
        return sum(row.enabled for row in self.rows)


def connection_enabled_fields(*, connection: Connection) -> frozenset[str]:
    """The catalogue paths this connection may send: what every write obeys."""
    return enabled_paths(
        connection.provider, connection.fields.values_list("path", "enabled", "custom")
    )


def connection_field_rows(*, connection: Connection) -> list[FieldRow]:
    settings = {fs.path: fs for fs in FieldSetting.objects.filter(connection=connection)}
    rows = []
    for spec in catalogue(connection.provider):
        setting = settings.get(spec.path)
        rows.append(FieldRow(spec, setting.enabled if setting else spec.enabled_by_default))
    prefix = CUSTOM_FIELD_PREFIX.get(Provider(connection.provider))
    for setting in settings.values():
        if setting.custom and prefix:
            key = setting.path.removeprefix(prefix + ".")
            spec = FieldSpec(
                path=setting.path,
                label=setting.label or key,
                type=FieldType.CUSTOM,
                group="Custom fields",
                custom=True,
                format="text or list of text" if prefix == "tags" else "text",
            )
            rows.append(FieldRow(spec, setting.enabled, key=key, custom_label=setting.label))
    return rows


def connection_field_groups(*, connection: Connection) -> list[FieldGroup]:
    groups: dict[str, list[FieldRow]] = {}
    for row in connection_field_rows(connection=connection):
        groups.setdefault(row.spec.group, []).append(row)
    if Provider(connection.provider) in CUSTOM_FIELD_PREFIX:
        groups.setdefault("Custom fields", [])
    for rows in groups.values():
        rows.sort(key=lambda r: r.spec.label.lower() if r.spec.custom else "")
    return [FieldGroup(name, rows) for name, rows in groups.items()]


@dataclass(frozen=True)
class MirrorSummary:
    recipients: int
    refreshed_at: object
    last_pull: object  # the latest pull job, or None


def connection_mirror_summary(*, connection: Connection) -> MirrorSummary | None:
    """How many recipients are mirrored, how fresh, and the latest refresh job."""
    if connection.provider == Provider.PARCELVOY:
        return None
    return MirrorSummary(
        recipients=MirroredRecipient.objects.filter(
            connection=connection, gone_at__isnull=True
        ).count(),
        refreshed_at=connection.mirror_refreshed_at,
        last_pull=SyncJob.objects.filter(connection=connection, kind=JobKind.PULL).first(),
    )
