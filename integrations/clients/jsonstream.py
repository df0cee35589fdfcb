"""Walk a large JSON reply one array element at a time.

A RedFlag recipient list may hold every recipient of a location in one reply (tens of
thousands of large objects, CONTRACT-NOTES "RedFlag"). ``json.loads`` would hold the raw text
and a full object tree at once; these helpers keep one decoded text and parse one element at a
time with ``JSONDecoder.raw_decode`` (C speed, no slicing copies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


class JSONShapeError(ValueError):
    """The text is not the JSON shape the caller expects (or not JSON at all)."""


def _skip_ws(text: str, index: int) -> int:
    match = _WS.match(text, index)
    return match.end() if match else index


def _decode_at(text: str, index: int) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        raise JSONShapeError(f"invalid JSON at character {exc.pos}") from None


def _array_items(text: str, index: int) -> Iterator[tuple[Any, int]]:
    """Yield ``(element, index after it)`` for the array whose ``[`` is at ``index``."""
    if text[index : index + 1] != "[":
        raise JSONShapeError("expected an array")
    index = _skip_ws(text, index + 1)
    if text[index : index + 1] == "]":
        return
    while True:
        value, index = _decode_at(text, index)
        index = _skip_ws(text, index)
        separator = text[index : index + 1]
        if separator == ",":
            yield value, _skip_ws(text, index + 1)
            index = _skip_ws(text, index + 1)
        elif separator == "]":
            yield value, index + 1
            return
        else:
            raise JSONShapeError("array not terminated (truncated reply?)")


def iter_array(text: str, index: int) -> Iterator[Any]:
    """Yield the elements of the JSON array whose ``[`` is at ``text[index]``."""
    for value, _ in _array_items(text, index):
        yield value


def skip_array(text: str, index: int) -> tuple[int, int]:
    """Validate the array at ``index`` without keeping its elements; return (count, end)."""
    count = 0
    end = _skip_ws(text, index + 1)
    if text[index : index + 1] == "[" and text[end : end + 1] == "]":
        return 0, end + 1
    for item in _array_items(text, index):
        count += 1
        end = item[1]
    return count, end


def scan_object(text: str, array_key: str) -> tuple[dict[str, Any], int | None, int]:
    """Parse a top-level JSON object, all but the array under ``array_key``.

    Return the other members, the index of that array's ``[`` (None when the key is absent
    or not an array) and the array's length. The array is fully validated (a truncated reply
    fails here, before any element is handed out) but none of its elements is kept.
    """
    index = _skip_ws(text, 0)
    if text[index : index + 1] != "{":
        raise JSONShapeError("expected a JSON object")
    members: dict[str, Any] = {}
    array_index: int | None = None
    array_length = 0
    index = _skip_ws(text, index + 1)
    if text[index : index + 1] == "}":
        return members, None, 0
    while True:
        key, index = _decode_at(text, index)
        if not isinstance(key, str):
            raise JSONShapeError("object key is not a string")
        index = _skip_ws(text, index)
        if text[index : index + 1] != ":":
            raise JSONShapeError("expected ':' after an object key")
        index = _skip_ws(text, index + 1)
        if key == array_key and text[index : index + 1] == "[":
            array_index = index
            members.pop(key, None)
            array_length, index = skip_array(text, index)
        else:
            members[key], index = _decode_at(text, index)
            if key == array_key:
                array_index, array_length = None, 0
        index = _skip_ws(text, index)
        separator = text[index : index + 1]
        if separator == ",":
            index = _skip_ws(text, index + 1)
            continue
        if separator == "}":
            break
        raise JSONShapeError("object not terminated (truncated reply?)")
    if _skip_ws(text, index + 1) != len(text):
        raise JSONShapeError("extra data after the JSON object")
    return members, array_index, array_length
