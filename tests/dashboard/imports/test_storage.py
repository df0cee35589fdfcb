"""Uploads live in ``STORAGES["default"]``, whatever it is: stored, read, re-read, sized and
removed through the storage API, never through a path on this host's disk."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from dashboard.connections.services import connection_delete
from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow, ImportStatus
from tests.dashboard.imports.test_layout import workbook

pytestmark = pytest.mark.django_db(transaction=True)

STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
IN_MEMORY = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": STATIC,
}


@pytest.fixture
def bucket(tmp_path):
    """The uploads in a bucket-like storage (no local path), its folder apart from
    MEDIA_ROOT."""
    location = tmp_path / "bucket"
    storages = {
        "default": {
            "BACKEND": "tests.dashboard.imports.shared_storage.BucketLikeStorage",
            "OPTIONS": {"location": str(location)},
        },
        "staticfiles": STATIC,
    }
    with override_settings(STORAGES=storages):
        yield location


def on_disk(settings) -> list:
    return [p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file()]


CSV = (
    b"email;first name;last name\nann@example.com;Ann;Lee\nbob@example.com;Bob;Ray\n"
    b"not-an-email;X;Y\n"
)


def test_an_upload_is_stored_previewed_and_discarded_through_the_configured_storage(
    admin_client, redflag, settings
):
    """An in-memory storage set in STORAGES gets the file; nothing lands on this host's
    disk; the preview, the sample values and the invalid rows' download read it back from
    there, and discarding the import removes it."""
    with override_settings(STORAGES=IN_MEMORY):
        response = admin_client.post(
            "/imports/new/",
            {"connection": redflag.pk, "file": SimpleUploadedFile("staff.csv", CSV, "text/csv")},
        )
        assert response.status_code == 302
        run = Import.objects.get()
        assert run.status == ImportStatus.PREVIEWED, run.error
        assert (run.n_create, run.n_invalid) == (2, 1)
        assert default_storage.exists(str(run.file.name))
        assert default_storage.size(str(run.file.name)) == len(CSV) == run.size
        assert not on_disk(settings)
        page = admin_client.get(f"/imports/{run.pk}/").content.decode()
        assert "ann@example.com" in page
        invalid = admin_client.get(f"/imports/{run.pk}/invalid.csv")
        assert b"not-an-email" in b"".join(invalid.streaming_content)

        admin_client.post(f"/imports/{run.pk}/discard/")
        run.refresh_from_db()
        assert run.status == ImportStatus.DISCARDED
        assert not default_storage.exists(str(run.file.name))


def test_a_workbook_and_its_sheet_are_read_from_a_storage_without_local_paths(
    redflag, admin_user, bucket, settings
):
    """A workbook is kept beside the CSV of its sheet; choosing another sheet reads the
    workbook back from the storage and replaces the stored CSV."""
    data = workbook(
        Staff=[["email", "first name"], ["ann@example.com", "Ann"]],
        Leavers=[["email", "first name"], ["bob@example.com", "Bob"]],
    )
    upload = SimpleUploadedFile("staff.xlsx", data)
    run = services.import_create(connection=redflag, upload=upload, user=admin_user)
    assert run.status == ImportStatus.PREVIEWED, run.error
    first_csv = str(run.file.name)
    assert default_storage.exists(first_csv) and default_storage.exists(str(run.source_file.name))

    services.import_set_layout(import_run=run, sheet="Leavers", header_row=None, user=admin_user)
    run.refresh_from_db()
    assert run.status == ImportStatus.PREVIEWED, run.error
    assert run.sheet == "Leavers"
    assert list(ImportRow.objects.filter(import_run=run).values_list("identifier", flat=True)) == [
        "bob@example.com"
    ]
    assert not default_storage.exists(first_csv)  # the first sheet's CSV is replaced
    assert sorted(p.name for p in bucket.glob("**/*") if p.is_file()) == sorted(
        [str(run.file.name).rsplit("/", 1)[1], str(run.source_file.name).rsplit("/", 1)[1]]
    )
    assert not on_disk(settings)


def test_deleting_a_connection_removes_its_imports_files_from_storage(redflag, admin_user, bucket):
    run = services.import_create(
        connection=redflag, upload=SimpleUploadedFile("staff.csv", CSV), user=admin_user
    )
    assert default_storage.exists(str(run.file.name))
    connection_delete(connection=redflag, user=admin_user)
    assert not Import.objects.filter(pk=run.pk).exists()
    assert not [p for p in bucket.glob("**/*") if p.is_file()]


def test_two_uploads_of_one_name_are_two_stored_files(redflag, admin_user, bucket):
    first = services.import_create(
        connection=redflag, upload=SimpleUploadedFile("staff.csv", CSV), user=admin_user
    )
    second = services.import_create(
        connection=redflag,
        upload=SimpleUploadedFile("staff.csv", CSV.replace(b"Ann", b"Anne")),
        user=admin_user,
    )
    assert str(first.file.name) != str(second.file.name)
    with default_storage.open(str(first.file.name)) as stored:
        assert b"Ann;" in stored.read()


def test_a_preview_whose_stored_file_is_gone_fails_saying_so(redflag, admin_user, bucket):
    """Never "Reading rows" for ever: the import fails with a reason the admin can act on."""
    run = services.import_create(
        connection=redflag, upload=SimpleUploadedFile("staff.csv", CSV), user=admin_user
    )
    assert run.status == ImportStatus.PREVIEWED
    default_storage.delete(str(run.file.name))
    services.import_start_preview(import_run=run, inline=True)
    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert run.error == (
        "The uploaded file is no longer in storage, so its rows cannot be read: upload it again."
    )
    assert not ImportRow.objects.filter(import_run=run).exists()
