"""A recipient's fields as the recipient pages show and edit them.

Every field is named by its catalogue path (``firstName``, ``employee.department``,
``tags.z_costCentre``); this module says which of a connection's fields can be edited here
and why not, and turns values into words for the pages. The provider's rules (reading a
path out of a record, locked fields, what differs) are in ``integrations.recipients``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django_countries import countries

from dashboard.connections.selectors import connection_field_rows
from integrations.catalogue import CUSTOM_FIELD_PREFIX, FieldSpec, FieldType, Provider
from integrations.clients import Recipient
from integrations.models import Connection
from integrations.recipients import UPDATE_LOCKED, custom_keys, field_value, values_differ

Mode = Literal["edit", "create"]

DISABLED_REASON = "disabled in field settings"


@dataclass(frozen=True)
class RecipientField:
    """One field of a connection's catalogue (or one of its custom fields) for these pages."""

    spec: FieldSpec
    enabled: bool
    locked: str = ""  # why the provider does not take it in this mode ("" when it does)
    key: str = ""  # a custom field's own key

    @property
    def path(self) -> str:
        return self.spec.path

    @property
    def name(self) -> str:
        """The form field name: the path with dots as double underscores."""
        return path_to_name(self.spec.path)

    @property
    def editable(self) -> bool:
        return self.enabled and not self.locked

    @property
    def reason(self) -> str:
        """Why the field is read-only, in words ("" when it is editable)."""
        if not self.enabled:
            return DISABLED_REASON
        return self.locked


def path_to_name(path: str) -> str:
    return path.replace(".", "__")


def name_to_path(name: str) -> str:
    return name.replace("__", ".", 1) if "__" in name else name


def recipient_fields(*, connection: Connection, mode: Mode) -> list[RecipientField]:
    """The connection's fields in catalogue order, custom fields last, each with its state."""
    provider = connection.provider_enum
    locked = UPDATE_LOCKED.get(provider, {}) if mode == "edit" else {}
    return [
        RecipientField(
            spec=row.spec, enabled=row.enabled, locked=locked.get(row.spec.path, ""), key=row.key
        )
        for row in connection_field_rows(connection=connection)
    ]


def display_value(value: Any) -> str:
    """A value in words for a table cell ("" for empty; the template shows a dash)."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, dict):
        return ", ".join(
            f"{key}: {display_value(item)}" for key, item in value.items() if key != "_id"
        )
    if isinstance(value, list):
        separator = "; " if any(isinstance(item, dict) for item in value) else ", "
        return separator.join(display_value(item) for item in value)
    return str(value)


def parse_provider_date(value: Any) -> dt.date | None:
    """Read a stored date: ``YYYYMMDD`` (RedFlag), ``YYYY-MM-DD`` or an ISO timestamp (Snappy
    documents a date and answers a timestamp, CONTRACT-NOTES)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 8 and text.isdigit():
            return dt.datetime.strptime(text, "%Y%m%d").date()
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def display_field_value(
    spec: FieldSpec, value: Any, accounts: Mapping[str, str] | None = None
) -> str:
    """A field's value in words, with its type's conventions: "United Kingdom (GB)", "+44",
    dates as ``YYYY-MM-DD`` whatever the provider's format, Snappy accounts by name."""
    if spec.type is FieldType.ACCOUNTS and isinstance(value, list) and accounts:
        return ", ".join(
            f"{accounts[str(item)]} ({item})" if str(item) in accounts else str(item)
            for item in value
        )
    if spec.type is FieldType.COUNTRY and isinstance(value, str) and value:
        name = dict(countries).get(value.upper())
        return f"{name} ({value})" if name else value
    if spec.type is FieldType.CALLING_CODE and isinstance(value, str) and value:
        return f"+{value}"
    if spec.type is FieldType.DATE:
        day = parse_provider_date(value)
        if day is not None:
            return day.isoformat()
    return display_value(value)


def recipient_version(recipient: Recipient) -> str:
    """What the edit form remembers to notice a change made elsewhere meanwhile.

    The provider's modification time (RedFlag ``mDate``, Snappy ``updatedAt``); a record
    without one is fingerprinted by its writable fields instead.
    """
    if recipient.modified_at is not None:
        return recipient.modified_at.isoformat()
    blob = json.dumps(recipient.fields, sort_keys=True, default=str, ensure_ascii=False)
    return "fields:" + hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class ComparisonRow:
    """One field of the detail page: the provider's live value beside the mirror's copy."""

    label: str
    path: str
    group: str
    live: str
    mirror: str
    differs: bool
    enabled: bool
    custom: bool = False
    known: bool = True  # False: a custom field the connection's settings do not list


def comparison_rows(
    *,
    connection: Connection,
    live: Recipient | None,
    mirror: Recipient | None,
    accounts: Mapping[str, str] | None = None,
) -> list[ComparisonRow]:
    """Every catalogue and custom field, live beside mirror, marking those that differ.

    Custom keys found in either record but absent from the field settings are listed too
    (as unknown), so nothing the provider holds is hidden.
    """
    provider = connection.provider_enum
    live_fields = live.fields if live is not None else {}
    mirror_fields = mirror.fields if mirror is not None else {}
    rows: list[ComparisonRow] = []
    seen: set[str] = set()
    for field in recipient_fields(connection=connection, mode="create"):
        seen.add(field.path)
        rows.append(
            _row(provider, field.spec, field.enabled, live_fields, mirror_fields, live, accounts)
        )
    prefix = CUSTOM_FIELD_PREFIX.get(provider)
    if prefix:
        for key in custom_keys(provider, live_fields) + custom_keys(provider, mirror_fields):
            path = f"{prefix}.{key}"
            if path in seen:
                continue
            seen.add(path)
            spec = FieldSpec(path, key, FieldType.CUSTOM, "Custom fields", custom=True)
            rows.append(
                _row(provider, spec, False, live_fields, mirror_fields, live, accounts, known=False)
            )
    return rows


def _row(
    provider: Provider,
    spec: FieldSpec,
    enabled: bool,
    live_fields: Mapping[str, Any],
    mirror_fields: Mapping[str, Any],
    live: Recipient | None,
    accounts: Mapping[str, str] | None,
    *,
    known: bool = True,
) -> ComparisonRow:
    live_value = field_value(provider, live_fields, spec.path)
    mirror_value = field_value(provider, mirror_fields, spec.path)
    return ComparisonRow(
        label=spec.label,
        path=spec.path,
        group=spec.group,
        live=display_field_value(spec, live_value, accounts),
        mirror=display_field_value(spec, mirror_value, accounts),
        differs=live is not None and values_differ(live_value, mirror_value),
        enabled=enabled,
        custom=spec.custom,
        known=known,
    )
