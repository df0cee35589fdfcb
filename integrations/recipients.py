"""Read and write a recipient's fields in the shape its provider uses.

Every field is named by its catalogue path (``firstName``, ``employee.department``,
``tags.z_costCentre``). These are the provider's rules, shared by the recipient pages and the
import preview: which fields an update does not take, how a path is read out of a record,
when two values differ, and how changes become an update (or create) body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.catalogue import (
    CUSTOM_FIELD_KEY_NAME,
    CUSTOM_FIELD_PREFIX,
    CUSTOM_VALUE_NAME,
    Provider,
)

# Fields the provider's update does not take (the create does), with the reason in words.
UPDATE_LOCKED = {
    Provider.REDFLAG: {
        # The endpoint document lists no email in the update body: the address is the key
        # the record is found by (CONTRACT-NOTES "RedFlag").
        "email": "RedFlag's update takes no email: the address identifies the record",
    },
    Provider.SNAPPY: {
        "externalId": "Snappy sets this on create only",
        "owner.firstName": "Snappy sets this on create only",
        "owner.lastName": "Snappy sets this on create only",
        "owner.email": "Snappy sets this on create only",
    },
}


def field_value(provider: Provider | str, fields: Mapping[str, Any], path: str) -> Any:
    """Read ``path`` out of provider-native ``fields``; None when the record lacks it."""
    provider = Provider(provider)
    prefix = CUSTOM_FIELD_PREFIX.get(provider)
    if prefix and path.startswith(prefix + "."):
        key = path[len(prefix) + 1 :]
        entries = fields.get(prefix)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and str(entry.get(CUSTOM_FIELD_KEY_NAME[provider])) == key:
                return entry.get(CUSTOM_VALUE_NAME[provider])
        return None
    if "." in path:
        parent, child = path.split(".", 1)
        value = fields.get(parent)
        return value.get(child) if isinstance(value, dict) else None
    return fields.get(path)


def custom_keys(provider: Provider | str, fields: Mapping[str, Any]) -> list[str]:
    """List the custom-field keys present in a record, in its order."""
    provider = Provider(provider)
    prefix = CUSTOM_FIELD_PREFIX.get(provider)
    entries = fields.get(prefix) if prefix else None
    keys = []
    for entry in entries if isinstance(entries, list) else []:
        key = entry.get(CUSTOM_FIELD_KEY_NAME[provider]) if isinstance(entry, dict) else None
        if key is not None and str(key) not in keys:
            keys.append(str(key))
    return keys


def _comparable(value: Any) -> Any:
    """Values as compared for "differs": empty is empty, list entries without their ``_id``."""
    if value in (None, "", [], {}):
        return None
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k != "_id"}
    return value


def values_differ(a: Any, b: Any) -> bool:
    """Tell whether two values differ once empties and the providers' ``_id``s are ignored."""
    return _comparable(a) != _comparable(b)


def _removed(value: Any) -> bool:
    return value is None or value == "" or value == []


def recipient_payload(
    provider: Provider | str, changes: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """Turn changes by catalogue path into the provider's update (or create) body.

    Nested paths become objects (``employee.department`` → ``{"employee": {...}}``; Snappy
    merges one level inside ``employee``). Custom fields live in one list that the provider
    replaces as a whole (CONTRACT-NOTES: RedFlag arrays replace; Snappy "arrays replace"), so
    a change to one of them sends every entry of ``current``: the changed ones with their new
    value, the rest exactly as they are (the client lets disabled entries ride along only
    unchanged), a cleared one left out, a new one appended.
    """
    provider = Provider(provider)
    prefix = CUSTOM_FIELD_PREFIX.get(provider)
    payload: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for path, value in changes.items():
        if prefix and path.startswith(prefix + "."):
            custom[path[len(prefix) + 1 :]] = value
        elif "." in path:
            parent, child = path.split(".", 1)
            payload.setdefault(parent, {})[child] = value
        else:
            payload[path] = value
    if prefix and custom:
        key_name, value_name = CUSTOM_FIELD_KEY_NAME[provider], CUSTOM_VALUE_NAME[provider]
        entries: list[dict[str, Any]] = []
        existing = current.get(prefix)
        for entry in existing if isinstance(existing, list) else []:
            if not isinstance(entry, dict):
                continue
            key = str(entry.get(key_name))
            if key not in custom:
                entries.append(dict(entry))
                continue
            new = custom.pop(key)
            if not _removed(new):
                entries.append({**entry, value_name: new})
        entries.extend(
            {key_name: key, value_name: value}
            for key, value in custom.items()
            if not _removed(value)
        )
        payload[prefix] = entries
    return payload
