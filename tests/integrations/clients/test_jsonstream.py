"""Walking a large JSON list one element at a time."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.clients.jsonstream import JSONShapeError, iter_array, scan_object

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
records = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=8)


@settings(max_examples=60, deadline=None)
@given(items=records, total=st.integers(0, 100), indent=st.sampled_from([None, 2]))
def test_scan_then_iterate_gives_back_every_element(items, total, indent):
    text = json.dumps({"success": True, "data": items, "total": total}, indent=indent)

    members, index, count = scan_object(text, "data")

    assert members == {"success": True, "total": total}
    assert count == len(items)
    assert index is not None
    assert list(iter_array(text, index)) == items


@settings(max_examples=60, deadline=None)
@given(items=records.filter(bool), cut=st.floats(0.05, 0.95))
def test_any_truncation_is_detected_before_iterating(items, cut):
    text = json.dumps({"success": True, "data": items, "total": len(items)})
    truncated = text[: int(len(text) * cut)]

    with pytest.raises(JSONShapeError):
        scan_object(truncated, "data")


def test_members_after_the_array_are_read():
    members, _, count = scan_object('{"data": [1, 2], "success": false}', "data")

    assert members == {"success": False}
    assert count == 2


def test_a_missing_or_non_array_key_has_no_index():
    assert scan_object('{"success": true}', "data") == ({"success": True}, None, 0)
    assert scan_object('{"data": null}', "data") == ({"data": None}, None, 0)
    assert scan_object('{"data": []}', "data")[1:] == (9, 0)


@pytest.mark.parametrize(
    "text", ["", "[]", "null", '{"data": [1,]}', '{"data": [1] "x": 1}', '{"a": 1} trailing', "{"]
)
def test_not_the_expected_shape(text):
    with pytest.raises(JSONShapeError):
        scan_object(text, "data")
