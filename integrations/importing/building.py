"""Preview batches of rows: clean the cells, then compare each row with the mirror.

Cleaning the cells (phone numbers above all) and comparing each row with the recipient it
names are most of a preview's work, and need nothing but the cells, the mapping and the
mirrored records of the batch: the caller asks the database for those (a row's identifier is
its cell as written, known before the row is cleaned) and ``RowPreviewer`` does the rest.

Each row's result is a pure function of the cells, the spec and the records, so a large
file's preview is split into row ranges previewed by separate Celery tasks, on any worker
(``dashboard.imports.services``): they rebuild the same ``RowPreviewer`` from the spec as
JSON (``spec_dumps``/``spec_loads``) and preview in the language the spec names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from integrations.catalogue import FieldSpec, FieldType, Provider
from integrations.clients.models import from_provider
from integrations.importing.cells import RowBuilder
from integrations.importing.compare import INVALID, classify

# (identifier path, lower-cased identifier) → (remote id, provider record) of the live
# mirrored recipients a batch names; the record as the database gave it (JSON text on
# PostgreSQL, decoded elsewhere).
Mirror = dict[tuple[str, str], tuple[str, Any]]
# One row as previewed, in a tuple (or a list, read back from a chunk's stored results):
# kind, then payload, errors and changes as JSON text, identifier, remote id, the cells' own
# errors (a duplicate of an earlier row keeps those), and the cells' warnings as JSON text.
Previewed = tuple[str, str, str, str, str, str, dict[str, str], str]


@dataclass(frozen=True)
class BuilderSpec:
    """What a ``RowBuilder`` is made from, stored once for a preview's chunk tasks."""

    provider: Provider
    fields: tuple[FieldSpec, ...]
    paths: tuple[str, ...]
    width: int
    default_region: str | None
    language: str | None = None
    # Per column, how its dates are read ("" = any unambiguous spelling); see ``dates``.
    date_orders: tuple[str, ...] = ()
    # (path, value): what every row gets for a field the file lacks or leaves empty.
    constants: tuple[tuple[str, str], ...] = ()
    # (path, ((name as written, value sent), …)): values the provider defines, by name.
    lookups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    # (path, message): a provider list that could not be read; every value of the field is
    # refused with the message rather than sent unchecked.
    unreadable: tuple[tuple[str, str], ...] = ()

    def builder(self) -> RowBuilder:
        return RowBuilder(
            provider=self.provider,
            fields=self.fields,
            paths=self.paths,
            width=self.width,
            default_region=self.default_region,
            constants=self.constants,
            lookups=self.lookups,
            unreadable=self.unreadable,
            date_orders=self.date_orders,
        )


def spec_dumps(spec: BuilderSpec) -> bytes:
    """Write ``spec`` as JSON, for the chunk tasks of a preview (``spec_loads``)."""
    return orjson.dumps(asdict(spec))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def spec_loads(data: bytes) -> BuilderSpec:
    """Read a spec written by ``spec_dumps``: the same spec, field for field."""
    raw = orjson.loads(data)
    fields = tuple(
        FieldSpec(**{**field, "type": FieldType(field["type"]), "choices": tuple(field["choices"])})
        for field in raw.pop("fields")
    )
    values = {key: _tuples(value) for key, value in raw.items()}
    return BuilderSpec(**{**values, "provider": Provider(raw["provider"]), "fields": fields})


_stdlib_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps_json(value: Any) -> str:
    """JSON text of a preview value: orjson (a tenth of the standard encoder's time on a
    row's payload), the standard encoder for what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _stdlib_dumps(value)


class RowPreviewer:
    """Clean rows and classify each against the recipient it names: create, update (what
    changes), unchanged or invalid (why)."""

    def __init__(self, spec: BuilderSpec) -> None:
        self.spec = spec
        self.builder = spec.builder()

    def identifiers(self, rows: Sequence[Sequence[str]]) -> dict[str, list[str]]:
        """The rows' identifiers by path, for the mirror lookup of their batch."""
        by_path: dict[str, list[str]] = {}
        for cells in rows:
            identifier, path = self.builder.identify(cells)
            if identifier:
                by_path.setdefault(path, []).append(identifier)
        return by_path

    def preview(self, rows: Sequence[Sequence[str]], mirror: Mirror) -> list[Previewed]:
        results = []
        for cells in rows:
            built = self.builder.build(cells)
            kind, payload, changes, errors = INVALID, {}, {}, built.errors
            remote_id = ""
            if not errors:
                key = (built.identifier_path, built.identifier.lower())
                remote_id, record = mirror.get(key, ("", None))
                if isinstance(record, str):
                    record = orjson.loads(record)
                builder = self.builder
                outcome = classify(
                    provider=builder.provider,
                    payload=built.payload,
                    current=dict(from_provider(builder.provider, record).fields)
                    if record
                    else None,
                    paths=builder.paths,
                    enabled=builder.enabled_paths,
                )
                kind, payload, changes, errors = (
                    outcome.kind, outcome.payload, outcome.changes, outcome.errors,
                )  # fmt: skip
            row = (
                kind, dumps_json(payload), dumps_json(errors), dumps_json(changes),
                built.identifier, remote_id, built.errors,
                dumps_json(built.warnings) if built.warnings else "{}",
            )  # fmt: skip
            results.append(row)
        return results
