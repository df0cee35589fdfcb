"""The demo's big sample (10,000 new starters for Demo Snappy): served whole to admins, and
every row previews as a valid create on a Snappy connection with the demo's fields enabled, so
a big import from ``make demo WORKERS=3`` sends all of it."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.connections import services as connection_services
from dashboard.imports import services
from dashboard.imports.selectors import import_rows
from dashboard.imports.views import MANY_SAMPLE_ROWS, many_sample_lines
from tests.factories import ConnectionFactory

DEMO_SNAPPY_FIELDS = ("country", "accounts", "employee.department", "employee.workingSince")


def test_the_download_holds_ten_thousand_distinct_people(admin_client):
    response = admin_client.get("/imports/sample-10000.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="many-new-starters.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == MANY_SAMPLE_ROWS
    assert len({row["Email"] for row in rows}) == MANY_SAMPLE_ROWS


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_every_row_of_the_sample_is_a_valid_create_for_demo_snappy(sandbox, admin_user):
    creds = sandbox.credentials["snappy"]
    conn = ConnectionFactory(
        name="Demo Snappy",
        provider="snappy",
        base_url=f"{sandbox.url}/snappy",
        plain_secret=creds["api_key"],
        options={"company_id": creds["company_id"]},
    )
    for path in DEMO_SNAPPY_FIELDS:
        connection_services.field_setting_set(
            connection=conn, path=path, enabled=True, user=admin_user
        )
    text = "".join(many_sample_lines(300))
    upload = SimpleUploadedFile("many-new-starters.csv", text.encode(), content_type="text/csv")
    run = services.import_create(connection=conn, upload=upload, user=admin_user)
    run.refresh_from_db()
    rows = list(import_rows(import_run=run))
    assert (run.n_create, run.n_invalid) == (300, 0), [r.errors for r in rows if r.errors][:3]
    first = rows[0].payload
    assert first["employee"]["department"] and first["employee"]["workingSince"]
    assert first["accounts"] and first["country"] == "GB"
