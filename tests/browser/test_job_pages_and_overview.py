"""A job's records paged by keyboard to the last page, a pruned job, and the overview's
warnings (no worker, a failed refresh): each page accessible."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard.housekeeping.models import PrunedItems
from integrations.models import ItemStatus, SyncItem
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import ConnectionFactory, SyncJobFactory


@pytest.fixture
def big_job(admin_user) -> int:
    connection = ConnectionFactory(name="Acme RedFlag")
    job = SyncJobFactory(
        connection=connection, status="partially_failed", total=250, n_succeeded=200, n_failed=50
    )
    SyncItem.objects.bulk_create(
        SyncItem(
            job=job,
            seq=n,
            identifier=f"p{n}@example.com",
            operation="create",
            status=ItemStatus.FAILED if n % 5 == 0 else ItemStatus.SUCCEEDED,
            error_message="Bad" if n % 5 == 0 else "",
        )
        for n in range(250)
    )
    return job.pk


def test_the_last_page_of_records_is_reached_with_the_keyboard(
    page: Page, live_server, admin_user, big_job
):
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/jobs/{big_job}/")
    pagination = page.get_by_role("navigation", name="Pages of records")
    expect(pagination).to_contain_text("Records #0 to #99 · 250 in all")
    last = pagination.get_by_role("link", name="Last")
    last.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**page=last")
    expect(page.locator("td.identifier").first).to_have_text("p150@example.com")
    expect(page.get_by_role("navigation", name="Pages of records")).to_contain_text(
        "Records #150 to #249"
    )
    screenshot(page, "job-last-page")
    axe_check(page)

    page.get_by_role("link", name="← Previous").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**before=150")
    expect(page.locator("td.identifier").first).to_have_text("p50@example.com")


def test_a_pruned_job_says_so_accessibly(page: Page, live_server, manager_user, big_job):
    SyncItem.objects.filter(job_id=big_job).delete()
    PrunedItems.objects.create(job_id=big_job, items=250, pruned_at=timezone.now())
    login(page, live_server, manager_user)
    page.goto(f"{live_server.url}/jobs/{big_job}/")
    expect(page.get_by_text("The records of this job were pruned on")).to_be_visible()
    axe_check(page)


def test_the_overview_warnings_are_accessible(page: Page, live_server, admin_user, settings):
    settings.OVERVIEW_PING_TIMEOUT = 0.3
    cache.clear()
    connection = ConnectionFactory(name="Acme RedFlag")
    SyncJobFactory(
        connection=connection,
        kind="pull",
        status="failed",
        finished_at=timezone.now() - dt.timedelta(minutes=5),
        error_message="RedFlag did not answer in time.",
    )
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/")
    expect(page.get_by_text("Acme RedFlag: last refresh failed at")).to_be_visible()
    expect(page.get_by_text("No worker answered.")).to_be_visible()
    screenshot(page, "overview-warnings")
    axe_check(page)
