"""A tiny JSON-schema checker that words its errors the way Ajv does.

Snappy (through an OpenAPI validator) and Parcelvoy (``core/validate.ts``) both report Ajv's
messages ("must have required property 'x'", "must NOT have additional properties"), and
clients show those to admins, so the sandbox words them the same. Only the keywords the two
providers' schemas use are supported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

Schema = Mapping[str, Any]

# ajv-formats' "fast" email format, which an OpenAPI validator applies to "format: email".
EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?",
    re.IGNORECASE | re.ASCII,
)
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
DATE_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})",
    re.ASCII,
)

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "number": (int, float),
    "integer": (int,),
    "null": (type(None),),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed keyword: where (``/user/email``) and Ajv's message."""

    path: str
    message: str
    keyword: str


def parse_date_or_datetime(value: str) -> date | None:
    """Return the UTC calendar date of ``YYYY-MM-DD`` or an ISO timestamp, else ``None``.

    CONTRACT-NOTES Snappy: ``birthday`` is documented as YYYY-MM-DD but the examples are
    ISO timestamps, so both are accepted.
    """
    try:
        if DATE_RE.fullmatch(value):
            return date.fromisoformat(value)
        if DATE_TIME_RE.fullmatch(value):
            text = value[:10] + "T" + value[11:]
            if text[-1] in "zZ":
                text = text[:-1] + "+00:00"
            return datetime.fromisoformat(text).astimezone(UTC).date()
    except ValueError:
        return None
    return None


@functools.lru_cache(maxsize=64)
def js_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a JavaScript regex source; its ``$`` matches only at the very end.

    Python's ``$`` also matches before a final newline, which would let ``"US\\n"`` pass
    ``^[A-Za-z]+$``.
    """
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern), re.ASCII)


def _is_type(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    for name in names:
        if name in ("number", "integer") and isinstance(value, bool):
            continue
        if isinstance(value, _JSON_TYPES[name]):
            return True
    return False


def _type_message(expected: str | list[str]) -> str:
    return f"must be {expected if isinstance(expected, str) else ','.join(expected)}"


def validate(value: Any, schema: Schema) -> list[Problem]:
    """Return every problem (Ajv ``allErrors``) in Ajv's order: type, then required,
    additional properties, then each property in schema order."""
    problems: list[Problem] = []
    _check(value, schema, "", problems)
    return problems


def _check(value: Any, schema: Schema, path: str, problems: list[Problem]) -> None:
    expected = schema.get("type")
    if expected is not None and not _is_type(value, expected):
        problems.append(Problem(path, _type_message(expected), "type"))
        return
    if isinstance(value, str):
        _check_string(value, schema, path, problems)
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(v) for v in schema["enum"])
        problems.append(
            Problem(path, f"must be equal to one of the allowed values: {allowed}", "enum")
        )
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            message = f"must NOT have fewer than {schema['minItems']} items"
            problems.append(Problem(path, message, "minItems"))
        item_schema = schema.get("items")
        if item_schema is not None:
            for index, item in enumerate(value):
                _check(item, item_schema, f"{path}/{index}", problems)
    if isinstance(value, dict):
        _check_object(value, schema, path, problems)


def _check_string(value: str, schema: Schema, path: str, problems: list[Problem]) -> None:
    if len(value) < schema.get("minLength", 0):
        message = f"must NOT have fewer than {schema['minLength']} characters"
        problems.append(Problem(path, message, "minLength"))
    pattern = schema.get("pattern")
    if pattern is not None and not js_pattern(pattern).search(value):
        problems.append(Problem(path, f'must match pattern "{pattern}"', "pattern"))
    fmt = schema.get("format")
    if fmt == "email" and not EMAIL_RE.fullmatch(value):
        problems.append(Problem(path, 'must match format "email"', "format"))
    elif fmt == "date-or-date-time" and parse_date_or_datetime(value) is None:
        problems.append(Problem(path, 'must match format "date"', "format"))


def _check_object(
    value: dict[str, Any], schema: Schema, path: str, problems: list[Problem]
) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            problems.append(Problem(path, f"must have required property '{name}'", "required"))
    properties: Mapping[str, Schema] = schema.get("properties", {})
    if schema.get("additionalProperties", True) is False:
        for name in value:
            if name not in properties:
                problems.append(
                    Problem(f"{path}/{name}", "must NOT have additional properties", "additional")
                )
    for name, sub_schema in properties.items():
        if name in value and not (value[name] is None and sub_schema.get("nullable")):
            _check(value[name], sub_schema, f"{path}/{name}", problems)
