"""Field catalogues: every writable profile field each provider documents.

A field is named by its provider-native path (``firstName``, ``employee.department``) so a
payload can be checked against the connection's enabled fields without any mapping table.
Custom fields get a path of their own: RedFlag tags are ``tags.<key>`` (keys start with
``z_``, CONTRACT-NOTES "RedFlag"), Snappy custom fields are ``recipientCustomFields.<fieldName>``.

This module is plain data plus pure functions; it knows nothing of Django models, so the
clients and the sync engine can enforce field enablement with nothing but a set of paths.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Provider(enum.StrEnum):
    REDFLAG = "redflag"
    SNAPPY = "snappy"
    PARCELVOY = "parcelvoy"

    @property
    def label(self) -> str:
        """Name the provider in a sentence ("RedFlag", "Snappy", "Parcelvoy")."""
        return PROVIDER_LABELS[self]

    @property
    def api_name(self) -> str:
        """Name the provider's API where a kind of connection is chosen or shown."""
        return PROVIDER_API_NAMES[self]


# The one spelling of each provider's name: clients, pages and messages all use these.
PROVIDER_LABELS = {
    Provider.REDFLAG: "RedFlag",
    Provider.SNAPPY: "Snappy",
    Provider.PARCELVOY: "Parcelvoy",
}
PROVIDER_API_NAMES = {
    Provider.REDFLAG: "RedFlag Recipient API",
    Provider.SNAPPY: "Snappy Recipients API",
    Provider.PARCELVOY: "Campaign trigger (Parcelvoy)",
}


class FieldType(enum.StrEnum):
    STRING = "string"
    EMAIL = "email"
    PHONE = "phone"
    CALLING_CODE = "calling_code"
    COUNTRY = "country"
    BOOLEAN = "boolean"
    DATE = "date"
    URL = "url"
    CHOICE = "choice"
    ID_LIST = "id_list"
    OBJECT_LIST = "object_list"
    ACCOUNTS = "accounts"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        return FIELD_TYPE_LABELS[self]


FIELD_TYPE_LABELS = {
    FieldType.STRING: "text",
    FieldType.EMAIL: "email address",
    FieldType.PHONE: "phone number",
    FieldType.CALLING_CODE: "calling code",
    FieldType.COUNTRY: "country",
    FieldType.BOOLEAN: "yes/no",
    FieldType.DATE: "date",
    FieldType.URL: "web address",
    FieldType.CHOICE: "choice",
    FieldType.ID_LIST: "list of ids",
    FieldType.OBJECT_LIST: "list of entries",
    FieldType.ACCOUNTS: "account list",
    FieldType.CUSTOM: "custom",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    path: str
    label: str
    type: FieldType
    group: str
    format: str = ""
    identifies: bool = False
    required_on_create: bool = False
    enabled_by_default: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    custom: bool = False


_F = FieldSpec
_T = FieldType

REDFLAG_FIELDS: tuple[FieldSpec, ...] = (
    _F(
        "email",
        "Email",
        _T.EMAIL,
        "Identity",
        identifies=True,
        required_on_create=True,
        enabled_by_default=True,
        help="Must be unique across the location.",
    ),
    _F(
        "firstName",
        "First name",
        _T.STRING,
        "Identity",
        required_on_create=True,
        enabled_by_default=True,
    ),
    _F(
        "lastName",
        "Last name",
        _T.STRING,
        "Identity",
        required_on_create=True,
        enabled_by_default=True,
    ),
    _F("preferredName", "Preferred name", _T.STRING, "Identity", enabled_by_default=True),
    _F("mobile", "Mobile number", _T.PHONE, "Contact", format="digits, without country code"),
    _F("mobileCountry", "Mobile country code", _T.CALLING_CODE, "Contact", format="1-4 digits"),
    _F("phone", "Phone number", _T.PHONE, "Contact", format="digits, without country code"),
    _F("phoneCountry", "Phone country code", _T.CALLING_CODE, "Contact", format="1-4 digits"),
    _F("fax", "Fax number", _T.PHONE, "Contact", format="digits, without country code"),
    _F("faxCountry", "Fax country code", _T.CALLING_CODE, "Contact", format="1-4 digits"),
    _F("country", "Country", _T.COUNTRY, "Contact", format="ISO 3166-1 alpha-2"),
    _F("title", "Job title", _T.STRING, "Work"),
    _F("department", "Department", _T.STRING, "Work"),
    _F("location", "Location", _T.STRING, "Work"),
    _F("orgId", "Organization ID", _T.STRING, "Work", identifies=True),
    _F("sfHireDate", "Hire date (SuccessFactors)", _T.DATE, "Work", format="YYYYMMDD"),
    _F("linkedinUrl", "LinkedIn URL", _T.URL, "Work"),
    _F(
        "active",
        "Active",
        _T.BOOLEAN,
        "Status and consent",
        help="If false, the recipient cannot log in or receive notifications.",
    ),
    _F("allowEmail", "Allow email", _T.BOOLEAN, "Status and consent"),
    _F("allowSms", "Allow SMS", _T.BOOLEAN, "Status and consent"),
    _F("exclusive", "Exclusive (private)", _T.BOOLEAN, "Status and consent"),
    _F(
        "education",
        "Education",
        _T.OBJECT_LIST,
        "History",
        format="school, degree, major, country, start/end YYYYMMDD",
    ),
    _F(
        "employment",
        "Employment",
        _T.OBJECT_LIST,
        "History",
        format="company, employer, title, country, start/end YYYYMMDD",
    ),
    _F(
        "certification",
        "Certifications",
        _T.OBJECT_LIST,
        "History",
        format="name, institution, start/end YYYYMMDD",
    ),
    _F("skills", "Skills", _T.ID_LIST, "Relationships", format="list of skill _id values"),
    _F("reportsTo", "Reports to", _T.ID_LIST, "Relationships", format="list of recipient _id"),
    _F("sfReportsToUserIds", "Reports to (SuccessFactors ids)", _T.ID_LIST, "Relationships"),
    _F("supports", "Supports", _T.ID_LIST, "Relationships", format="list of recipient _id"),
    _F("supportedBy", "Supported by", _T.ID_LIST, "Relationships", format="list of recipient _id"),
)

SNAPPY_FIELDS: tuple[FieldSpec, ...] = (
    _F(
        "email",
        "Email",
        _T.EMAIL,
        "Identity",
        identifies=True,
        enabled_by_default=True,
        help="Primary identifier of the recipient.",
    ),
    _F(
        "firstName",
        "First name",
        _T.STRING,
        "Identity",
        required_on_create=True,
        enabled_by_default=True,
    ),
    _F("lastName", "Last name", _T.STRING, "Identity", enabled_by_default=True),
    _F(
        "externalId",
        "External id",
        _T.STRING,
        "Identity",
        identifies=True,
        help="Your HRIS or CRM id for this recipient.",
    ),
    _F(
        "emailOverride",
        "Notification email",
        _T.EMAIL,
        "Contact",
        help="Used instead of the primary email for notifications.",
    ),
    _F("mobilePhone", "Mobile phone", _T.PHONE, "Contact", format="international, e.g. +1 415…"),
    _F(
        "country",
        "Country",
        _T.COUNTRY,
        "Contact",
        required_on_create=True,
        enabled_by_default=True,
        format="ISO 3166-1 alpha-2",
    ),
    _F("birthday", "Birthday", _T.DATE, "Personal", format="YYYY-MM-DD"),
    _F("type", "Recipient type", _T.CHOICE, "Work", choices=("employee",)),
    _F("employee.department", "Department", _T.STRING, "Work"),
    _F("employee.workingSince", "Start date", _T.DATE, "Work", format="YYYY-MM-DD"),
    _F("owner.firstName", "Owner first name", _T.STRING, "Gifting owner"),
    _F("owner.lastName", "Owner last name", _T.STRING, "Gifting owner"),
    _F("owner.email", "Owner email", _T.EMAIL, "Gifting owner"),
    _F(
        "accounts",
        "Accounts",
        _T.ACCOUNTS,
        "Accounts",
        required_on_create=True,
        enabled_by_default=True,
        help="Replaces the whole list on update: fetch, change, then send the full list.",
    ),
)

# Parcelvoy has no recipient profile to write: a trigger carries a user for one send.
PARCELVOY_FIELDS: tuple[FieldSpec, ...] = (
    _F(
        "external_id",
        "External id",
        _T.STRING,
        "User",
        identifies=True,
        required_on_create=True,
        enabled_by_default=True,
    ),
    _F("email", "Email", _T.EMAIL, "User", identifies=True, enabled_by_default=True),
    _F("phone", "Phone", _T.PHONE, "User", format="E.164", enabled_by_default=True),
    _F("device_token", "Device token", _T.STRING, "User", enabled_by_default=True),
    _F("timezone", "Timezone", _T.STRING, "User", format="IANA name", enabled_by_default=True),
    _F("locale", "Locale", _T.STRING, "User", format="BCP 47 tag", enabled_by_default=True),
)

CATALOGUES: Mapping[Provider, tuple[FieldSpec, ...]] = {
    Provider.REDFLAG: REDFLAG_FIELDS,
    Provider.SNAPPY: SNAPPY_FIELDS,
    Provider.PARCELVOY: PARCELVOY_FIELDS,
}

# Where a provider keeps its custom fields, and the rule for their keys.
CUSTOM_FIELD_PREFIX = {
    Provider.REDFLAG: "tags",
    Provider.SNAPPY: "recipientCustomFields",
}
REDFLAG_TAG_KEY_RE = re.compile(r"^z_[A-Za-z0-9_]{1,60}$")
SNAPPY_CUSTOM_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def catalogue(provider: Provider | str) -> tuple[FieldSpec, ...]:
    return CATALOGUES[Provider(provider)]


def supports_custom_fields(provider: Provider | str) -> bool:
    return Provider(provider) in CUSTOM_FIELD_PREFIX


def field_spec(provider: Provider | str, path: str) -> FieldSpec | None:
    for spec in catalogue(provider):
        if spec.path == path:
            return spec
    return None


def custom_field_path(provider: Provider | str, key: str) -> str:
    return f"{CUSTOM_FIELD_PREFIX[Provider(provider)]}.{key}"


def custom_field_key_error(provider: Provider | str, key: str) -> str | None:
    """Return why ``key`` cannot name a custom field of ``provider``, or None if it can."""
    provider = Provider(provider)
    if provider not in CUSTOM_FIELD_PREFIX:
        return "This provider has no custom fields."
    if not key:
        return "Enter a key."
    if any(ch.isspace() for ch in key):
        return "A key cannot contain spaces."
    if provider is Provider.REDFLAG:
        if not key.startswith("z_"):
            return 'RedFlag custom field keys must start with "z_" (for example z_costCentre).'
        if not REDFLAG_TAG_KEY_RE.match(key):
            return 'Use "z_" followed by up to 60 letters, digits or underscores.'
    elif not SNAPPY_CUSTOM_FIELD_RE.match(key):
        return "Start with a letter; use up to 64 letters, digits or underscores."
    return None


def payload_field_paths(provider: Provider | str, payload: Mapping[str, Any]) -> set[str]:
    """List the catalogue paths a provider-native payload writes.

    Nested objects (``employee``, ``owner``) count per sub-field, custom fields per key, so a
    payload is allowed only if every path it writes is enabled.
    """
    provider = Provider(provider)
    paths: set[str] = set()
    for key, value in payload.items():
        if provider is Provider.SNAPPY and key in {"employee", "owner"} and isinstance(value, dict):
            paths.update(f"{key}.{sub}" for sub in value)
        elif provider is Provider.REDFLAG and key == "tags" and isinstance(value, list):
            paths.update(_custom_paths(provider, value, "key"))
            if not value:
                paths.add("tags")
        elif (
            provider is Provider.SNAPPY
            and key == "recipientCustomFields"
            and isinstance(value, list)
        ):
            paths.update(_custom_paths(provider, value, "fieldName"))
            if not value:
                paths.add("recipientCustomFields")
        else:
            paths.add(key)
    return paths


def _custom_paths(provider: Provider, items: Iterable[Any], key_name: str) -> Iterable[str]:
    for item in items:
        key = item.get(key_name) if isinstance(item, dict) else None
        yield custom_field_path(provider, str(key) if key is not None else "")


# The key that names a custom-field entry inside its provider's list.
CUSTOM_FIELD_KEY_NAME = {Provider.REDFLAG: "key", Provider.SNAPPY: "fieldName"}
# The member that holds a custom field's value: RedFlag tags are ``{key, value}``, Snappy
# custom fields ``{fieldName, displayName, fieldValue}`` (snappy-create-recipient.txt).
CUSTOM_VALUE_NAME = {Provider.REDFLAG: "value", Provider.SNAPPY: "fieldValue"}


def _entry_value(item: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as compared for "unchanged": every member but the provider's own ``_id``."""
    return {name: value for name, value in item.items() if name != "_id"}


def _custom_paths_written(
    provider: Provider, items: list[Any], current: Mapping[str, Any]
) -> set[str]:
    """The custom-field paths a whole-list write changes, given the record as it is now.

    Both providers replace the list on update (CONTRACT-NOTES: RedFlag arrays replace, Snappy
    "arrays replace"), so changing one entry means sending every entry. An entry whose value is
    the same as in ``current`` is carried, not changed; an entry of ``current`` missing from
    the list is removed, which is a change to its key.
    """
    key_name = CUSTOM_FIELD_KEY_NAME[provider]
    prefix = CUSTOM_FIELD_PREFIX[provider]
    before: dict[str, dict[str, Any]] = {}
    existing = current.get(prefix)
    for item in existing if isinstance(existing, list) else []:
        if isinstance(item, dict) and item.get(key_name) is not None:
            before[str(item[key_name])] = _entry_value(item)
    written: set[str] = set()
    sent: set[str] = set()
    for item in items:
        key = item.get(key_name) if isinstance(item, dict) else None
        key = str(key) if key is not None else ""
        sent.add(key)
        if not (isinstance(item, dict) and key in before and before[key] == _entry_value(item)):
            written.add(custom_field_path(provider, key))
    written.update(custom_field_path(provider, key) for key in before if key not in sent)
    if not items:
        written.add(prefix)
    return written


def disabled_paths(
    provider: Provider | str,
    payload: Mapping[str, Any],
    enabled: Iterable[str],
    current: Mapping[str, Any] | None = None,
) -> list[str]:
    """Return the paths in ``payload`` that are not enabled, sorted; empty means allowed.

    An empty custom-field list (clearing every tag) needs the container path itself, which is
    enabled when any custom field of that provider is.

    ``current`` is the record as it is now (provider-native fields, e.g. ``Recipient.fields``).
    With it, a custom-field list is judged entry by entry: an entry whose key is disabled but
    whose value is unchanged from ``current`` is carried along and allowed, and an entry of
    ``current`` left out of the list counts as a change to its key (the list replaces).
    """
    provider = Provider(provider)
    enabled_set = set(enabled)
    prefix = CUSTOM_FIELD_PREFIX.get(provider)
    if prefix and any(p.startswith(prefix + ".") for p in enabled_set):
        enabled_set.add(prefix)
    if current is not None and prefix and isinstance(payload.get(prefix), list):
        others = {key: value for key, value in payload.items() if key != prefix}
        paths = payload_field_paths(provider, others)
        paths |= _custom_paths_written(provider, payload[prefix], current)
    else:
        paths = payload_field_paths(provider, payload)
    return sorted(p for p in paths if p not in enabled_set)


def default_enabled_paths(provider: Provider | str) -> set[str]:
    return {spec.path for spec in catalogue(provider) if spec.enabled_by_default}


def enabled_paths(
    provider: Provider | str, settings: Iterable[tuple[str, bool, bool]]
) -> frozenset[str]:
    """The paths a connection may send, from its stored ``(path, enabled, custom)`` settings.

    A catalogue field without a stored setting uses its default; a custom field counts only
    if it is stored (and enabled). Stored paths the catalogue no longer knows are ignored.
    """
    stored = {path: (enabled, custom) for path, enabled, custom in settings}
    paths = set()
    for spec in catalogue(provider):
        enabled, _ = stored.get(spec.path, (spec.enabled_by_default, False))
        if enabled:
            paths.add(spec.path)
    prefix = CUSTOM_FIELD_PREFIX.get(Provider(provider))
    if prefix:
        paths.update(
            path
            for path, (enabled, custom) in stored.items()
            if custom and enabled and path.startswith(prefix + ".")
        )
    return frozenset(paths)
