"""The common recipient representation and its mapping to and from each provider's schema.

Plain frozen dataclasses (not Django models): the recipient mirror, the sync engine and the
UI all read a ``Recipient`` whatever the provider, while ``fields`` keeps the provider-native
writable fields (named as in ``integrations.catalogue``) so a payload can be rebuilt and
checked against the connection's enabled fields without any mapping table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.catalogue import REDFLAG_FIELDS, SNAPPY_FIELDS, Provider

_REDFLAG_WRITABLE = tuple(spec.path for spec in REDFLAG_FIELDS)
_SNAPPY_TOP_LEVEL = tuple(spec.path for spec in SNAPPY_FIELDS if "." not in spec.path)
# The body fields Snappy's update document lists: ``externalId`` and ``owner`` are set on
# create only.
SNAPPY_UPDATABLE = frozenset(
    {"firstName", "lastName", "email", "emailOverride", "mobilePhone", "country", "birthday",
     "accounts", "type", "employee", "recipientCustomFields"}
)  # fmt: skip
_SNAPPY_NESTED: dict[str, tuple[str, ...]] = {}
for _spec in SNAPPY_FIELDS:
    if "." in _spec.path:
        _parent, _child = _spec.path.split(".", 1)
        _SNAPPY_NESTED[_parent] = (*_SNAPPY_NESTED.get(_parent, ()), _child)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One remote recipient, whatever the provider.

    ``fields`` holds the provider-native writable fields present in the remote record (a
    valid update payload as it stands: RedFlag ``tags`` as a list of ``{key, value}``, Snappy
    ``employee`` as an object). ``raw`` is the full remote record as received.
    """

    provider: str
    remote_id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    external_id: str = ""
    phone: str = ""
    modified_at: datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def matches_email(self, email: str) -> bool:
        """Compare emails as providers do: case-insensitively (CONTRACT-NOTES "RedFlag")."""
        return bool(email) and self.email.casefold() == email.strip().casefold()


def parse_timestamp(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp (``2024-04-29T01:52:26.962Z``); None if absent or bad."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


def _join_phone(country: Any, number: Any) -> str:
    number = _text(number).strip()
    if not number:
        return ""
    country = _text(country).strip().lstrip("+")
    return f"+{country} {number}" if country else number


# -- RedFlag -------------------------------------------------------------------------------


def from_redflag(record: Mapping[str, Any]) -> Recipient:
    """Map a RedFlag recipient (``/int/v1/recipient`` ``data``) to a ``Recipient``.

    ``external_id`` is ``orgId`` (the catalogue's identifying field), else the SuccessFactors
    ``sfUserId``. ``phone`` prefers the provider's own ``mobileFull``/``phoneFull`` display
    forms, else joins the calling code and the number.
    """
    fields: dict[str, Any] = {path: record[path] for path in _REDFLAG_WRITABLE if path in record}
    tags = record.get("tags")
    if isinstance(tags, list):
        fields["tags"] = [
            {"key": tag.get("key"), "value": tag.get("value")}
            for tag in tags
            if isinstance(tag, dict) and tag.get("key")
        ]
    phone = (
        _text(record.get("mobileFull")).strip()
        or _join_phone(record.get("mobileCountry"), record.get("mobile"))
        or _text(record.get("phoneFull")).strip()
        or _join_phone(record.get("phoneCountry"), record.get("phone"))
    )
    return Recipient(
        provider=Provider.REDFLAG.value,
        remote_id=_text(record.get("_id")),
        email=_text(record.get("email")),
        first_name=_text(record.get("firstName")),
        last_name=_text(record.get("lastName")),
        external_id=_text(record.get("orgId")) or _text(record.get("sfUserId")),
        phone=phone,
        modified_at=parse_timestamp(record.get("mDate")),
        fields=fields,
        raw=record if isinstance(record, dict) else dict(record),
    )


def to_redflag(recipient: Recipient) -> dict[str, Any]:
    """Build a RedFlag create/update payload from a ``Recipient``'s writable fields."""
    payload = {key: value for key, value in recipient.fields.items() if key != "email"}
    if recipient.email:
        payload["email"] = recipient.email
    if recipient.first_name:
        payload["firstName"] = recipient.first_name
    if recipient.last_name:
        payload["lastName"] = recipient.last_name
    return payload


# -- Snappy --------------------------------------------------------------------------------


def from_snappy(record: Mapping[str, Any]) -> Recipient:
    """Map a Snappy recipient (``/v2/recipients``) to a ``Recipient``.

    Tolerates the documented variants: ``source`` as an object or a string (kept in ``raw``
    only, it is not writable), ``birthday`` as a date or an ISO timestamp.
    """
    fields: dict[str, Any] = {key: record[key] for key in _SNAPPY_TOP_LEVEL if key in record}
    for parent, children in _SNAPPY_NESTED.items():
        value = record.get(parent)
        if isinstance(value, dict):
            nested = {child: value[child] for child in children if child in value}
            if nested:
                fields[parent] = nested
    custom = record.get("recipientCustomFields")
    if isinstance(custom, list):
        fields["recipientCustomFields"] = [
            item for item in custom if isinstance(item, dict) and item.get("fieldName")
        ]
    return Recipient(
        provider=Provider.SNAPPY.value,
        remote_id=_text(record.get("id") or record.get("_id")),
        email=_text(record.get("email")),
        first_name=_text(record.get("firstName")),
        last_name=_text(record.get("lastName")),
        external_id=_text(record.get("externalId")),
        phone=_text(record.get("mobilePhone")),
        modified_at=parse_timestamp(record.get("updatedAt") or record.get("createdAt")),
        fields=fields,
        raw=record if isinstance(record, dict) else dict(record),
    )


def to_snappy(recipient: Recipient, *, for_update: bool = False) -> dict[str, Any]:
    """Build a Snappy create payload (or, ``for_update``, an update payload) from a
    ``Recipient``'s writable fields; an update leaves out ``externalId`` and ``owner``."""
    payload = dict(recipient.fields)
    for key, value in (
        ("email", recipient.email),
        ("firstName", recipient.first_name),
        ("lastName", recipient.last_name),
        ("externalId", recipient.external_id),
    ):
        if value:
            payload[key] = value
    if for_update:
        payload = {key: value for key, value in payload.items() if key in SNAPPY_UPDATABLE}
    return payload


# -- Parcelvoy -----------------------------------------------------------------------------


def to_parcelvoy_user(recipient: Recipient, **extra: Any) -> dict[str, Any]:
    """Build the ``user`` object of a campaign trigger from a ``Recipient``.

    ``external_id`` falls back to the remote id so every trigger names its user.
    """
    user: dict[str, Any] = {"external_id": recipient.external_id or recipient.remote_id}
    if recipient.email:
        user["email"] = recipient.email
    if recipient.phone:
        user["phone"] = "".join(ch for ch in recipient.phone if ch.isdigit() or ch == "+")
    user.update(extra)
    return user


def from_provider(provider: str, record: Mapping[str, Any]) -> Recipient:
    """Map a remote record of ``provider`` to a ``Recipient``."""
    provider = Provider(provider)
    if provider is Provider.REDFLAG:
        return from_redflag(record)
    if provider is Provider.SNAPPY:
        return from_snappy(record)
    raise ValueError(f"{provider.label} has no recipient records")
