"""Small things of the import pages: sample values before a mapping, an import with nothing
to send, invalid.csv with ragged rows."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports.models import Import, ImportStatus

pytestmark = pytest.mark.django_db


def post_file(client, connection, data: bytes, name: str = "people.csv"):
    return client.post(
        "/imports/new/",
        {"connection": connection.pk, "file": SimpleUploadedFile(name, data, "text/csv")},
    )


def badge(page: str) -> str:
    found = re.search(r'<span class="badge import-([a-z]+)">([^<]+)</span>', page)
    assert found is not None
    return f"{found.group(1)}: {found.group(2)}"


# -- nothing to send ------------------------------------------------------------------------


def test_an_import_with_nothing_to_send_says_so_instead_of_ready_to_confirm(admin_client, redflag):
    post_file(admin_client, redflag, b"email,firstName\r\nnot-an-email,Ann\r\nalso bad,Bo\r\n")
    run = Import.objects.get()
    assert run.status == ImportStatus.PREVIEWED and run.n_invalid == 2
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert badge(page) == "nothing: Nothing to send"
    assert "Ready to confirm" not in page
    assert (
        "Nothing to send: no row would create or update a recipient (0 already the same at "
        "Acme RedFlag, 2 invalid)." in page
    )
    listing = admin_client.get("/imports/").content.decode()
    assert badge(listing) == "nothing: Nothing to send"


def test_an_import_with_rows_to_send_is_still_ready_to_confirm(admin_client, redflag):
    post_file(
        admin_client,
        redflag,
        b"email,firstName,lastName\r\nann@example.com,Ann,Lee\r\nbad,Bo,Li\r\n",
    )
    run = Import.objects.get()
    assert badge(admin_client.get(f"/imports/{run.pk}/").content.decode()) == (
        "previewed: Ready to confirm"
    )
    assert badge(admin_client.get("/imports/").content.decode()) == "previewed: Ready to confirm"
