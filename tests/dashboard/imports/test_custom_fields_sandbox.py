"""A CSV import of custom fields and history entries, confirmed and sent to the provider
sandbox over HTTP by the sync engine: the provider's record keeps everything else in its lists.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports import services
from dashboard.imports.selectors import import_rows
from integrations.catalogue import catalogue
from integrations.clients import Recipient, client_for
from integrations.models import Connection, FieldSetting, JobStatus, SyncItem
from integrations.sync.engine import job_execute
from integrations.sync.mirror import mirror_upsert
from tests.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SYNC_CLIENT_OPTIONS = {"read_timeout": 2.0, "backoff_base": 0.02, "total_timeout": 15}


def connection(sandbox, provider: str, enable: tuple[str, ...]) -> Connection:
    creds = sandbox.credentials[provider]
    conn = ConnectionFactory(
        provider=provider,
        base_url=f"{sandbox.url}/{provider}",
        plain_secret=creds["token" if provider == "redflag" else "api_key"],
        options={"company_id": creds["company_id"]} if provider == "snappy" else {},
    )
    for path in enable:
        custom = path.startswith(("tags.", "recipientCustomFields."))
        FieldSetting.objects.create(connection=conn, path=path, enabled=True, custom=custom)
    return conn


def writer(sandbox, conn: Connection, extra: set[str]):
    """A client that may write every field: sets records up the way HR data arrives."""
    creds = sandbox.credentials[conn.provider]
    return client_for(
        conn.provider,
        base_url=conn.base_url,
        credentials=creds,
        settings={"company_id": creds["company_id"]} if conn.provider == "snappy" else {},
        enabled_fields={spec.path for spec in catalogue(conn.provider)} | extra,
        rate_limit=None,
    )


def remote(sandbox, conn: Connection, payload: dict[str, Any], extra: set[str]) -> Recipient:
    client = writer(sandbox, conn, extra)
    try:
        recipient = client.create_recipient(payload)
    finally:
        client.close()
    mirror_upsert(conn, [recipient])
    return recipient


def fetch(sandbox, conn: Connection, remote_id: str, extra: set[str]) -> Recipient:
    client = writer(sandbox, conn, extra)
    try:
        return client.get_recipient(remote_id)
    finally:
        client.close()


def run_import(conn: Connection, user, text: str):
    upload = SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")
    run = services.import_create(connection=conn, upload=upload, user=user)
    rows = list(import_rows(import_run=run))
    job = services.import_confirm(import_run=run, user=user)
    job_execute(job.pk)
    job.refresh_from_db()
    return rows, job


def test_a_redflag_import_changes_one_tag_adds_an_entry_and_keeps_the_rest(sandbox, admin_user):
    tags = {"tags.z_costCentre", "tags.z_team"}
    conn = connection(sandbox, "redflag", ("education", "department", *tags))
    email = f"kim.{uuid.uuid4().hex[:10]}@example.com"
    new_email = f"ann.{uuid.uuid4().hex[:10]}@example.com"
    oxford = {"school": "Oxford", "degree": "MSc", "start": "20080901", "end": "20100630"}
    kim = remote(
        sandbox,
        conn,
        {
            "email": email,
            "firstName": "Kim",
            "lastName": "Known",
            "tags": [
                {"key": "z_costCentre", "value": "CC-1"},
                {"key": "z_team", "value": "Blue"},
            ],
            "education": [oxford],
        },
        tags,
    )

    rows, job = run_import(
        conn,
        admin_user,
        "email,firstName,lastName,z_costCentre,Education school,Education degree,"
        "Education start date\r\n"
        f"{email},,,CC-2,Cambridge,PhD,1 Oct 2015\r\n"
        f"{new_email},Ann,New,CC-9,,,\r\n",
    )

    assert [row.kind for row in rows] == ["update", "create"], [row.errors for row in rows]
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    items = SyncItem.objects.filter(job=job).order_by("seq")
    assert [item.payload for item in items] == [row.payload for row in rows]
    after = fetch(sandbox, conn, kim.remote_id, tags)
    assert after.fields["tags"] == [
        {"key": "z_costCentre", "value": "CC-2"},
        {"key": "z_team", "value": "Blue"},
    ]
    entries = [{k: v for k, v in e.items() if k != "_id"} for e in after.fields["education"]]
    assert entries == [oxford, {"school": "Cambridge", "degree": "PhD", "start": "20151001"}]
    # The Oxford entry is the same entry (its _id kept), not a copy.
    assert after.fields["education"][0]["_id"] == kim.fields["education"][0]["_id"]
    ann = fetch(sandbox, conn, items[1].remote_id, tags)
    assert ann.fields["tags"] == [{"key": "z_costCentre", "value": "CC-9"}]


def test_a_snappy_import_changes_one_custom_field_and_keeps_the_others(sandbox, admin_user):
    fields = {"recipientCustomFields.shirtSize", "recipientCustomFields.diet"}
    conn = connection(sandbox, "snappy", ("country", "accounts", *fields))
    email = f"kim.{uuid.uuid4().hex[:10]}@example.com"
    account = sandbox.state()["snappy"]["accounts"][0]["id"]
    kim = remote(
        sandbox,
        conn,
        {
            "email": email,
            "firstName": "Kim",
            "country": "GB",
            "accounts": [account],
            "recipientCustomFields": [
                {"fieldName": "shirtSize", "displayName": "Shirt size", "fieldValue": "M"},
                {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
            ],
        },
        fields,
    )

    rows, job = run_import(conn, admin_user, f"Email,shirtSize\r\n{email},XL\r\n")

    assert [row.kind for row in rows] == ["update"], rows[0].errors
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    after = fetch(sandbox, conn, kim.remote_id, fields)
    values = {f["fieldName"]: f["fieldValue"] for f in after.fields["recipientCustomFields"]}
    assert values == {"shirtSize": "XL", "diet": "vegan"}
