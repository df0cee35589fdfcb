"""Read one JSON object from a stream of byte chunks, handing out one array's elements as
they arrive.

A RedFlag recipient list may hold every recipient of a location in one reply (tens of
thousands of large objects, hundreds of MB; CONTRACT-NOTES "RedFlag"). Reading the body whole
would hold the raw bytes, the decoded text and the object tree at once. ``ObjectStream`` keeps
only the text not yet parsed (about one network chunk) and decodes one value at a time with
``JSONDecoder.raw_decode`` (C speed), so memory is bounded by the largest element, which is
itself capped (``max_value_chars``): the size guard applies to one record, not to the body.

The stream proves nothing until it ends: a reply cut short or garbled part-way raises
``JSONStreamError`` from ``items()`` or ``finish()`` after some elements were handed out, and
the caller must treat what it read as incomplete.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()
# raw_decode reports an incomplete value at (or just before) the end of the text it was given,
# except an unterminated string, reported where the string starts.
_NEAR_END = 6


class JSONStreamError(ValueError):
    """The stream is not the JSON shape expected, is garbled, or ended too early."""


class ValueTooLarge(JSONStreamError):
    """One value (a record) is larger than the cap."""


class ObjectStream:
    """Parse ``{"k": v, ..., "<array_key>": [e, e, ...], ...}`` from byte chunks.

    Use: ``open()`` reads the members before the array (in ``members``) and says whether the
    array was found; ``items()`` yields its elements; ``finish()`` reads the members after it
    and checks that nothing follows the object. ``max_value_chars`` caps every member value
    and every array element.
    """

    def __init__(self, chunks: Iterable[bytes], array_key: str, *, max_value_chars: int) -> None:
        self._chunks = iter(chunks)
        self._text = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.array_key = array_key
        self.max_value_chars = max_value_chars
        self.members: dict[str, Any] = {}
        self.array_found = False
        self._in_array = False
        self._done = False

    # -- reading ------------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Append the next chunk's text; False once the stream has ended."""
        if self._eof:
            return False
        text = ""
        while not text:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._eof = True
                try:
                    text = self._text.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise JSONStreamError("the reply is not valid UTF-8") from None
                break
            try:
                text = self._text.decode(chunk)
            except UnicodeDecodeError:
                raise JSONStreamError("the reply is not valid UTF-8") from None
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return bool(text) or not self._eof

    def _peek(self) -> str:
        """Skip whitespace and return the next character ('' at the end of the stream)."""
        while True:
            match = _WS.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _expect(self, char: str, what: str) -> None:
        found = self._peek()
        if found != char:
            raise JSONStreamError(_cut(found, what))
        self._pos += 1

    def _value(self) -> Any:
        """Decode the value at the cursor, reading more chunks until it is complete."""
        if not self._peek():
            raise JSONStreamError("the reply ended in the middle of the JSON")
        while True:
            try:
                value, end = _decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                incomplete = exc.msg.startswith("Unterminated string") or (
                    exc.pos >= len(self._buf) - _NEAR_END
                )
                if not incomplete or self._eof:
                    raise JSONStreamError(_problem(exc, self._eof)) from None
                if len(self._buf) - self._pos > self.max_value_chars:
                    raise ValueTooLarge(self._too_large()) from None
                self._fill()
                continue
            if (
                end == len(self._buf)
                and not self._eof
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                self._fill()  # a number at the end of the text may go on in the next chunk
                continue
            if end - self._pos > self.max_value_chars:
                raise ValueTooLarge(self._too_large())
            self._pos = end
            return value

    def _too_large(self) -> str:
        return f"one value is larger than {_size(self.max_value_chars)}"

    # -- the object ---------------------------------------------------------------------------

    def open(self) -> bool:
        """Read up to the array (or the end of the object); True if the array was found."""
        first = self._peek()
        if first != "{":
            raise JSONStreamError(_cut(first, "a JSON object"))
        self._pos += 1
        if self._peek() == "}":
            self._pos += 1
            self._close()
            return False
        return self._members()

    def _members(self) -> bool:
        while True:
            key = self._value()
            if not isinstance(key, str):
                raise JSONStreamError("an object key is not a string")
            self._expect(":", "':' after a key")
            if key == self.array_key and self.array_found:
                raise JSONStreamError(f"the list {key!r} appears twice")
            if key == self.array_key and self._peek() == "[":
                self._pos += 1
                self.array_found = self._in_array = True
                return True
            self.members[key] = self._value()
            separator = self._peek()
            if separator == ",":
                self._pos += 1
                continue
            if separator == "}":
                self._pos += 1
                self._close()
                return False
            raise JSONStreamError(_cut(separator, "',' or '}' in the object"))

    def items(self) -> Iterator[Any]:
        """Yield the array's elements; raise ``JSONStreamError`` if the array breaks off."""
        if not self._in_array:
            return
        if self._peek() == "]":
            self._pos += 1
            self._in_array = False
            return
        while True:
            yield self._value()
            separator = self._peek()
            if separator == ",":
                self._pos += 1
                continue
            if separator == "]":
                self._pos += 1
                self._in_array = False
                return
            raise JSONStreamError(_cut(separator, "',' or ']' in the list"))

    def finish(self) -> dict[str, Any]:
        """Read the members after the array and check the object ends the stream."""
        if self._in_array:
            for _ in self.items():
                pass
        if not self._done:
            separator = self._peek()
            if separator == "}":
                self._pos += 1
                self._close()
            elif separator == ",":
                self._pos += 1
                self._members()
            else:
                raise JSONStreamError(_cut(separator, "',' or '}' in the object"))
        return self.members

    def _close(self) -> None:
        self._done = True
        if self._peek():
            raise JSONStreamError("there is more data after the JSON object")


def _cut(found: str, expected: str) -> str:
    if not found:
        return f"the reply ended where {expected} was expected"
    return f"expected {expected}, found {found!r}"


def _problem(exc: json.JSONDecodeError, eof: bool) -> str:
    if eof and exc.msg.startswith(("Unterminated", "Expecting")):
        return "the reply ended in the middle of the JSON"
    return f"the reply is not valid JSON ({exc.msg})"


def _size(chars: int) -> str:
    if chars >= 1024 * 1024 and chars % (1024 * 1024) == 0:
        return f"{chars // (1024 * 1024)} MB"
    if chars >= 1024 and chars % 1024 == 0:
        return f"{chars // 1024} KB"
    return f"{chars} characters"
