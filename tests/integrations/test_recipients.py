"""A recipient's fields are read, compared and turned into bodies by each provider's rules."""

from __future__ import annotations

import copy
import json

from integrations.catalogue import Provider
from integrations.recipients import (
    UPDATE_LOCKED,
    custom_keys,
    field_value,
    recipient_payload,
    values_differ,
)

RF_RECORD = {
    "_id": "60f4aeb09279e27183c0a9da",
    "email": "zoe@example.com",
    "firstName": "Zoë",
    "employee": {"department": "Sales"},
    "tags": [
        {"key": "z_team", "value": "Blue", "_id": "aaaaaaaaaaaaaaaaaaaaaaaa"},
        {"key": "z_costCentre", "value": "CC-7", "_id": "bbbbbbbbbbbbbbbbbbbbbbbb"},
    ],
}
SN_RECORD = {
    "recipientCustomFields": [{"fieldName": "z_floor", "displayName": "Floor", "fieldValue": "3"}],
}


def test_recipient_payload_nests_sub_fields_and_rebuilds_custom_lists():
    current = copy.deepcopy(RF_RECORD)
    payload = recipient_payload(
        "redflag", {"tags.z_new": ["a", "b"], "tags.z_team": None, "firstName": "Zoey"}, current
    )
    assert payload == {
        "firstName": "Zoey",
        "tags": [
            {"key": "z_costCentre", "value": "CC-7", "_id": "bbbbbbbbbbbbbbbbbbbbbbbb"},
            {"key": "z_new", "value": ["a", "b"]},
        ],
    }
    assert recipient_payload(
        "snappy", {"employee.department": "R&D", "employee.workingSince": "2024-01-01"}, {}
    ) == {"employee": {"department": "R&D", "workingSince": "2024-01-01"}}
    assert json.dumps(current) == json.dumps(RF_RECORD)  # the record is not modified


def test_field_value_reads_top_level_nested_and_custom_paths_of_each_provider():
    assert field_value("redflag", RF_RECORD, "firstName") == "Zoë"
    assert field_value("redflag", RF_RECORD, "employee.department") == "Sales"
    assert field_value("redflag", RF_RECORD, "tags.z_costCentre") == "CC-7"
    assert field_value("redflag", RF_RECORD, "tags.z_missing") is None
    assert field_value("redflag", RF_RECORD, "lastName") is None
    assert field_value("snappy", SN_RECORD, "recipientCustomFields.z_floor") == "3"
    assert custom_keys("redflag", RF_RECORD) == ["z_team", "z_costCentre"]
    assert custom_keys("snappy", SN_RECORD) == ["z_floor"]


def test_values_differ_ignores_empties_and_provider_ids_only():
    assert not values_differ(None, "")
    assert not values_differ([], None)
    assert not values_differ([{"school": "A", "_id": "1"}], [{"school": "A"}])
    assert values_differ([{"school": "A"}], [{"school": "B"}])
    assert values_differ("Blue", "Green")


def test_update_locks_the_fields_each_provider_sets_on_create_only():
    assert set(UPDATE_LOCKED[Provider.REDFLAG]) == {"email"}
    assert "externalId" in UPDATE_LOCKED[Provider.SNAPPY]
    assert Provider.PARCELVOY not in UPDATE_LOCKED
