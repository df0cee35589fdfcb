"""Reading a JSON list reply as it streams in, one element at a time."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.clients.jsonstream import JSONStreamError, ObjectStream, ValueTooLarge

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
records = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=8)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def read_all(chunks, key="data", cap=1 << 20):
    stream = ObjectStream(chunks, key, max_value_chars=cap)
    found = stream.open()
    items = list(stream.items()) if found else None
    return stream.finish(), items


@settings(max_examples=80, deadline=None)
@given(
    items=records,
    total=st.integers(0, 10**12),
    indent=st.sampled_from([None, 2]),
    size=st.integers(1, 40),
    ascii_only=st.booleans(),
)
def test_any_chunking_gives_back_every_member_and_element(items, total, indent, size, ascii_only):
    """Chunks may split a number, a string or a multi-byte character anywhere."""
    text = json.dumps(
        {"success": True, "data": items, "total": total}, indent=indent, ensure_ascii=ascii_only
    )

    members, got = read_all(chunked(text.encode(), size))

    assert members == {"success": True, "total": total}
    assert got == items


@settings(max_examples=80, deadline=None)
@given(items=records.filter(bool), cut=st.floats(0.05, 0.97), size=st.integers(1, 64))
def test_any_truncation_is_detected(items, cut, size):
    text = json.dumps({"success": True, "data": items, "total": len(items)})
    truncated = text[: int(len(text) * cut)].encode()

    with pytest.raises(JSONStreamError):
        read_all(chunked(truncated, size))


def test_members_after_the_list_are_read():
    members, items = read_all([b'{"data": [1, 2], "succ', b'ess": false}'])

    assert members == {"success": False}
    assert items == [1, 2]


def test_members_before_the_list_are_known_when_it_starts():
    stream = ObjectStream([b'{"success": false, "message": "Illegal parameters"}'], "data",
                          max_value_chars=100)  # fmt: skip

    assert stream.open() is False
    assert stream.members == {"success": False, "message": "Illegal parameters"}


def test_a_missing_or_non_list_key_is_no_list():
    assert read_all([b'{"success": true}']) == ({"success": True}, None)
    assert read_all([b'{"data": null}']) == ({"data": None}, None)
    assert read_all([b'{"data": []}']) == ({}, [])


def test_a_byte_order_mark_is_skipped():
    assert read_all([b"\xef\xbb\xbf", b'{"data": [1]}']) == ({}, [1])


def test_one_value_over_the_cap_is_refused_whatever_the_total_size():
    small = json.dumps({"name": "x" * 50})
    body = '{"data": [' + ",".join([small] * 1000) + "]}"

    assert len(read_all(chunked(body.encode(), 7), cap=100)[1]) == 1000

    big = '{"data": [' + small + ", " + json.dumps({"name": "x" * 500}) + "]}"
    with pytest.raises(ValueTooLarge):
        read_all(chunked(big.encode(), 7), cap=100)
    with pytest.raises(ValueTooLarge):
        read_all([big.encode()], cap=100)


def test_garbage_part_way_fails_at_once():
    """A broken element is an error where it stands, not "too large" after reading on."""
    chunks = [b'{"data": [{"a": 1}, {"a": tru', b"x}, ", *([b'{"a": 1}, '] * 100_000)]
    consumed = []

    def counted():
        for chunk in chunks:
            consumed.append(chunk)
            yield chunk

    with pytest.raises(JSONStreamError, match="not valid JSON"):
        read_all(counted())
    assert len(consumed) < 10


@pytest.mark.parametrize(
    "text",
    ["", "[]", "null", '{"data": [1,]}', '{"data": [1] "x": 1}', '{"a": 1} trailing', "{",
     '{"data": [1], "data": [2]}', "\xff"],
)  # fmt: skip
def test_not_the_expected_shape(text):
    raw = text.encode("latin-1") if text == "\xff" else text.encode()
    with pytest.raises(JSONStreamError):
        read_all([raw])
