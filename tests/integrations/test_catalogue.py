"""The field catalogue decides which payload paths a connection may send."""

from __future__ import annotations

import pytest

from integrations.catalogue import (
    Provider,
    catalogue,
    custom_field_key_error,
    default_enabled_paths,
    disabled_paths,
    payload_field_paths,
)


@pytest.mark.parametrize("provider", list(Provider))
def test_every_catalogue_has_unique_paths_and_an_identifier(provider):
    paths = [spec.path for spec in catalogue(provider)]
    assert len(paths) == len(set(paths))
    assert any(spec.identifies for spec in catalogue(provider))


def test_redflag_documents_every_writable_field():
    paths = {spec.path for spec in catalogue("redflag")}
    documented = {
        "email",
        "firstName",
        "lastName",
        "preferredName",
        "active",
        "allowEmail",
        "allowSms",
        "exclusive",
        "mobile",
        "mobileCountry",
        "phone",
        "phoneCountry",
        "fax",
        "faxCountry",
        "title",
        "department",
        "location",
        "orgId",
        "country",
        "education",
        "employment",
        "certification",
        "skills",
        "sfHireDate",
        "reportsTo",
        "sfReportsToUserIds",
        "supports",
        "supportedBy",
        "linkedinUrl",
    }
    assert paths == documented


def test_nested_and_custom_fields_count_per_sub_field():
    payload = {
        "firstName": "Zoë",
        "employee": {"department": "R&D", "workingSince": "2024-01-01"},
        "recipientCustomFields": [{"fieldName": "shirtSize", "fieldValue": "M"}],
    }
    assert payload_field_paths("snappy", payload) == {
        "firstName",
        "employee.department",
        "employee.workingSince",
        "recipientCustomFields.shirtSize",
    }
    assert payload_field_paths("redflag", {"tags": [{"key": "z_team", "value": "A"}]}) == {
        "tags.z_team"
    }


def test_disabled_paths_lists_what_is_not_enabled():
    enabled = default_enabled_paths("redflag") | {"tags.z_team"}
    assert disabled_paths("redflag", {"firstName": "A", "tags": []}, enabled) == []
    assert disabled_paths(
        "redflag", {"department": "x", "tags": [{"key": "z_other", "value": "1"}]}, enabled
    ) == ["department", "tags.z_other"]
    assert disabled_paths("redflag", {"tags": []}, default_enabled_paths("redflag")) == ["tags"]


@pytest.mark.parametrize(
    ("provider", "key", "ok"),
    [
        ("redflag", "z_costCentre", True),
        ("redflag", "costCentre", False),
        ("redflag", "z_cost centre", False),
        ("redflag", "z_ü", False),
        ("snappy", "shirtSize", True),
        ("snappy", "shirt size", False),
        ("snappy", "1stChoice", False),
        ("parcelvoy", "anything", False),
    ],
)
def test_custom_field_key_rules(provider, key, ok):
    assert (custom_field_key_error(provider, key) is None) is ok


def test_enabled_paths_overlays_stored_settings_on_the_defaults():
    from integrations.catalogue import enabled_paths

    paths = enabled_paths(
        "redflag",
        [
            ("email", False, False),
            ("department", True, False),
            ("tags.z_team", True, True),
            ("tags.z_off", False, True),
            ("removedField", True, False),
        ],
    )
    assert "email" not in paths and "firstName" in paths and "department" in paths
    assert "tags.z_team" in paths and "tags.z_off" not in paths
    assert "removedField" not in paths


CURRENT_TAGS = {
    "firstName": "Zoë",
    "tags": [
        {"key": "z_team", "value": "Blue"},
        {"key": "z_costCentre", "value": "CC-1001"},
        {"key": "z_languages", "value": ["en", "fr"]},
    ],
}


def test_a_disabled_tag_carried_unchanged_in_the_whole_list_is_allowed():
    """RedFlag PUT replaces arrays: editing one tag sends every tag, disabled ones unchanged."""
    enabled = default_enabled_paths("redflag") | {"tags.z_team"}
    payload = {
        "tags": [
            {"key": "z_team", "value": "Green"},
            {"key": "z_costCentre", "value": "CC-1001", "_id": "0123456789abcdef01234567"},
            {"key": "z_languages", "value": ["en", "fr"]},
        ]
    }
    assert disabled_paths("redflag", payload, enabled, current=CURRENT_TAGS) == []
    # Without the record as it is now, every key in the list counts, as before.
    assert disabled_paths("redflag", payload, enabled) == ["tags.z_costCentre", "tags.z_languages"]


def test_a_disabled_tag_whose_value_changes_is_refused_even_with_current():
    enabled = default_enabled_paths("redflag") | {"tags.z_team"}
    payload = {
        "tags": [
            {"key": "z_team", "value": "Blue"},
            {"key": "z_costCentre", "value": "CC-9999"},
            {"key": "z_languages", "value": ["en", "fr"]},
        ]
    }
    assert disabled_paths("redflag", payload, enabled, current=CURRENT_TAGS) == [
        "tags.z_costCentre"
    ]


def test_leaving_a_disabled_tag_out_of_the_list_removes_it_and_is_refused():
    enabled = default_enabled_paths("redflag") | {"tags.z_team"}
    payload = {"tags": [{"key": "z_team", "value": "Green"}]}
    assert disabled_paths("redflag", payload, enabled, current=CURRENT_TAGS) == [
        "tags.z_costCentre",
        "tags.z_languages",
    ]


def test_a_new_disabled_tag_is_refused_and_other_fields_are_still_checked():
    enabled = default_enabled_paths("redflag") | {"tags.z_team"}
    payload = {
        "department": "Ops",
        "tags": [*CURRENT_TAGS["tags"], {"key": "z_new", "value": "x"}],
    }
    assert disabled_paths("redflag", payload, enabled, current=CURRENT_TAGS) == [
        "department",
        "tags.z_new",
    ]


def test_snappy_custom_fields_carry_disabled_entries_unchanged():
    current = {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "fieldValue": "M"},
            {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
        ]
    }
    enabled = default_enabled_paths("snappy") | {"recipientCustomFields.shirtSize"}
    changed = {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "fieldValue": "L"},
            {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
        ]
    }
    assert disabled_paths("snappy", changed, enabled, current=current) == []
    forged = {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "fieldValue": "L"},
            {"fieldName": "diet", "displayName": "Diet", "fieldValue": "none"},
        ]
    }
    assert disabled_paths("snappy", forged, enabled, current=current) == [
        "recipientCustomFields.diet"
    ]
