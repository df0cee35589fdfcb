"""The overview shows running jobs live, recent failures and a 30-day chart by outcome."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from dashboard.jobs.charts import outcome_chart
from dashboard.jobs.selectors import DayOutcomes, job_daily_outcomes
from integrations.models import JobStatus, SyncJob
from tests.factories import SyncJobFactory, UserFactory

pytestmark = pytest.mark.django_db

RUNNING_POLL = {"HX-Request": "true", "HX-Target": "running-jobs"}
IDLE_POLL = "15s"  # how often an overview with nothing running looks for a new job


def _at(days_ago: int, hour: int = 12) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def make_jobs(connection, days_ago: int, **counts: int) -> None:
    for status, n in counts.items():
        for _ in range(n):
            job = SyncJobFactory(connection=connection, status=status)
            SyncJob.objects.filter(pk=job.pk).update(created_at=_at(days_ago))


@pytest.mark.parametrize("role", ["admin", "support", "manager"])
def test_every_role_sees_running_jobs_with_progress_and_a_link(role_clients, running_job, role):
    page = role_clients[role].get("/").content.decode()
    region = page.split('<div id="running-jobs"', 1)[1].split("</ul>", 1)[0]
    assert f'href="/jobs/{running_job.pk}/"' in region
    assert "40 %" in region and "4 of 10" in region
    assert 'class="outcome-bar outcome-bar-medium"' in region
    assert 'hx-trigger="every 3s"' in region


def test_the_running_list_refreshes_alone_slows_down_when_idle_and_shows_a_new_job(
    admin_client, running_job
):
    response = admin_client.get("/", headers=RUNNING_POLL)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="running-jobs"')

    SyncJob.objects.filter(pk=running_job.pk).update(status=JobStatus.SUCCEEDED)
    response = admin_client.get("/", headers=RUNNING_POLL)
    assert response.status_code == 200  # not 286: a job started elsewhere must still appear
    body = response.content.decode()
    assert "No sync job is running." in body
    assert f'hx-trigger="every {IDLE_POLL}"' in body

    SyncJob.objects.filter(pk=running_job.pk).update(status=JobStatus.RUNNING)
    body = admin_client.get("/", headers=RUNNING_POLL).content.decode()
    assert f'href="/jobs/{running_job.pk}/"' in body
    assert 'hx-trigger="every 3s"' in body


def test_an_idle_overview_still_watches_for_jobs(admin_client, connection):
    page = admin_client.get("/").content.decode()
    region = page.split('<div id="running-jobs"', 1)[1].split(">", 1)[0]
    assert f'hx-trigger="every {IDLE_POLL}"' in region


def test_recent_failures_list_the_last_ten_not_acknowledged_first(
    manager_client, manager_user, connection
):
    jobs = []
    for n in range(12):
        job = SyncJobFactory(connection=connection, status=JobStatus.FAILED, n_failed=n)
        SyncJob.objects.filter(pk=job.pk).update(
            created_at=_at(0, hour=0) + dt.timedelta(minutes=n)
        )
        jobs.append(job)
    acknowledged = jobs[11]  # the newest
    SyncJob.objects.filter(pk=acknowledged.pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=manager_user, acknowledgement="seen"
    )
    SyncJobFactory(connection=connection, status=JobStatus.SUCCEEDED)
    page = manager_client.get("/").content.decode()
    section = page.split('id="failures-heading"', 1)[1].split("</section>", 1)[0]
    listed = [int(n) for n in re.findall(r'href="/jobs/(\d+)/">Job', section)]
    assert len(listed) == 10
    # The ten newest failures; the acknowledged one after those still waiting.
    assert listed == [j.pk for j in reversed(jobs[2:11])] + [acknowledged.pk]
    assert "by mia" in section


def test_the_chart_counts_30_days_of_jobs_by_outcome_in_one_query(
    connection, django_assert_num_queries
):
    make_jobs(connection, 0, succeeded=3, failed=1)
    make_jobs(connection, 2, partially_failed=2, cancelled=1, succeeded=1)
    make_jobs(connection, 29, succeeded=1)
    make_jobs(connection, 30, failed=5)  # one day too old
    make_jobs(connection, 0, running=4, queued=1)  # not finished: not counted
    with django_assert_num_queries(1):
        days = job_daily_outcomes(days=30)
    assert len(days) == 30
    assert days[0].day == timezone.localdate() - dt.timedelta(days=29)
    assert days[-1].day == timezone.localdate()
    assert days[-1].counts == {"succeeded": 3, "failed": 1}
    assert days[-3].counts == {"partially_failed": 2, "cancelled": 1, "succeeded": 1}
    assert days[0].counts == {"succeeded": 1}
    assert sum(d.total for d in days) == 9
    assert days[-1].failures == 1 and days[-3].failures == 2


def test_the_failure_rate_counts_failed_and_partially_failed_over_finished_jobs():
    today = dt.date(2026, 11, 24)
    days = [DayOutcomes(today - dt.timedelta(days=29 - n), {}) for n in range(30)]
    days[-1] = DayOutcomes(today, {"succeeded": 3, "failed": 1})
    days[-3] = DayOutcomes(today - dt.timedelta(days=2), {"partially_failed": 2, "cancelled": 2})
    chart = outcome_chart(days)
    assert chart.total == 8 and chart.failures == 3
    assert chart.rate_percent == "38 %"  # 3 of 8
    assert chart.days[-1].rate == 0.25
    assert chart.days[-3].rate == 0.5
    assert chart.days[0].rate is None  # no jobs: no rate, and no point on the line
    assert len(chart.rate_dots) == 2
    assert "8 jobs finished in the last 30 days; 3 failed or partially failed" in chart.summary


def test_the_chart_stacks_bars_in_proportion_on_a_whole_number_axis():
    today = dt.date(2026, 11, 24)
    days = [DayOutcomes(today - dt.timedelta(days=29 - n), {}) for n in range(30)]
    days[-1] = DayOutcomes(today, {"succeeded": 6, "failed": 2})
    chart = outcome_chart(days)
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    last = chart.days[-1]
    succeeded, failed = last.rects
    assert (succeeded.key, failed.key) == ("succeeded", "failed")
    plot_height = chart.baseline - chart.top
    assert succeeded.height == pytest.approx(plot_height * 6 / 8, abs=0.01)
    assert failed.height == pytest.approx(plot_height * 2 / 8, abs=0.01)
    assert succeeded.y + succeeded.height == pytest.approx(chart.baseline, abs=0.01)
    assert failed.y + failed.height == pytest.approx(succeeded.y, abs=0.01)
    assert all(not d.rects for d in chart.days[:-1])


def test_the_overview_chart_is_an_accessible_svg_without_inline_styles(manager_client, connection):
    make_jobs(connection, 0, succeeded=3, failed=1)
    make_jobs(connection, 1, partially_failed=1)
    page = manager_client.get("/").content.decode()
    svg_match = re.search(r'<figure class="chart">.*?</figure>', page, re.S)
    assert svg_match is not None
    svg = svg_match.group(0)
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in svg
    assert '<title id="chart-title">' in svg
    assert "5 jobs finished in the last 30 days; 2 failed or partially failed" in svg
    assert 'class="bar-succeeded"' in svg and 'class="bar-partial"' in svg
    assert "<polyline" in svg
    assert "Failure rate <strong>40 %</strong>" in page
    table_match = re.search(r'<div class="visually-hidden">\s*<table>.*?</table>', page, re.S)
    assert table_match is not None
    table = table_match.group(0)
    today = timezone.localdate().isoformat()
    assert (
        f'<th scope="row">{today}</th><td>3</td><td>0</td><td>1</td><td>0</td><td>25 %</td>'
        in table
    )
    assert "style=" not in page


def test_the_overview_runs_a_bounded_number_of_queries(
    admin_client, connection, django_assert_max_num_queries
):
    for days_ago in range(30):
        make_jobs(connection, days_ago, succeeded=2, failed=1)
    for _ in range(5):
        SyncJobFactory(connection=connection, status=JobStatus.RUNNING)
    with django_assert_max_num_queries(14):
        assert admin_client.get("/").status_code == 200


def test_a_user_without_a_role_sees_no_job_sections(client, connection, running_job):
    client.force_login(UserFactory(username="nobody"))
    page = client.get("/").content.decode()
    assert "Running jobs" not in page and "Recent failures" not in page
