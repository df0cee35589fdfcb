"""The sync history lists jobs for every role: filtered, sorted, paginated, with outcome bars."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from integrations.models import JobKind, JobStatus, SyncJob
from tests.factories import ConnectionFactory, SyncJobFactory

pytestmark = pytest.mark.django_db


def job_ids(page: str) -> list[int]:
    """Job numbers in the order the table lists them."""
    return [int(n) for n in re.findall(r'href="/jobs/(\d+)/">Job \d+</a>', page)]


@pytest.mark.parametrize("role", ["admin", "support", "manager"])
def test_every_role_reads_the_history(role_clients, failed_job, role):
    response = role_clients[role].get("/jobs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Job {failed_job.pk}" in page
    assert "Partially failed" in page
    assert "Acme RedFlag" in page


def test_each_row_shows_counts_as_a_stacked_bar_without_inline_styles(admin_client, failed_job):
    page = admin_client.get("/jobs/").content.decode()
    bar_match = re.search(r'<svg class="outcome-bar[^>]*>.*?</svg>', page, re.S)
    assert bar_match is not None
    bar = bar_match.group(0)
    assert 'aria-label="2 succeeded, 2 failed, 1 not sent"' in bar
    # 2 of 5 succeeded = 40 % of the bar, then failed from 40 to 80, not sent from 80.
    assert '<rect class="seg-succeeded" x="0.0" y="0" width="40.0"' in bar
    assert '<rect class="seg-failed" x="40.0" y="0" width="40.0"' in bar
    assert '<rect class="seg-skipped" x="80.0" y="0" width="20.0"' in bar
    assert "style=" not in page


def test_the_environment_badge_shows_while_the_connection_exists(admin_client, connection):
    prod = ConnectionFactory(name="Acme prod", environment="production")
    SyncJobFactory(connection=prod)
    gone = SyncJobFactory(connection=connection)
    gone.connection = None
    gone.connection_name = "Old account"
    gone.save()
    page = admin_client.get("/jobs/").content.decode()
    assert 'class="badge env-production"' in page
    assert 'Old account <span class="small muted">(deleted)</span>' in page


def test_the_empty_history_explains_where_jobs_come_from(support_client):
    page = support_client.get("/jobs/").content.decode()
    assert "No sync jobs yet" in page


def test_filters_by_connection_status_kind_starter_and_dates(admin_client, connection):
    other = ConnectionFactory(name="Other")
    a = SyncJobFactory(connection=connection, status=JobStatus.SUCCEEDED, started_by_name="ada")
    b = SyncJobFactory(connection=other, status=JobStatus.FAILED, started_by_name="sam")
    c = SyncJobFactory(connection=connection, kind=JobKind.PULL, started_by_name="system")
    old = SyncJobFactory(connection=connection, status=JobStatus.FAILED)
    SyncJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))

    def listed(**params) -> set[int]:
        return set(job_ids(admin_client.get("/jobs/", params).content.decode()))

    assert listed(connection=other.pk) == {b.pk}
    assert listed(status="failed") == {b.pk, old.pk}
    assert listed(kind="pull") == {c.pk}
    assert listed(started_by="sam") == {b.pk}
    week_ago = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert listed(since=week_ago) == {a.pk, b.pk, c.pk}
    assert listed(until=week_ago) == {old.pk}
    assert listed(status="failed", connection=connection.pk) == {old.pk}


def test_the_started_by_filter_offers_everyone_who_started_a_job(admin_client, connection):
    SyncJobFactory(connection=connection, started_by_name="sam")
    SyncJobFactory(connection=connection, started_by_name="system")
    page = admin_client.get("/jobs/").content.decode()
    assert '<option value="sam">sam</option>' in page
    assert '<option value="system">system</option>' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-13-45"}, "From: Enter a valid date."),
        ({"until": "yesterday"}, "To: Enter a valid date."),
        ({"status": "exploded"}, "Status: Select a valid choice."),
        ({"kind": "<script>"}, "Kind: Select a valid choice."),
        ({"connection": "abc"}, "Connection: Select a valid choice."),
        ({"connection": "999999"}, "Connection: Select a valid choice."),
        ({"sort": "random"}, "Sort: Select a valid choice."),
        (
            {"since": "2026-05-02", "until": "2026-05-01"},
            "The “To” date is before the “From” date.",
        ),
    ],
)
def test_bad_filter_input_is_reported_and_left_out_never_a_500(
    admin_client, failed_job, params, message
):
    response = admin_client.get("/jobs/", params)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "This filter was left out." in page
    assert f"Job {failed_job.pk}" in page  # the valid filters (none here) still apply
    assert "&lt;script&gt;" in page or "<script>" not in params.get("kind", "")


def test_a_bad_filter_leaves_the_good_ones_applied(admin_client, connection):
    ok = SyncJobFactory(connection=connection, status=JobStatus.SUCCEEDED)
    SyncJobFactory(connection=connection, status=JobStatus.FAILED)
    page = admin_client.get("/jobs/", {"status": "succeeded", "since": "2026-13-45"}).content
    assert job_ids(page.decode()) == [ok.pk]


def test_sorting_newest_oldest_most_failed_and_longest(admin_client, connection):
    now = timezone.now()
    first = SyncJobFactory(
        connection=connection,
        created_at=now - dt.timedelta(hours=3),
        n_failed=1,
        started_at=now - dt.timedelta(hours=3),
        finished_at=now - dt.timedelta(hours=1),
    )
    second = SyncJobFactory(
        connection=connection,
        created_at=now - dt.timedelta(hours=2),
        n_failed=50,
        started_at=now - dt.timedelta(hours=2),
        finished_at=now - dt.timedelta(hours=2) + dt.timedelta(minutes=1),
    )
    # Still running for 2.5 h: its duration counts up to now.
    third = SyncJobFactory(
        connection=connection,
        created_at=now - dt.timedelta(hours=1),
        n_failed=0,
        status=JobStatus.RUNNING,
        started_at=now - dt.timedelta(hours=2, minutes=30),
    )
    never_started = SyncJobFactory(connection=connection, created_at=now)

    def order(sort: str) -> list[int]:
        return job_ids(admin_client.get("/jobs/", {"sort": sort}).content.decode())

    assert order("newest") == [never_started.pk, third.pk, second.pk, first.pk]
    assert order("oldest") == [first.pk, second.pk, third.pk, never_started.pk]
    assert order("failed")[:3] == [second.pk, first.pk, never_started.pk]
    assert order("longest") == [third.pk, first.pk, second.pk, never_started.pk]


def test_the_history_is_paginated_by_50_and_keeps_the_filters(admin_client, connection):
    SyncJob.objects.bulk_create(
        SyncJob(
            connection=connection,
            connection_name=connection.name,
            provider="redflag",
            kind="push",
            status="failed",
        )
        for _ in range(120)
    )
    page1 = admin_client.get("/jobs/", {"status": "failed"}).content.decode()
    assert len(job_ids(page1)) == 50
    assert "Page 1 of 3" in page1
    assert "?status=failed&amp;page=2" in page1
    page3 = admin_client.get("/jobs/", {"status": "failed", "page": 3}).content.decode()
    assert len(job_ids(page3)) == 20
    assert admin_client.get("/jobs/", {"page": "banana"}).status_code == 200


def test_the_list_runs_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    for n in range(6):
        conn = ConnectionFactory(name=f"Conn {n}")
        for _ in range(10):
            SyncJobFactory(connection=conn, started_by_name=f"user{n}", total=10, n_succeeded=10)
    with django_assert_max_num_queries(12):
        response = admin_client.get("/jobs/")
    assert len(job_ids(response.content.decode())) == 50


def test_an_htmx_filter_returns_only_the_results_region(admin_client, failed_job):
    response = admin_client.get("/jobs/", {"status": "failed"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">')
    assert "<html" not in body
