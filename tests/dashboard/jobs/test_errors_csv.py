"""errors.csv lists failed and unsent records, streamed, with formula cells neutralised."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse

from dashboard.core.csvstream import csv_safe
from integrations.models import ItemStatus, JobStatus, SyncItem
from tests.factories import SyncItemFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://x","y")', "+1 555", "@SUM(1)", "-2+3", "\tcmd", "\rcmd"]


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = response.getvalue().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("role", ["admin", "support", "manager"])
def test_every_role_downloads_the_failed_and_unsent_records(role_clients, failed_job, role):
    response = role_clients[role].get(f"/jobs/{failed_job.pk}/errors.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="job-{failed_job.pk}-errors.csv"'
    )
    rows = rows_of(response)
    assert rows[0] == [
        "seq",
        "identifier",
        "operation",
        "status",
        "http_status",
        "error_code",
        "error_message",
        "payload",
    ]
    assert [(r[0], r[3], r[4], r[5]) for r in rows[1:]] == [
        ("2", "Failed", "409", "Conflict"),
        ("3", "Failed", "503", "Unavailable"),
        ("4", "Not sent", "", ""),
    ]
    assert rows[1][6] == "A recipient with this email already exists."
    assert json.loads(rows[1][7]) == {"email": failed_job.items.get(seq=2).identifier}


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(admin_client, connection, value):
    job = SyncJobFactory(connection=connection, status=JobStatus.FAILED)
    SyncItemFactory(
        job=job,
        seq=0,
        status=ItemStatus.FAILED,
        identifier=value,
        error_code=value,
        error_message=value,
        payload={"note": value},
    )
    row = rows_of(admin_client.get(f"/jobs/{job.pk}/errors.csv"))[1]
    assert row[1] == row[5] == row[6] == "'" + value
    assert json.loads(row[7]) == {"note": value}  # the JSON starts with "{": left as it is


def test_an_e164_phone_stays_readable_text_not_a_number(admin_client, connection):
    job = SyncJobFactory(connection=connection, status=JobStatus.FAILED)
    SyncItemFactory(job=job, seq=0, status=ItemStatus.FAILED, identifier="+447700900123")
    row = rows_of(admin_client.get(f"/jobs/{job.pk}/errors.csv"))[1]
    assert row[1] == "'+447700900123"


def test_harmless_cells_are_left_alone():
    assert csv_safe("ann@example.com") == "ann@example.com"
    assert csv_safe("Müller, Zoë") == "Müller, Zoë"
    assert csv_safe(None) == ""
    assert csv_safe(409) == "409"
    assert csv_safe("a=b") == "a=b"


def test_a_job_without_failures_gives_just_the_header(admin_client, running_job):
    running_job.items.filter(status=ItemStatus.FAILED).update(status=ItemStatus.SUCCEEDED)
    rows = rows_of(admin_client.get(f"/jobs/{running_job.pk}/errors.csv"))
    assert len(rows) == 1


def test_the_export_streams_many_records_in_order(admin_client, connection):
    job = SyncJobFactory(connection=connection, status=JobStatus.FAILED)
    SyncItem.objects.bulk_create(
        SyncItem(
            job=job,
            seq=n,
            identifier=f"p{n}",
            operation="update",
            status=ItemStatus.FAILED,
            error_message="Bad",
        )
        for n in range(5000)
    )
    rows = rows_of(admin_client.get(f"/jobs/{job.pk}/errors.csv"))
    assert len(rows) == 5001
    assert [int(r[0]) for r in rows[1:]] == list(range(5000))
