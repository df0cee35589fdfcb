"""One job's page: header, live progress that stops polling when the job ends, the records."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from integrations.models import ItemStatus, JobKind, JobSource, JobStatus, SyncItem, SyncJob
from tests.factories import ConnectionFactory, SyncItemFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

HTMX_POLL = {"HX-Request": "true", "HX-Target": "progress"}


def identifiers(page: str) -> list[str]:
    return re.findall(r'<td class="identifier">([^<]*)</td>', page)


@pytest.mark.parametrize("role", ["admin", "support", "manager"])
def test_every_role_sees_who_started_the_job_from_where_and_its_timings(
    role_clients, running_job, role
):
    response = role_clients[role].get(f"/jobs/{running_job.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Job {running_job.pk}: push records" in page
    assert 'class="badge job-running"' in page
    assert "Acme RedFlag" in page and 'class="badge env-staging"' in page
    assert "started by ada · Dashboard" in page
    assert "<dt>Started</dt><dd><time" in page


def test_an_unknown_job_is_a_404(admin_client):
    assert admin_client.get("/jobs/424242/").status_code == 404


def test_progress_shows_percent_counts_rate_and_time_left(admin_client, running_job):
    page = admin_client.get(f"/jobs/{running_job.pk}/").content.decode()
    assert "40 %" in page
    assert "4 of 10 records done" in page
    # 4 records in 20 s: 12 a minute, so 6 pending need about 30 s (a busy machine may take
    # a moment between the fixture and the page: 11.9).
    assert re.search(r"<dt>Rate</dt><dd>(12|11\.9) records/min</dd>", page)
    assert re.search(r"<dt>Time left</dt><dd>about (29|30|31) s</dd>", page)


def test_a_finished_job_reports_what_succeeded_and_its_rate_leaves_out_unsent_records(
    admin_client, failed_job
):
    page = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert '<span class="stat">2</span>' in page
    assert "of 5 records succeeded" in page
    # 4 records sent (2 succeeded, 2 failed) in the 2 minutes it ran; the unsent one took no time.
    assert "<dt>Rate</dt><dd>2 records/min</dd>" in page
    assert "<dt>Took</dt><dd>2 min</dd>" in page


def test_the_retry_button_names_what_it_resends(admin_client, failed_job):
    failed_job.items.filter(status=ItemStatus.SKIPPED).update(status=ItemStatus.SUCCEEDED)
    SyncJob.objects.filter(pk=failed_job.pk).update(n_skipped=0, n_succeeded=3)
    page = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert ">Retry 2 failed records</button>" in page
    failed_job.items.filter(status=ItemStatus.FAILED).update(status=ItemStatus.SKIPPED)
    SyncJob.objects.filter(pk=failed_job.pk).update(n_failed=0, n_skipped=2)
    page = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert ">Retry 2 unsent records</button>" in page


def test_a_running_job_polls_its_progress_every_two_seconds(admin_client, running_job):
    page = admin_client.get(f"/jobs/{running_job.pk}/").content.decode()
    region_match = re.search(r'<section id="progress"[^>]*>', page)
    assert region_match is not None
    region = region_match.group(0)
    assert f'hx-get="/jobs/{running_job.pk}/"' in region
    assert 'hx-trigger="every 2s"' in region

    response = admin_client.get(f"/jobs/{running_job.pk}/", headers=HTMX_POLL)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="progress"')
    assert 'hx-trigger="every 2s"' in body
    assert "<html" not in body


def test_polling_stops_with_286_and_no_trigger_once_the_job_has_finished(admin_client, running_job):
    running_job.status = JobStatus.SUCCEEDED
    running_job.finished_at = timezone.now()
    running_job.save()
    response = admin_client.get(f"/jobs/{running_job.pk}/", headers=HTMX_POLL)
    assert response.status_code == 286
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="progress"')
    assert "hx-trigger" not in body
    # app.js reloads the page once on this event, so buttons and records show the end state.
    assert "job-finished" in json.loads(response["HX-Trigger"])


def test_a_finished_job_page_does_not_poll(admin_client, failed_job):
    page = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert "hx-trigger" not in page.split('<section id="progress"', 1)[1].split(">", 1)[0]
    assert "every 2s" not in page


def test_a_failed_job_states_its_reason_prominently(support_client, connection):
    job = SyncJobFactory(
        connection=connection,
        status=JobStatus.FAILED,
        error_code="Unauthorized",
        error_message="The provider refused the credentials: invalid token. Nothing more was sent.",
    )
    page = support_client.get(f"/jobs/{job.pk}/").content.decode()
    notice = re.search(r'<div class="notice job-error" role="alert">(.*?)</div>', page, re.S)
    assert notice is not None
    assert "The provider refused the credentials: invalid token." in notice.group(1)
    assert "<code>Unauthorized</code>" in notice.group(1)


def test_records_show_identifier_operation_result_attempts_http_status_error_and_remote_id(
    manager_client, failed_job
):
    page = manager_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    row_match = re.search(r"<tr>\s*<td class=\"num small\">3</td>.*?</tr>", page, re.S)
    assert row_match is not None
    row = row_match.group(0)
    assert "Create" in row
    assert 'class="badge item-failed">Failed<' in row
    assert '<td class="num">8</td>' in row and '<td class="num">503</td>' in row
    assert "The provider was unavailable (503) 8 times." in row
    assert "<code>Unavailable</code>" in row
    assert 'class="badge item-succeeded">Updated<' in page  # a succeeded record's outcome


def test_records_are_filtered_by_status_tabs_with_counts(admin_client, failed_job):
    page = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    tabs_match = re.search(r'<nav class="tabs".*?</nav>', page, re.S)
    assert tabs_match is not None
    tabs = tabs_match.group(0)
    assert 'aria-current="page">All <span class="tab-count">5</span>' in tabs
    assert (
        f'href="/jobs/{failed_job.pk}/?items=failed">Failed <span class="tab-count">2</span>'
        in tabs
    )
    assert 'Not sent <span class="tab-count">1</span>' in tabs
    assert "Pending" not in tabs  # empty tabs are left out

    failed = admin_client.get(f"/jobs/{failed_job.pk}/", {"items": "failed"}).content.decode()
    assert len(identifiers(failed)) == 2
    unsent = admin_client.get(f"/jobs/{failed_job.pk}/", {"items": "skipped"}).content.decode()
    assert "Not sent: the job was cancelled." in unsent
    assert len(identifiers(unsent)) == 1


def test_an_unknown_item_status_shows_every_record_with_a_notice(admin_client, failed_job):
    response = admin_client.get(f"/jobs/{failed_job.pk}/", {"items": "exploded"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is no item status with that name" in page
    assert len(identifiers(page)) == 5


def _links(body: str) -> dict[str, str]:
    """The pagination's links by their text: First, ← Previous, Next →, Last."""
    nav = body.split('<nav class="pagination"', 1)[1].split("</nav>", 1)[0]
    return {
        text.strip(): href.replace("&amp;", "&")
        for href, text in re.findall(r'<a [^>]*href="([^"]*)"[^>]*>([^<]*)</a>', nav)
    }


def test_records_are_paginated_by_100_keeping_the_status_tab(admin_client, connection):
    job = SyncJobFactory(connection=connection, status=JobStatus.FAILED, total=250, n_failed=250)
    SyncItem.objects.bulk_create(
        SyncItem(
            job=job,
            seq=n,
            identifier=f"p{n}@example.com",
            operation="create",
            status=ItemStatus.FAILED,
            error_message="Bad",
        )
        for n in range(250)
    )
    page1 = admin_client.get(f"/jobs/{job.pk}/", {"items": "failed"}).content.decode()
    assert len(identifiers(page1)) == 100
    assert "Records #0 to #99 · 250 in all" in page1
    links = _links(page1)
    assert set(links) == {"Next →", "Last"}  # no way back from the first page
    assert links["Next →"] == f"/jobs/{job.pk}/?items=failed&after=99"
    assert links["Last"] == f"/jobs/{job.pk}/?items=failed&page=last"
    last = admin_client.get(links["Last"]).content.decode()
    assert identifiers(last)[0] == "p150@example.com"
    assert len(identifiers(last)) == 100
    assert set(_links(last)) == {"First", "← Previous"}


def test_next_previous_and_last_walk_every_record_exactly_once(
    admin_client, connection, django_assert_max_num_queries
):
    """Pages are read by keyset (``seq``), never OFFSET: walking Next from the first page
    shows every record of the tab once, in file order; walking Previous from the last covers
    them all too; a cursor past either end shows the nearest page."""
    job = SyncJobFactory(
        connection=connection, status=JobStatus.PARTIALLY_FAILED, total=530, n_succeeded=353,
        n_failed=177,
    )  # fmt: skip
    SyncItem.objects.bulk_create(
        SyncItem(
            job=job,
            seq=n,
            identifier=f"p{n}@example.com",
            operation="create",
            status=ItemStatus.FAILED if n % 3 == 0 else ItemStatus.SUCCEEDED,
            error_message="Bad" if n % 3 == 0 else "",
        )
        for n in range(530)
    )
    every = [f"p{n}@example.com" for n in range(530)]
    failed = [f"p{n}@example.com" for n in range(530) if n % 3 == 0]
    for tab, expected in (("", every), ("?items=failed", failed)):
        seen: list[str] = []
        url: str | None = f"/jobs/{job.pk}/{tab}"
        while url:
            with django_assert_max_num_queries(12):
                body = admin_client.get(url).content.decode()
            page = identifiers(body)
            assert 0 < len(page) <= 100
            seen += page
            url = _links(body).get("Next →") if "pagination" in body else None
        assert seen == expected

        # Back from the last page: each page is a run of the tab's records in order, the
        # pages cover every record, and the walk ends on the whole first page.
        seen = []
        url = f"/jobs/{job.pk}/{tab}{'&' if tab else '?'}page=last"
        while url:
            body = admin_client.get(url).content.decode()
            page = identifiers(body)
            start = expected.index(page[0])
            assert page == expected[start : start + len(page)]
            seen += page
            url = _links(body).get("← Previous")
        assert identifiers(body) == expected[:100]
        assert set(seen) == set(expected)

        join = "&" if tab else "?"
        beyond = admin_client.get(f"/jobs/{job.pk}/{tab}{join}after=99999").content.decode()
        assert identifiers(beyond) == expected[-100:]
        before = admin_client.get(f"/jobs/{job.pk}/{tab}{join}before=0").content.decode()
        assert identifiers(before) == expected[:100]
        junk = admin_client.get(f"/jobs/{job.pk}/{tab}{join}after=x&before=-1").content.decode()
        assert identifiers(junk) == expected[:100]


def test_the_record_page_takes_its_counts_from_the_job_not_by_counting_items(
    admin_client, failed_job, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12) as captured:
        page = admin_client.get(f"/jobs/{failed_job.pk}/", {"items": "failed"}).content.decode()
    assert 'class="pagination"' not in page  # one page only
    counting = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert not [sql for sql in counting if "integrations_syncitem" in sql]


def test_the_record_page_runs_a_bounded_number_of_queries(
    admin_client, connection, django_assert_max_num_queries
):
    job = SyncJobFactory(connection=connection, status=JobStatus.FAILED, total=300)
    SyncItem.objects.bulk_create(
        SyncItem(job=job, seq=n, identifier=f"p{n}", operation="create", status=ItemStatus.FAILED)
        for n in range(300)
    )
    with django_assert_max_num_queries(12):
        assert admin_client.get(f"/jobs/{job.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        (JobStatus.QUEUED, {"Pause", "Cancel job"}),
        (JobStatus.RUNNING, {"Pause", "Cancel job"}),
        (JobStatus.PAUSED, {"Resume", "Cancel job"}),
        (JobStatus.PARTIALLY_FAILED, {"Retry 3 failed and unsent records"}),
        (JobStatus.SUCCEEDED, set()),
    ],
)
def test_admins_see_only_the_buttons_that_apply(admin_client, failed_job, status, buttons):
    failed_job.status = status
    if status == JobStatus.SUCCEEDED:
        failed_job.items.update(status=ItemStatus.SUCCEEDED)
        failed_job.n_succeeded, failed_job.n_failed, failed_job.n_skipped = 5, 0, 0
    failed_job.save()
    page = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    shown = set(re.findall(r'<button class="btn[^"]*" type="submit">([^<]+)</button>', page))
    shown.discard("Sign out")
    assert shown == buttons


def test_a_stopping_job_offers_no_second_cancel(admin_client, running_job):
    running_job.cancel_requested = True
    running_job.save()
    page = admin_client.get(f"/jobs/{running_job.pk}/").content.decode()
    assert "Stopping…" in page
    assert "Cancel job" not in page


@pytest.mark.parametrize("role", ["support", "manager"])
def test_only_admins_see_the_steering_buttons(role_clients, running_job, failed_job, role):
    for job in (running_job, failed_job):
        page = role_clients[role].get(f"/jobs/{job.pk}/").content.decode()
        for label in ("Pause", "Cancel job", "Resume", "Retry"):
            assert f">{label}" not in page


def test_a_mirror_refresh_counts_recipients_without_a_percentage(admin_client, connection):
    job = SyncJobFactory(
        connection=connection,
        kind=JobKind.PULL,
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
        total=1500,
        n_succeeded=1500,
    )
    page = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "recipients read so far" in page
    assert "<progress" in page
    assert "Pause" not in page  # a pull cannot be paused


def test_a_retry_links_back_to_its_original_and_the_original_forward(admin_client, failed_job):
    retry = SyncJobFactory(
        connection=failed_job.connection,
        kind=JobKind.RETRY,
        source=JobSource.RETRY,
        source_label=f"Retry of job {failed_job.pk}",
        retry_of=failed_job,
    )
    old = admin_client.get(f"/jobs/{failed_job.pk}/").content.decode()
    assert f'Retried as <a href="/jobs/{retry.pk}/">job {retry.pk}</a>' in old
    new = admin_client.get(f"/jobs/{retry.pk}/").content.decode()
    assert f'<a href="/jobs/{failed_job.pk}/">Retry of job {failed_job.pk}</a>' in new


def test_a_job_of_a_deleted_connection_still_reads_well(admin_client):
    conn = ConnectionFactory(name="Short lived")
    job = SyncJobFactory(connection=conn, status=JobStatus.FAILED, n_failed=1, total=1)
    SyncItemFactory(job=job, seq=0, status=ItemStatus.FAILED)
    conn.delete()
    response = admin_client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Short lived" in page and "(connection deleted)" in page
    assert ">Retry" not in page  # nothing to retry against


def test_a_job_confirmed_from_an_import_links_back_to_it(admin_client, support_client):
    from tests.factories import ImportFactory

    job = SyncJobFactory(source="import", source_label="Import 7: new-starters.csv")
    imported = ImportFactory(connection=job.connection, job=job)
    body = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/imports/{imported.pk}/"' in body
    # Support may read the history but not open imports: the label shows without a link.
    body = support_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Import 7: new-starters.csv" in body and f"/imports/{imported.pk}/" not in body


def test_a_record_s_remote_id_opens_the_person_for_those_who_may_look_people_up(
    role_clients, connection
):
    job = SyncJobFactory(connection=connection, status=JobStatus.SUCCEEDED, total=3)
    SyncItemFactory(job=job, seq=0, status=ItemStatus.SUCCEEDED, remote_id="6b1039a446e7f4")
    SyncItemFactory(job=job, seq=1, status=ItemStatus.SUCCEEDED, remote_id="odd/id")
    SyncItemFactory(job=job, seq=2, status=ItemStatus.FAILED, remote_id="")
    person = f"/connections/{connection.pk}/recipients/6b1039a446e7f4/"

    for role in ("admin", "support"):
        page = role_clients[role].get(f"/jobs/{job.pk}/").content.decode()
        assert f'<a href="{person}" title="Open this person"><code' in page
        assert '<code class="small">odd/id</code>' in page  # not an address: shown, not linked
        assert page.count('title="Open this person"') == 1
    # Managers do not look people up: the id is shown, not linked.
    page = role_clients["manager"].get(f"/jobs/{job.pk}/").content.decode()
    assert '<code class="small">6b1039a446e7f4</code>' in page
    assert person not in page
