"""A refresh that failed shows on the recipients pages, beside the mirror's age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import ConnectionFactory, SyncJobFactory

pytestmark = pytest.mark.django_db
REASON = "The refresh stopped after 1200 recipients: RedFlag dropped the connection."


@pytest.fixture
def conn():
    return ConnectionFactory(name="Acme RedFlag", provider="redflag")


def pull(conn, status, minutes_ago, **fields):
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    return SyncJobFactory(
        connection=conn,
        kind="pull",
        status=status,
        created_at=finished - timedelta(seconds=30),
        finished_at=finished,
        **fields,
    )


@pytest.mark.parametrize("url", ["/recipients/", "/connections/{pk}/recipients/"])
def test_the_last_refresh_failed_shows_when_and_why(support_client, conn, url):
    pull(conn, "succeeded", 60)
    job = pull(conn, "failed", 5, error_message=REASON)

    body = support_client.get(url.format(pk=conn.pk)).content.decode()

    assert "Last refresh failed at" in body
    assert REASON in body
    assert f"/jobs/{job.pk}/" in body
    assert job.finished_at.strftime("%Y-%m-%d") in body


def test_a_later_successful_refresh_clears_the_failure(support_client, conn):
    pull(conn, "failed", 60, error_message=REASON)
    pull(conn, "succeeded", 5)

    body = support_client.get("/recipients/").content.decode()

    assert "Last refresh failed" not in body


def test_a_cancelled_refresh_neither_shows_nor_hides_a_failure(support_client, conn):
    pull(conn, "failed", 60, error_message=REASON)
    pull(conn, "cancelled", 5)

    assert REASON in support_client.get("/recipients/").content.decode()


def test_a_failed_push_is_not_a_failed_refresh(support_client, conn):
    SyncJobFactory(connection=conn, kind="push", status="failed", error_message="Push failed.")

    assert "Last refresh failed" not in support_client.get("/recipients/").content.decode()


def test_the_failure_costs_one_query_for_any_number_of_connections(support_client, conn):
    """The connections query finds the failed refreshes; one more reads their jobs."""
    other = ConnectionFactory(provider="snappy")
    support_client.get("/recipients/")  # warm the mirror count cache
    with CaptureQueriesContext(connection) as without_failures:
        support_client.get("/recipients/")
    pull(conn, "failed", 5, error_message=REASON)
    pull(other, "failed", 5, error_message="Snappy rejected the API key.")
    support_client.get("/recipients/")
    with CaptureQueriesContext(connection) as with_failures:
        body = support_client.get("/recipients/").content.decode()

    assert len(with_failures) == len(without_failures) + 1
    assert REASON in body and "Snappy rejected the API key." in body


def test_the_progress_poll_shows_a_refresh_that_just_failed(support_client, conn):
    job = SyncJobFactory(connection=conn, kind="pull", status="running")
    headers = {"HX-Request": "true", "HX-Target": "mirror-status"}
    support_client.get("/recipients/", headers=headers)
    job.status, job.finished_at, job.error_message = "failed", timezone.now(), REASON
    job.save()

    response = support_client.get("/recipients/", headers=headers)

    assert response.status_code == 286
    assert REASON in response.content.decode()
