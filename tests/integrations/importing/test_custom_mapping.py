"""Mapping targets for custom fields and RedFlag history entries, and their cells."""

from __future__ import annotations

import pytest

from dashboard.recipients.forms import HISTORY_MEMBERS, TEXT_MAX_LENGTH
from integrations.catalogue import FieldSpec, FieldType, Provider, catalogue
from integrations.importing.cells import (
    MAX_VALUE_CHARS,
    CellError,
    RowBuilder,
    clean_custom_value,
)
from integrations.importing.mapping import (
    ENTRY_IDENTITY,
    ENTRY_MEMBERS,
    ENTRY_REQUIRED,
    auto_map,
    disabled_matches,
    mappable_fields,
    mapping_problems,
)
from integrations.sandbox.redflag import HISTORY_FIELDS


def tag(key: str, label: str = "") -> FieldSpec:
    return FieldSpec(f"tags.{key}", label or key, FieldType.CUSTOM, "Custom fields", custom=True)


COST = tag("z_costCentre", "Cost centre")
SECRET = tag("z_salaryBand", "Salary band")
ENABLED = {"email", "firstName", "education", "tags.z_costCentre"}


def test_entry_members_are_the_documented_ones_that_the_edit_form_and_sandbox_know():
    for list_path, members in ENTRY_MEMBERS.items():
        names = {member.name for member in members}
        assert names | {"_id"} == HISTORY_MEMBERS[list_path] == HISTORY_FIELDS[list_path]
        assert set(ENTRY_REQUIRED[list_path]) <= names
        assert set(ENTRY_IDENTITY[list_path]) <= names
    assert MAX_VALUE_CHARS == TEXT_MAX_LENGTH


def test_only_enabled_custom_fields_are_offered():
    fields = mappable_fields(Provider.REDFLAG, ENABLED, [COST, SECRET])
    paths = [spec.path for spec in fields]
    assert "tags.z_costCentre" in paths and "tags.z_salaryBand" not in paths
    assert "education.school" in paths and "education" not in paths
    assert "employment.company" not in paths  # employment is not enabled


@pytest.mark.parametrize(
    ("header", "reason"),
    [("Cost centre", "same name"), ("z_costCentre", "same key"), ("cost_centre", "same name"),
     ("tags.z_costCentre", "same name")],
)  # fmt: skip
def test_a_custom_field_is_matched_by_key_or_label(header, reason):
    fields = mappable_fields(Provider.REDFLAG, ENABLED, [COST])
    (match,) = auto_map([header], fields)
    assert (match.path, match.reason) == ("tags.z_costCentre", reason)


def test_a_header_without_redflags_z_prefix_matches_an_unlabelled_tag():
    fields = mappable_fields(Provider.REDFLAG, {"email", "tags.z_region"}, [tag("z_region")])
    (match,) = auto_map(["Region"], fields)
    assert (match.path, match.confidence) == ("tags.z_region", 90)


def test_a_forged_mapping_to_a_disabled_custom_field_is_a_problem():
    fields = mappable_fields(Provider.REDFLAG, ENABLED, [COST, SECRET])
    problems = mapping_problems(["email", "tags.z_salaryBand"], fields)
    assert problems == ["Column 2 maps to a field that is not enabled (tags.z_salaryBand)."]


def test_redflag_list_tags_split_on_semicolons_and_snappy_values_stay_text():
    assert clean_custom_value("en; fr ;", Provider.REDFLAG) == ["en", "fr"]
    assert clean_custom_value("CC-1, Finance", Provider.REDFLAG) == "CC-1, Finance"
    assert clean_custom_value("L; XL", Provider.SNAPPY) == "L; XL"
    with pytest.raises(CellError, match="line break"):
        clean_custom_value("a\tb", Provider.SNAPPY)


def test_a_row_builds_one_entry_from_its_member_cells():
    paths = ["email", "tags.z_costCentre", "education.school", "education.end"]
    fields = [*mappable_fields(Provider.REDFLAG, ENABLED, [COST])]
    builder = RowBuilder(provider=Provider.REDFLAG, fields=fields, paths=paths, width=4)
    result = builder.build(["a@x.io", "CC-1", "Oxford", "2004-06-30"])
    assert result.errors == {}
    assert result.payload == {
        "email": "a@x.io",
        "tags": [{"key": "z_costCentre", "value": "CC-1"}],
        "education": [{"school": "Oxford", "end": "20040630"}],
    }
    assert builder.build(["a@x.io", "", "", ""]).payload == {"email": "a@x.io"}


def test_snappy_offers_custom_fields_but_no_history_lists():
    field = FieldSpec(
        "recipientCustomFields.shirtSize", "Shirt size", FieldType.CUSTOM, "Custom", custom=True
    )
    enabled = {spec.path for spec in catalogue(Provider.SNAPPY)} | {field.path}
    paths = [spec.path for spec in mappable_fields(Provider.SNAPPY, enabled, [field])]
    assert "recipientCustomFields.shirtSize" in paths
    assert not any(path.startswith(("education", "tags")) for path in paths)


def test_a_header_naming_a_field_that_is_not_offered_is_told_apart():
    offered = mappable_fields("redflag", ["email", "firstName", "lastName"])
    found = disabled_matches(
        ["E-mail", "Job Title", "Mobile phone", "Shoe size", "Education"], "redflag", offered
    )
    assert {column: spec.path for column, spec in found.items()} == {1: "title", 2: "mobile"}
