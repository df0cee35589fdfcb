"""CSV imports into custom fields (RedFlag tags, Snappy custom fields) and RedFlag history
entries (education, employment, certification): mapping, preview, per-cell errors, confirm.

HTTP is not involved here; ``test_custom_fields_sandbox.py`` sends such a job to the sandbox.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.connections import services as connection_services
from dashboard.imports import services
from dashboard.imports.models import Import, ImportStatus
from dashboard.imports.selectors import import_fields, import_rows
from integrations.models import Connection, FieldSetting, MirroredRecipient, SyncItem
from tests.factories import ConnectionFactory, mirrored

pytestmark = pytest.mark.django_db

EDU_ID = "5f2ca8e101579077b3594f96"
OXFORD = {
    "school": "University of Oxford",
    "degree": "MSc",
    "major": "Physics",
    "country": "GB",
    "start": "20080901",
    "end": "20100630",
    "_id": EDU_ID,
}


def custom(connection: Connection, key: str, label: str = "", *, enabled: bool = True) -> None:
    prefix = "tags" if connection.provider == "redflag" else "recipientCustomFields"
    FieldSetting.objects.create(
        connection=connection, path=f"{prefix}.{key}", label=label, enabled=enabled, custom=True
    )


@pytest.fixture
def hr(admin_user) -> Connection:
    """RedFlag with custom fields (one disabled) and the three history lists enabled."""
    connection = ConnectionFactory(name="HR RedFlag", provider="redflag")
    for path in ("department", "country", "education", "employment", "certification"):
        connection_services.field_setting_set(
            connection=connection, path=path, enabled=True, user=admin_user
        )
    custom(connection, "z_costCentre", "Cost centre")
    custom(connection, "z_languages", "Languages")
    custom(connection, "z_team", "Team")
    custom(connection, "z_salaryBand", "Salary band", enabled=False)
    return connection


@pytest.fixture
def gifts(db) -> Connection:
    """Snappy with one enabled custom field."""
    connection = ConnectionFactory(name="Gifts Snappy", provider="snappy")
    custom(connection, "shirtSize", "Shirt size")
    custom(connection, "diet", "Diet", enabled=False)
    return connection


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")


def preview(connection: Connection, user, *lines: str) -> tuple[Import, dict]:
    run = services.import_create(
        connection=connection, upload=upload("\r\n".join(lines) + "\r\n"), user=user
    )
    return run, {row.number: row for row in import_rows(import_run=run)}


def known(hr: Connection, email: str = "kim@example.com") -> MirroredRecipient:
    """A recipient the import updates: three tags, one of them a list, and one education."""
    return mirrored(
        hr,
        email,
        firstName="Kim",
        lastName="Known",
        tags=[
            {"key": "z_costCentre", "value": "CC-1", "_id": "a" * 24},
            {"key": "z_team", "value": "Blue", "_id": "b" * 24},
            {"key": "z_languages", "value": ["en"], "_id": "c" * 24},
        ],
        education=[OXFORD],
    )


# -- what is offered and matched ---------------------------------------------------------------


def test_enabled_custom_fields_and_history_members_are_offered_disabled_ones_never(hr):
    offered = {spec.path: spec.label for spec in import_fields(connection=hr)}
    assert offered["tags.z_costCentre"] == "Cost centre"
    assert offered["education.school"] == "Education: school"
    assert offered["employment.company"] == "Employment: company"
    assert offered["certification.name"] == "Certification: name"
    assert "tags.z_salaryBand" not in offered
    assert "education" not in offered  # the list itself is offered by member


def test_headers_naming_a_custom_key_or_label_or_an_entry_member_are_auto_mapped(hr, admin_user):
    run, _ = preview(
        hr,
        admin_user,
        "Email,Cost centre,z_languages,Team,Salary band,Education school,education.degree,"
        "Education: start date,Certification",
        "new@example.com,CC-9,en,Red,B2,Oxford,BA,2001-09-01,PRINCE2",
    )
    assert run.mapped_paths == [
        "email",
        "tags.z_costCentre",
        "tags.z_languages",
        "tags.z_team",
        "",  # Salary band: disabled, so never a target
        "education.school",
        "education.degree",
        "education.start",
        "certification.name",
    ]
    assert run.mapping[2]["reason"] == "same key"


def test_a_forged_mapping_to_a_disabled_custom_field_is_refused(hr, admin_user, admin_client):
    run, _ = preview(hr, admin_user, "email,Band", "a@example.com,B2")
    with pytest.raises(services.MappingError, match=r"not enabled \(tags\.z_salaryBand\)"):
        services.import_set_mapping(
            import_run=run, paths=["email", "tags.z_salaryBand"], user=admin_user
        )
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert 'value="tags.z_costCentre"' in page
    assert "tags.z_salaryBand" not in page
    response = admin_client.post(
        f"/imports/{run.pk}/mapping/", {"column-0": "email", "column-1": "tags.z_salaryBand"}
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.mapped_paths == ["email", ""]


def test_entry_columns_without_the_naming_one_are_a_mapping_problem(hr, admin_user):
    run, _ = preview(hr, admin_user, "email,Degree,Uni start", "a@example.com,BA,2001")
    with pytest.raises(services.MappingError, match="Each education entry needs its school"):
        services.import_set_mapping(
            import_run=run, paths=["email", "education.degree", "education.start"], user=admin_user
        )


# -- preview: create, update, unchanged -----------------------------------------------------------


def test_a_new_recipient_gets_its_tags_and_one_entry_in_the_providers_shape(hr, admin_user):
    _, rows = preview(
        hr,
        admin_user,
        "email,firstName,lastName,Cost centre,Languages,education.school,education.degree,"
        "education.country,education.start,education.end",
        "new@example.com,Ann,New,CC-9,en; fr,Oxford,BA,United Kingdom,1 Sep 2001,30 June 2004",
    )
    row = rows[2]
    assert row.kind == "create", row.errors
    assert row.payload == {
        "email": "new@example.com",
        "firstName": "Ann",
        "lastName": "New",
        "tags": [
            {"key": "z_costCentre", "value": "CC-9"},
            {"key": "z_languages", "value": ["en", "fr"]},
        ],
        "education": [
            {
                "school": "Oxford",
                "degree": "BA",
                "country": "GB",
                "start": "20010901",
                "end": "20040630",
            }
        ],
    }
    assert row.changes["tags.z_costCentre"] == [None, "CC-9"]
    assert row.changes["education"] == [None, row.payload["education"][0]]


def test_an_update_resends_every_other_tag_and_entry_and_lists_each_change(hr, admin_user):
    known(hr)
    _, rows = preview(
        hr,
        admin_user,
        "email,Cost centre,Languages,Team,education.school,education.degree,education.start",
        "kim@example.com,CC-2,en; fr,,University of Cambridge,PhD,2015-10-01",
    )
    row = rows[2]
    assert row.kind == "update", row.errors
    assert row.changes == {
        "tags.z_costCentre": ["CC-1", "CC-2"],
        "tags.z_languages": [["en"], ["en", "fr"]],
        "education": [
            None,
            {"school": "University of Cambridge", "degree": "PhD", "start": "20151001"},
        ],
    }
    # Both lists replace at RedFlag: every other entry rides along unchanged, in its place.
    assert row.payload == {
        "tags": [
            {"key": "z_costCentre", "value": "CC-2"},
            {"key": "z_team", "value": "Blue"},
            {"key": "z_languages", "value": ["en", "fr"]},
        ],
        "education": [
            OXFORD,
            {"school": "University of Cambridge", "degree": "PhD", "start": "20151001"},
        ],
    }


def test_an_entry_with_the_same_school_and_degree_is_updated_in_place(hr, admin_user):
    known(hr)
    _, rows = preview(
        hr,
        admin_user,
        "email,education.school,education.degree,education.end",
        "kim@example.com,university of oxford,MSc,2010-09-30",
    )
    row = rows[2]
    assert row.kind == "update", row.errors
    after = {**OXFORD, "school": "university of oxford", "end": "20100930"}
    assert row.payload == {"education": [after]}  # its _id kept: the same entry
    before = {k: v for k, v in OXFORD.items() if k != "_id"}
    assert row.changes == {"education": [before, {k: v for k, v in after.items() if k != "_id"}]}


def test_a_row_equal_to_the_record_is_unchanged(hr, admin_user):
    known(hr)
    _, rows = preview(
        hr,
        admin_user,
        "email,Cost centre,Languages,education.school,education.degree,education.start",
        "kim@example.com,CC-1,en,University of Oxford,MSc,2008-09-01",
    )
    assert rows[2].kind == "unchanged", (rows[2].errors, rows[2].changes)


def test_confirm_sends_exactly_the_previewed_payloads(hr, admin_user):
    known(hr)
    run, rows = preview(
        hr,
        admin_user,
        "email,firstName,lastName,Cost centre,certification.name,certification.institution",
        "kim@example.com,,,CC-3,PRINCE2,Axelos",
        "new@example.com,Ann,New,CC-9,,",
    )
    job = services.import_confirm(import_run=run, user=admin_user)
    sent = list(SyncItem.objects.filter(job=job).order_by("seq").values_list(
        "identifier", "operation", "payload", "remote_id"
    ))  # fmt: skip
    assert sent == [
        (row.identifier, row.kind, row.payload, row.remote_id) for row in (rows[2], rows[3])
    ]
    assert sent[0][2]["certification"] == [{"name": "PRINCE2", "institution": "Axelos"}]
    assert [tag["key"] for tag in sent[0][2]["tags"]] == ["z_costCentre", "z_team", "z_languages"]


def test_snappy_custom_fields_are_sent_as_field_name_and_field_value(gifts, admin_user):
    mirrored(
        gifts,
        "kim@example.com",
        firstName="Kim",
        recipientCustomFields=[
            {"fieldName": "shirtSize", "displayName": "Shirt size", "fieldValue": "M"},
            {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
        ],
    )
    # Carried unchanged, diet must be enabled: a push job sends the list without the record.
    FieldSetting.objects.filter(connection=gifts, path="recipientCustomFields.diet").update(
        enabled=True
    )
    _, rows = preview(gifts, admin_user, "Email,shirtSize", "kim@example.com,L; XL")
    row = rows[2]
    assert row.kind == "update", row.errors
    assert row.changes == {"recipientCustomFields.shirtSize": ["M", "L; XL"]}
    assert row.payload == {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "displayName": "Shirt size", "fieldValue": "L; XL"},
            {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
        ]
    }


# -- bad input: one clear message per cell --------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cells", "column", "message"),
    [
        ("Cost centre", "X" * 501, 1, "may have up to 500 characters; this has 501"),
        ("Languages", "en;;" + "y" * 501, 1, "Each value of a list tag may have up to 500"),
        ("Cost centre", '"CC\nsecond line"', 1, "one line of text: this cell has a line break"),
        ("Cost centre", ";", 1, "Only semicolons"),
        ("education.school,education.degree", ",BA", 1, "fills other education columns but "
         "not the school"),
        ("education.school,education.start", "Oxford,someday", 2, "Not a date: “someday”"),
        ("education.school,education.start,education.end", "Oxford,2004-09-01,2001-06-30", 3,
         "The education ends before it starts (2004-09-01)"),
        ("education.school,education.country", "Oxford,Atlantis", 2, "Unknown country"),
        ("employment.title,employment.company", "Engineer,", 2, "not the company or employer"),
    ],
)  # fmt: skip
def test_each_bad_cell_gets_its_own_message(hr, admin_user, header, cells, column, message):
    _, rows = preview(hr, admin_user, f"email,{header}", f"new@example.com,{cells}")
    row = rows[2]
    assert row.kind == "invalid"
    assert message in row.errors[str(column)], row.errors
    assert row.payload == {}


def test_a_list_for_a_tag_that_holds_one_value_is_refused(hr, admin_user):
    known(hr)
    _, rows = preview(hr, admin_user, "email,Cost centre", "kim@example.com,CC-1; CC-2")
    row = rows[2]
    assert row.kind == "invalid"
    assert row.errors == {
        "1": "z_costCentre holds one text value at RedFlag, not a list: write it "
        "without semicolons (this cell has 2 values)."
    }


def test_an_update_that_would_resend_a_disabled_tag_is_refused_before_anything_is_sent(
    hr, admin_user
):
    mirrored(
        hr,
        "kim@example.com",
        tags=[
            {"key": "z_costCentre", "value": "CC-1"},
            {"key": "z_salaryBand", "value": "B2"},
        ],
    )
    _, rows = preview(hr, admin_user, "email,Cost centre,department", "kim@example.com,CC-2,Sales")
    row = rows[2]
    assert row.kind == "invalid"
    assert (
        "would also resend z_salaryBand, which this connection does not enable" in (row.errors["1"])
    )


def test_an_entry_matching_two_of_the_recipients_entries_asks_which(hr, admin_user):
    mirrored(
        hr,
        "kim@example.com",
        education=[{"school": "Oxford", "degree": "BA"}, {"school": "Oxford", "degree": "MSc"}],
    )
    _, rows = preview(hr, admin_user, "email,education.school", "kim@example.com,Oxford")
    assert rows[2].kind == "invalid"
    assert "2 education entries like this one: fill in the degree" in rows[2].errors["1"]


def test_a_snappy_custom_field_with_a_control_character_is_refused(gifts, admin_user):
    _, rows = preview(gifts, admin_user, "Email,Shirt size", "kim@example.com,M\x07")
    assert "A custom field is one line of text" in rows[2].errors["1"]


# -- the page ------------------------------------------------------------------------------


def test_the_preview_page_shows_each_changed_custom_field_and_entry(hr, admin_user, admin_client):
    known(hr)
    run, _ = preview(
        hr,
        admin_user,
        "email,Cost centre,Languages,education.school,education.degree",
        "kim@example.com,CC-2,en; fr,University of Cambridge,PhD",
    )
    assert run.status == ImportStatus.PREVIEWED
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "<strong>Cost centre</strong> <del>CC-1</del> → <ins>CC-2</ins>" in page
    assert "<strong>Languages</strong> <del>en</del> → <ins>en, fr</ins>" in page
    assert (
        "<strong>Education</strong> <del>(empty)</del> → "
        "<ins>school: University of Cambridge, degree: PhD</ins>"
    ) in page
    assert '<optgroup label="Custom fields">' in page
    assert "one entry per row" in page
