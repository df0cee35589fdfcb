"""Classifying a valid row against the mirrored recipient: create, update or unchanged."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.catalogue import FieldSpec, Provider, catalogue
from integrations.clients.models import SNAPPY_UPDATABLE

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
    return [
        spec for spec in catalogue(provider) if spec.required_on_create and not flat.get(spec.path)
    ]


def classify(
    *,
    provider: Provider | str,
    payload: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    paths: Sequence[str],
) -> Classified:
    """Compare a row's payload with ``current`` (provider-native fields) or plan a create.

    An update sends only the changed fields (the preview lists each as old → new); Snappy's
    nested ``employee`` is sent whole, current values merged, as its update replaces it.
    """
    provider = Provider(provider)
    new = flatten(payload)
    if current is None:
        missing = required_missing(provider, payload)
        if missing:
            labels = ", ".join(spec.label for spec in missing)
            return Classified(
                INVALID,
                errors={"row": f"New recipient: {provider.label} needs {labels} to create one."},
            )
        return Classified(CREATE, dict(payload), {k: [None, v] for k, v in new.items()})
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
    if not changes:
        return Classified(UNCHANGED)
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
    return Classified(UPDATE, send, changes)
