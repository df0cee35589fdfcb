"""The import pipeline: upload, mapping, preview against the mirror, confirm, discard."""

from __future__ import annotations

import codecs
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.imports import services
from dashboard.imports.models import ImportStatus, RememberedMapping
from dashboard.imports.selectors import import_rows
from integrations.importing.reading import ImportFileError
from integrations.models import JobSource, SyncItem, SyncJob
from tests.factories import mirrored
from tests.helpers.postgres import mirror_analyze_count

pytestmark = pytest.mark.django_db

HEADER = "E-mail;Given name;Surname;Mobile;Country;Dept;Start date"


def upload(text: str | bytes, name: str = "people.csv") -> SimpleUploadedFile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_a_messy_file_is_detected_mapped_and_previewed(redflag, admin_user):
    data = (
        codecs.BOM_UTF8
        + (
            f"{HEADER}\r\n"
            "new@example.com;Ann;New;07911 123456;United Kingdom;Finance;3 Feb 2025\r\n"
            "known@example.com;Kim;Known;;UK;Sales;\r\n"
            "same@example.com;Sam;Same;;;;\r\n"
            "bad-email;Bo;Bad;;Atlantis;;\r\n"
        ).encode()
    )
    mirrored(redflag, "known@example.com", firstName="Kim", lastName="Known", department="Ops")
    mirrored(redflag, "same@example.com", firstName="Sam", lastName="Same")

    run = services.import_create(connection=redflag, upload=upload(data), user=admin_user)

    assert (run.encoding, run.delimiter) == ("utf-8-sig", ";")
    assert run.header[0] == "E-mail"
    assert run.mapped_paths == [
        "email", "firstName", "lastName", "mobile", "country", "department", "sfHireDate",
    ]  # fmt: skip
    assert run.status == ImportStatus.PREVIEWED
    assert (run.n_create, run.n_update, run.n_unchanged, run.n_invalid) == (1, 1, 1, 1)
    rows = {row.number: row for row in import_rows(import_run=run)}
    assert rows[2].payload == {
        "email": "new@example.com",
        "firstName": "Ann",
        "lastName": "New",
        "mobile": "7911123456",
        "mobileCountry": "44",
        "country": "GB",
        "department": "Finance",
        "sfHireDate": "20250203",
    }
    assert rows[3].kind == "update"
    assert rows[3].changes == {"country": [None, "GB"], "department": ["Ops", "Sales"]}
    assert rows[3].payload == {"country": "GB", "department": "Sales"}
    assert rows[3].remote_id == "rid-known@example.com"
    assert rows[4].kind == "unchanged"
    assert set(rows[5].errors) == {"0", "4"}


def test_disabled_fields_are_never_offered_or_mapped(redflag, admin_user):
    run = services.import_create(
        connection=redflag, upload=upload("email,Title\r\na@example.com,Boss\r\n"), user=admin_user
    )
    assert run.mapped_paths == ["email", ""]  # "title" exists but is disabled
    with pytest.raises(services.MappingError, match="not enabled"):
        services.import_set_mapping(import_run=run, paths=["email", "title"], user=admin_user)


def test_the_same_identifier_twice_is_flagged_on_both_rows(redflag, admin_user):
    text = "email,firstName,lastName\r\nA@example.com,A,One\r\na@example.com,A,Two\r\n"
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    rows = list(import_rows(import_run=run))
    assert [row.kind for row in rows] == ["invalid", "invalid"]
    assert "row 3" in rows[0].errors["row"] and "row 2" in rows[1].errors["row"]


def test_duplicates_are_flagged_on_both_rows_across_batches(redflag, admin_user, monkeypatch):
    """The first row of a repeated identifier may already be stored (an earlier batch) or
    still be in the batch being written; both get flagged, naming the first repeat."""
    monkeypatch.setattr(services, "ROW_BATCH", 3)
    emails = ["a", "b", "c", "e", "e", "a", "d", "f", "a", "d"]  # rows 2 to 11, batches of 3
    lines = ["email,firstName,lastName"] + [f"{e}@example.com,{e.upper()},L" for e in emails]
    run = services.import_create(
        connection=redflag, upload=upload("\r\n".join(lines)), user=admin_user
    )
    rows = {row.number: row for row in import_rows(import_run=run)}
    flagged = {n: row.errors.get("row", "") for n, row in rows.items() if row.kind == "invalid"}
    assert flagged == {
        2: "Same identifier as row 7: keep one.",  # "a": its first row stored a batch earlier
        7: "Same identifier as row 2: keep one.",
        10: "Same identifier as row 2: keep one.",
        5: "Same identifier as row 6: keep one.",  # "e": both rows in one batch
        6: "Same identifier as row 5: keep one.",
        8: "Same identifier as row 11: keep one.",  # "d": the repeat in the last batch
        11: "Same identifier as row 8: keep one.",
    }
    assert all(rows[n].payload == {} and rows[n].changes == {} for n in flagged)
    # An invalid row keeps its cells (for invalid.csv), a first row stored valid included.
    assert rows[2].cells == ["a@example.com", "A", "L"]
    assert rows[8].cells == ["d@example.com", "D", "L"]
    assert (run.n_rows, run.n_invalid, run.n_create) == (10, 7, 3)


def test_the_mapping_is_remembered_for_the_connection(redflag, admin_user):
    text = "Contact,Name\r\na@example.com,Ann\r\n"
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    assert run.status == ImportStatus.UPLOADED  # no identifier column recognised
    services.import_set_mapping(import_run=run, paths=["email", "firstName"], user=admin_user)
    assert RememberedMapping.objects.get(connection=redflag).columns == {
        "contact": "email",
        "name": "firstName",
    }
    again = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    assert again.mapped_paths == ["email", "firstName"]
    assert again.mapping[0]["reason"] == "as last time"


def test_a_mapping_change_is_audited_with_each_column_before_and_after(redflag, admin_user):
    text = "Contact,Name,Notes\r\na@example.com,Ann,x\r\n"
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    services.import_set_mapping(import_run=run, paths=["email", "firstName", ""], user=admin_user)
    event = AuditEvent.objects.get(action="import.mapping_changed")
    assert event.actor == admin_user
    assert event.changes == {
        "Contact (column 1)": {"before": None, "after": "email"},
        "Name (column 2)": {"before": None, "after": "firstName"},
    }
    # Saving the same mapping again changes nothing and records nothing.
    services.import_set_mapping(import_run=run, paths=["email", "firstName", ""], user=admin_user)
    assert AuditEvent.objects.filter(action="import.mapping_changed").count() == 1


def test_a_preview_first_refreshes_stale_mirror_statistics(redflag, admin_user, always_stale):
    """Each batch's mirror lookup is planned for the mirror as it is, not as autovacuum last
    saw it (a refresh that just wrote the account)."""
    mirrored(redflag, "known@example.com", firstName="Kim")
    before = mirror_analyze_count()

    run = services.import_create(
        connection=redflag,
        upload=upload(f"{HEADER}\nknown@example.com;Kim;K;;;;\n"),
        user=admin_user,
    )

    assert run.status == ImportStatus.PREVIEWED
    assert mirror_analyze_count() == before + 1


def test_confirm_sends_exactly_the_previewed_create_and_update_rows(redflag, admin_user):
    mirrored(redflag, "known@example.com", firstName="Kim", lastName="Known")
    text = (
        "email,firstName,lastName\r\n"
        "new@example.com,Ann,New\r\nknown@example.com,Kimberly,Known\r\nbad,,\r\n"
    )
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)

    job = services.import_confirm(import_run=run, user=admin_user)

    run.refresh_from_db()
    assert run.status == ImportStatus.CONFIRMED and run.job == job
    assert job.source == JobSource.IMPORT
    assert job.source_label == f"Import {run.pk}: people.csv"
    assert job.source_import == run
    items = list(SyncItem.objects.filter(job=job).values_list("identifier", "operation", "payload"))
    assert items == [
        ("new@example.com", "create", {"email": "new@example.com", "firstName": "Ann",
                                       "lastName": "New"}),
        ("known@example.com", "update", {"firstName": "Kimberly"}),
    ]  # fmt: skip
    with pytest.raises(services.ImportStateError):
        services.import_confirm(import_run=run, user=admin_user)


def test_a_preview_older_than_the_mirror_must_be_refreshed(redflag, admin_user):
    text = "email,firstName,lastName\r\nnew@example.com,Ann,New\r\n"
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    redflag.mirror_refreshed_at = timezone.now() + timedelta(seconds=1)
    redflag.save()
    with pytest.raises(services.ImportStateError, match="Refresh the preview"):
        services.import_confirm(import_run=run, user=admin_user)
    assert not SyncJob.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"PK\x03\x04" + b"\x00" * 40, "zip archive"),
        (b"email,firstName\x00\r\n", "NUL byte"),
        (b"email,firstName\r\na@example.com,A\r\nb@example.com\x00,B\r\n", "Row 3 contains a NUL"),
    ],
)
def test_unreadable_files_are_refused_and_nothing_is_stored(redflag, admin_user, data, message):
    with pytest.raises(ImportFileError, match=message):
        services.import_create(connection=redflag, upload=upload(data), user=admin_user)
    assert not redflag.imports.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email,firstName,lastName\r\n", "header but no data rows"),
    ],
)
def test_files_that_fail_while_reading_say_why_and_cannot_be_confirmed(
    redflag, admin_user, text, message
):
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    assert run.status == ImportStatus.FAILED
    assert message in run.error
    with pytest.raises(services.ImportStateError):
        services.import_confirm(import_run=run, user=admin_user)
    assert not SyncJob.objects.exists()


def test_a_file_whose_every_row_is_invalid_sends_nothing(redflag, admin_user):
    text = "email,firstName,lastName\r\nnope,A,B\r\nalso nope,C,D\r\nragged\r\n"
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    assert (run.n_invalid, run.n_to_send) == (3, 0)
    with pytest.raises(services.ImportStateError, match="Nothing to send"):
        services.import_confirm(import_run=run, user=admin_user)
    assert not SyncJob.objects.exists()


def test_a_new_snappy_recipient_needs_the_providers_required_fields(snappy, admin_user):
    text = "Email,First name,Country\r\nnew@example.com,Ann,Germany\r\n"
    run = services.import_create(connection=snappy, upload=upload(text), user=admin_user)
    row = import_rows(import_run=run).get()
    assert row.kind == "invalid"
    assert "needs Accounts" in row.errors["row"]


def test_discard_deletes_the_file_and_sends_nothing(redflag, admin_user):
    text = "email,firstName,lastName\r\nnew@example.com,Ann,New\r\n"
    run = services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    path = run.file.path
    services.import_discard(import_run=run, user=admin_user)
    run.refresh_from_db()
    assert run.status == ImportStatus.DISCARDED
    assert not import_rows(import_run=run).exists()
    import os

    assert not os.path.exists(path)
    with pytest.raises(services.ImportStateError):
        services.import_confirm(import_run=run, user=admin_user)


def test_deleting_the_connection_deletes_its_imports_preview_rows(redflag, admin_user):
    """The rows' link to their import has no database constraint (it slowed the preview's
    COPY): the cascade is Django's, and leaves no row behind."""
    from dashboard.connections.services import connection_delete
    from dashboard.imports.models import ImportRow

    text = "email,firstName,lastName\r\na@example.com,Ann,A\r\nb@example.com,Bob,B\r\n"
    services.import_create(connection=redflag, upload=upload(text), user=admin_user)
    assert ImportRow.objects.count() == 2
    connection_delete(connection=redflag, user=admin_user)
    assert not ImportRow.objects.exists()


def test_a_large_file_is_read_in_batches_with_the_same_result(redflag, admin_user, settings):
    settings.IMPORT_INLINE_MAX_BYTES = 10**9
    lines = ["email,firstName,lastName"] + [f"p{i}@example.com,P{i},L" for i in range(2500)]
    run = services.import_create(
        connection=redflag, upload=upload("\r\n".join(lines)), user=admin_user
    )
    assert (run.n_rows, run.n_create) == (2500, 2500)
    assert run.bytes_read == run.size
