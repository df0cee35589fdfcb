"""Classifying a valid row against the mirrored recipient: create, update or unchanged.

Custom fields and RedFlag history lists are lists the providers replace whole on update
(CONTRACT-NOTES: RedFlag arrays replace; Snappy "arrays replace"), so an update sends the
recipient's current list with only the row's entries changed or added: custom fields through
``integrations.recipients.recipient_payload`` (the rules the recipient edit form uses too),
history entries matched on their identifying members (``mapping.ENTRY_IDENTITY``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.catalogue import (
    CUSTOM_FIELD_KEY_NAME,
    CUSTOM_FIELD_PREFIX,
    CUSTOM_VALUE_NAME,
    FieldSpec,
    Provider,
    catalogue,
    custom_field_path,
    disabled_paths,
)
from integrations.clients.models import SNAPPY_UPDATABLE
from integrations.importing.mapping import ENTRY_IDENTITY, ENTRY_LABELS, ENTRY_MEMBERS
from integrations.recipients import field_value, recipient_payload, values_differ

CREATE, UPDATE, UNCHANGED, INVALID = "create", "update", "unchanged", "invalid"


@dataclass
class Classified:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    # path → [old, new] for an update; the fields to be set for a create.
    changes: dict[str, list[Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def flatten(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``{"employee": {"department": "X"}}`` → ``{"employee.department": "X"}``."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        if key in {"employee", "owner"} and isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"{key}.{sub}"] = inner
        else:
            flat[key] = value
    return flat


def _same(path: str, old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        if path in {"email", "emailOverride", "owner.email"}:
            return old.casefold() == new.casefold()
        if path in {"birthday", "employee.workingSince"}:
            return old[:10] == new[:10]  # Snappy sends ISO timestamps for dates
        return old == new
    if isinstance(old, list) and isinstance(new, list):
        return sorted(map(str, old)) == sorted(map(str, new))
    if old is None:
        return new in ("", [], None)
    return old == new or str(old) == str(new)


def required_missing(provider: Provider | str, payload: Mapping[str, Any]) -> list[FieldSpec]:
    flat = flatten(payload)
    return [spec for spec in _required_on_create(Provider(provider)) if not flat.get(spec.path)]


@functools.cache
def _required_on_create(provider: Provider) -> tuple[FieldSpec, ...]:
    """The catalogue's fields a create needs, found once: every new row of a preview asks."""
    return tuple(spec for spec in catalogue(provider) if spec.required_on_create)


def classify(
    *,
    provider: Provider | str,
    payload: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    paths: Sequence[str],
    enabled: Iterable[str] | None = None,
) -> Classified:
    """Compare a row's payload with ``current`` (provider-native fields) or plan a create.

    An update sends only the changed fields (the preview lists each as old → new); Snappy's
    nested ``employee`` is sent whole, current values merged, as its update replaces it.
    A changed custom field or history entry sends its whole list (see the module docstring);
    the preview lists each changed custom field by its path (``tags.z_costCentre``) and a
    history entry under its list (``education``) as the entry before → after.

    ``enabled`` (the connection's enabled paths) refuses an update whose custom-field list
    would carry an entry of a disabled custom field: a push job sends it without the record
    beside it, so the client would refuse the whole update (``catalogue.disabled_paths``).
    """
    provider = Provider(provider)
    prefix = CUSTOM_FIELD_PREFIX.get(provider)
    lists = {key for key in payload if key == prefix or key in ENTRY_MEMBERS}
    plain = {key: value for key, value in payload.items() if key not in lists}
    new = flatten(plain)
    if current is None:
        # Without lists, the payload flattens to ``new``: spare flattening it again.
        missing = (
            required_missing(provider, payload)
            if lists
            else [spec for spec in _required_on_create(provider) if not new.get(spec.path)]
        )
        if missing:
            labels = ", ".join(spec.label for spec in missing)
            return Classified(
                INVALID,
                errors={
                    "row": f"New recipient: {provider.label} needs {labels} to create one: "
                    "map a column to it, or set a value for every row."
                },
            )
        changes: dict[str, list[Any]] = {k: [None, v] for k, v in new.items()}
        if lists or not prefix:  # most rows have no custom field or history entry
            for path, value in _custom_values(provider, payload).items():
                changes[path] = [None, value]
            for list_path in ENTRY_MEMBERS:
                for entry in payload.get(list_path) or ():
                    changes[list_path] = [None, entry]
        return Classified(CREATE, dict(payload), changes)
    old = flatten(current)
    changes = {
        path: [old.get(path), value]
        for path, value in new.items()
        if not _same(path, old.get(path), value)
    }
    if provider is Provider.SNAPPY:
        changes = {
            path: change
            for path, change in changes.items()
            if path.partition(".")[0] in SNAPPY_UPDATABLE
        }
    send: dict[str, Any] = {}
    for path, (_, value) in changes.items():
        parent, dot, child = path.partition(".")
        if dot:
            if parent not in send:
                base = current.get(parent)
                send[parent] = dict(base) if isinstance(base, dict) else {}
            send[parent][child] = value
        else:
            send[path] = value
    errors: dict[str, str] = {}
    if prefix and prefix in payload:
        _update_custom(provider, payload, current, paths, enabled, send, changes, errors)
    for list_path in ENTRY_MEMBERS:
        if payload.get(list_path):
            _update_entries(list_path, payload[list_path][0], current, paths, send, changes, errors)
    if errors:
        return Classified(INVALID, errors=errors)
    if not changes:
        return Classified(UNCHANGED)
    return Classified(UPDATE, send, changes)


# -- custom fields ---------------------------------------------------------------------------


def _custom_values(provider: Provider, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The row's custom fields by path: ``{"tags.z_costCentre": "CC-7"}``."""
    prefix = CUSTOM_FIELD_PREFIX[provider]
    key_name, value_name = CUSTOM_FIELD_KEY_NAME[provider], CUSTOM_VALUE_NAME[provider]
    return {
        custom_field_path(provider, str(entry[key_name])): entry.get(value_name)
        for entry in payload.get(prefix) or ()
    }


def _column(paths: Sequence[str], path: str) -> str:
    return str(paths.index(path)) if path in paths else "row"


def _update_custom(
    provider: Provider,
    payload: Mapping[str, Any],
    current: Mapping[str, Any],
    paths: Sequence[str],
    enabled: Iterable[str] | None,
    send: dict[str, Any],
    changes: dict[str, list[Any]],
    errors: dict[str, str],
) -> None:
    """Put the changed custom fields into ``changes`` and the whole new list into ``send``."""
    changed: dict[str, Any] = {}
    for path, value in _custom_values(provider, payload).items():
        old = field_value(provider, current, path)
        if isinstance(old, list) and isinstance(value, str):
            value = [value]  # a list tag stays a list, even of one value
        elif isinstance(old, str) and old and isinstance(value, list):
            errors[_column(paths, path)] = (
                f"{path.partition('.')[2]} holds one text value at {provider.label}, not a "
                f"list: write it without semicolons (this cell has {len(value)} values)."
            )
            continue
        if values_differ(old, value):
            changed[path] = value
            changes[path] = [old, value]
    if not changed or errors:
        return
    prefix = CUSTOM_FIELD_PREFIX[provider]
    entries = recipient_payload(provider, changed, current)[prefix]
    if enabled is not None:
        carried = disabled_paths(provider, {prefix: entries}, enabled)
        if carried:
            keys = ", ".join(path.partition(".")[2] for path in carried)
            message = (
                f"{provider.label} replaces the whole custom-field list, so this update would "
                f"also resend {keys}, which this connection does not enable. Enable "
                f"{'it' if len(carried) == 1 else 'them'} in the field settings, or leave "
                "this recipient's custom-field cells empty."
            )
            for path in changed:
                errors[_column(paths, path)] = message
            return
    send[prefix] = entries


# -- RedFlag history entries ---------------------------------------------------------------------


def _fold(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().casefold()


def _without_id(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in entry.items() if name != "_id"}


def _update_entries(
    list_path: str,
    entry: Mapping[str, Any],
    current: Mapping[str, Any],
    paths: Sequence[str],
    send: dict[str, Any],
    changes: dict[str, list[Any]],
    errors: dict[str, str],
) -> None:
    """Add the row's entry to the recipient's list, or update the entry it names.

    An entry of the list is the same one when every identifying member is equal (empty
    equals empty); failing that, when the identifying members the row fills are equal. Two
    such entries are ambiguous: the row is refused rather than guessing.
    """
    existing = current.get(list_path)
    items = [dict(item) for item in existing if isinstance(item, dict)] if existing else []
    identity = ENTRY_IDENTITY[list_path]
    wanted = {name: _fold(entry.get(name)) for name in identity}
    exact = [i for i, item in enumerate(items) if all(
        _fold(item.get(name)) == wanted[name] for name in identity
    )]  # fmt: skip
    given = [name for name in identity if wanted[name]]
    loose = [i for i, item in enumerate(items) if all(
        _fold(item.get(name)) == wanted[name] for name in given
    )]  # fmt: skip
    matches = exact or loose
    if len(matches) > 1:
        label = ENTRY_LABELS[list_path].lower()
        column = next(
            (_column(paths, f"{list_path}.{n}") for n in given if f"{list_path}.{n}" in paths),
            "row",
        )
        missing = [name for name in identity if name not in given]
        errors[column] = (
            f"The recipient has {len(matches)} {label} entries like this one: fill in the "
            f"{' and '.join(missing) or 'other identifying columns'} to say which to update."
        )
        return
    if matches:
        index = matches[0]
        before = items[index]
        after = {**before, **entry}
        if _without_id(after) == _without_id(before):
            return
        items[index] = after
        changes[list_path] = [_without_id(before), _without_id(after)]
    else:
        items.append(dict(entry))
        changes[list_path] = [None, dict(entry)]
    send[list_path] = items
