"""A NUL character in a query, a form field, a cookie or an address never reaches the database.

PostgreSQL cannot store NUL in text and refuses a query that holds one (SQLite accepts it):
run this walk with ``DATABASE_URL=postgres://…`` to see what it guards against. Every URL of
the project is tried, as an admin, with NUL in each parameter and field the views read.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from integrations.models import FieldSetting, MirroredRecipient
from tests.dashboard.test_permissions import REMOTE_ID, TABLE
from tests.factories import ConnectionFactory, ImportFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
# Every name a view reads from request.GET or request.POST itself (grep the dashboard), the
# fields of the forms it binds, and one nobody reads.
NAMES = (
    "q", "page", "rows", "items", "provider", "connection", "mirror", "channel", "email",
    "phone", "f_connection", "f_channel", "f_outcome", "status", "source", "kind", "actor",
    "action", "path", "enabled", "active", "confirm_name", "next", "name", "key", "label",
    "type", "previewed", "confirm_outside", "encoding", "delimiter", "column-0", "column-1",
    "comment", "reason", "value", "address", "firstName", "lastName", "remote_id", "unknown",
)  # fmt: skip
MESSAGE = "contained a NUL character"


@pytest.fixture
def objects() -> dict[str, int]:
    """What the URLs of ``TABLE`` name, as the permission walk makes them."""
    conn = ConnectionFactory()
    FieldSetting.objects.create(connection=conn, path="tags.z_team", custom=True, enabled=True)
    job = SyncJobFactory(connection=conn, status="failed", total=1, n_failed=1)
    MirroredRecipient.objects.create(
        connection=conn, remote_id=REMOTE_ID, email="zoe@example.com", first_name="Zoë"
    )
    ImportFactory(pk=conn.pk, connection=conn)
    return {"pk": conn.pk, "job": job.pk}


def _path(name: str, objects: dict[str, int]) -> str:
    return TABLE[name][1].format(**objects).partition("?")[0]


def _assert_refused(response, where: str) -> None:
    assert response.status_code == 400, (where, response.status_code)
    assert MESSAGE in response.content.decode(), where


@pytest.mark.parametrize("name", sorted(TABLE))
def test_a_nul_in_any_query_parameter_is_refused_with_a_page(admin_client, objects, name):
    path = _path(name, objects)
    for key in NAMES:
        query = urlencode({key: NUL, **({"q": "zoe"} if key != "q" else {})})
        _assert_refused(admin_client.get(f"{path}?{query}"), f"GET {path}?{key}")
    # In a parameter's name too.
    _assert_refused(admin_client.get(f"{path}?{urlencode({NUL: 'x'})}"), f"GET {path} name")


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_nul_in_any_form_field_is_refused_or_rejected_by_its_form(
    admin_client, objects, name, encoding
):
    """Every field at once, then each alone (a view reads the first it needs)."""
    path = _path(name, objects)
    for fields in [dict.fromkeys(NAMES, NUL), *({key: NUL} for key in NAMES)]:
        if encoding == "urlencoded":
            response = admin_client.post(
                path, urlencode(fields), content_type="application/x-www-form-urlencoded"
            )
        else:
            response = admin_client.post(path, fields)
        where = f"POST {encoding} {path} {sorted(fields)[:2]}"
        if name == "imports:new":
            # The upload reads its own body (its size cap): its form refuses the values.
            assert response.status_code == 422, (where, response.status_code)
        else:
            _assert_refused(response, where)


def test_a_nul_in_an_address_is_refused(admin_client, objects):
    pk = objects["pk"]
    for path in (
        f"/connections/{pk}/recipients/{REMOTE_ID}%00/",
        f"/connections/{pk}/fields/custom/z_team%00/",
        "/%00",
    ):
        _assert_refused(admin_client.get(path), path)


def test_a_nul_in_a_cookie_is_refused_before_the_session_is_read(objects):
    client = Client()
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    _assert_refused(client.get("/"), "cookie")


def test_the_400_page_is_a_page_and_htmx_gets_the_message_as_text(admin_client):
    response = admin_client.get("/jobs/?q=%00")
    page = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert "<title>Bad request · Recipient dashboard</title>" in page
    assert '<main id="main"' in page and "<h1>" in page and "Traceback" not in page
    htmx = admin_client.get("/jobs/?q=%00", headers={"HX-Request": "true"})
    assert htmx.status_code == 400
    assert htmx["Content-Type"].startswith("text/plain")
    assert MESSAGE in htmx.content.decode()


def test_a_nul_in_an_uploaded_file_is_left_to_the_import_to_explain(
    admin_client, settings, tmp_path
):
    """File contents are not form values: the import reads them and names the row."""
    settings.MEDIA_ROOT = tmp_path
    redflag = ConnectionFactory(provider="redflag")
    response = admin_client.post(
        "/imports/new/",
        {
            "connection": redflag.pk,
            "file": SimpleUploadedFile("people.csv", b"email\r\na@x.io\x00\r\n", "text/csv"),
        },
    )
    assert response.status_code == 422
    assert "contains a NUL byte" in response.content.decode()


def test_text_without_nul_is_untouched(admin_client):
    response = admin_client.get("/jobs/?q=%C3%A9%20zo%C3%AB&page=1")
    assert response.status_code == 200
