"""Every page a role may open passes axe-core (no serious or critical violation), at desktop and
phone widths, and the sign-in form works from the keyboard alone.

Each page is also saved as a screenshot under ``var/screenshots/`` for a human to look over.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from dashboard.connections import services
from integrations.catalogue import Provider
from integrations.models import Connection, Environment

# Aliased: pytest takes any name starting with Test in a test module for a test class.
from integrations.models import TestOutcome as Outcome
from tests.browser.pages import axe_check, login, screenshot
from tests.factories import PASSWORD

# name -> (path, expected status); ``{pk}`` is the RedFlag staging connection.
PAGES = {
    "overview": ("/", 200),
    "connections": ("/connections/", 200),
    "choose-provider": ("/connections/new/", 200),
    "new-redflag": ("/connections/new/?provider=redflag", 200),
    "detail": ("/connections/{pk}/", 200),
    "fields": ("/connections/{pk}/fields/", 200),
    "delete": ("/connections/{pk}/delete/", 200),
    "audit": ("/audit/", 200),
    "jobs": ("/jobs/", 200),
    "job": ("/jobs/{job}/", 200),
    "forbidden": ("/connections/", 403),
}
# What each role may open today, plus the 403 page for those who are refused something.
ROLE_PAGES = {
    "admin": [
        "overview",
        "connections",
        "choose-provider",
        "new-redflag",
        "detail",
        "fields",
        "delete",
        "audit",
        "jobs",
        "job",
    ],
    "support": ["overview", "jobs", "job", "forbidden"],
    "manager": ["overview", "audit", "jobs", "job", "forbidden"],
}
CASES = [(role, name) for role, names in ROLE_PAGES.items() for name in names]


@pytest.fixture
def connection(admin_user) -> Connection:
    """Connections in every state the lists can show, made through the services (so audited)."""
    staging = services.connection_create(
        name="Acme staging",
        provider=Provider.REDFLAG,
        environment=Environment.STAGING,
        base_url="https://redflag.example.com",
        secret="rf_tok_5Jq9vLm2Xc7Rb4Nd8WYZ3k",
        options={"location_id": "loc-42"},
        user=admin_user,
    )
    services.field_setting_set(connection=staging, path="department", enabled=True, user=admin_user)
    services.custom_field_add(
        connection=staging, key="z_costCentre", label="Cost centre", user=admin_user
    )
    gifts = services.connection_create(
        name="Acme gifts",
        provider=Provider.SNAPPY,
        environment=Environment.PRODUCTION,
        base_url="https://api.snappy.com/public-api",
        secret="A1b2C3d4E5f6G7h8I9j0K1l2",
        options={"request_source": "api_native"},
        user=admin_user,
    )
    services.connection_record_test(
        connection=gifts, outcome=Outcome.OK, message="", latency_ms=182
    )
    campaigns = services.connection_create(
        name="Campaign triggers",
        provider=Provider.PARCELVOY,
        environment=Environment.STAGING,
        base_url="https://parcelvoy.example.com",
        secret="sk_test_9f8e7d6c5b4a3210",
        options={},
        user=admin_user,
    )
    services.connection_record_test(
        connection=campaigns,
        outcome=Outcome.UNREACHABLE,
        message="No answer within 10 s (connect timeout).",
        latency_ms=None,
    )
    old = services.connection_create(
        name="Old RedFlag account",
        provider=Provider.REDFLAG,
        environment=Environment.PRODUCTION,
        base_url="https://old-redflag.example.com",
        secret="rf_tok_revoked_0000000000",
        options={},
        user=admin_user,
    )
    services.connection_record_test(
        connection=old,
        outcome=Outcome.BAD_CREDENTIALS,
        message="401 Unauthorized",
        latency_ms=95,
    )
    services.connection_set_active(connection=old, active=False, user=admin_user)
    return staging


@pytest.fixture
def job(connection) -> int:
    """A finished push with a failure and an unsent item, so every part of the page shows."""
    from tests.factories import SyncItemFactory, SyncJobFactory

    job = SyncJobFactory(
        connection=connection,
        status="partially_failed",
        total=3,
        n_succeeded=1,
        n_failed=1,
        n_skipped=1,
        n_created=1,
    )
    SyncItemFactory(job=job, seq=0, status="succeeded", outcome="created")
    SyncItemFactory(
        job=job,
        seq=1,
        status="failed",
        http_status=422,
        error_message="The email address is already in use by another account",
    )
    SyncItemFactory(job=job, seq=2, status="skipped", error_message="Not sent: cancelled.")
    return job.pk


def _open(page: Page, live_server, path: str, status: int) -> None:
    response = page.goto(f"{live_server.url}{path}")
    assert response is not None, path
    assert response.status == status, f"{path}: {response.status}"


@pytest.mark.parametrize(("role", "name"), CASES, ids=[f"{r}-{n}" for r, n in CASES])
def test_page_has_no_serious_accessibility_violation(
    page: Page, live_server, users, connection, job, role, name
):
    login(page, live_server, users[role])
    path, status = PAGES[name]
    _open(page, live_server, path.format(pk=connection.pk, job=job), status)
    screenshot(page, f"{role}-{name}")
    axe_check(page)


def test_login_page_and_its_error_state_are_accessible(page: Page, live_server, admin_user):
    _open(page, live_server, "/accounts/login/", 200)
    screenshot(page, "anonymous-login")
    axe_check(page)

    page.get_by_label("User name").fill(admin_user.get_username())
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    screenshot(page, "anonymous-login-error")
    axe_check(page)


def test_form_error_states_are_accessible(page: Page, live_server, admin_user, connection):
    """Errors are announced, tied to their field and keep the page free of serious issues."""
    login(page, live_server, admin_user)

    _open(page, live_server, "/connections/new/?provider=redflag", 200)
    page.get_by_label("Base URL").fill("http://10.0.0.8/api")
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    name = page.get_by_label("Name")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile("Enter|required", re.IGNORECASE))
    expect(page.get_by_label("Base URL")).to_have_accessible_description(re.compile("http://"))
    screenshot(page, "admin-new-redflag-errors")
    axe_check(page)

    _open(page, live_server, f"/connections/{connection.pk}/delete/", 200)
    page.get_by_label(re.compile("to confirm")).fill("Acme")
    page.get_by_role("button", name="Delete connection").click()
    confirm = page.get_by_label(re.compile("to confirm"))
    expect(confirm).to_have_attribute("aria-invalid", "true")
    expect(confirm).to_have_accessible_description(re.compile("exactly"))
    assert Connection.objects.filter(pk=connection.pk).exists()
    screenshot(page, "admin-delete-error")
    axe_check(page)


PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.mark.parametrize("role", ["admin", "support"])
def test_pages_are_accessible_on_a_phone(page: Page, live_server, users, connection, job, role):
    page.set_viewport_size(PHONE)
    login(page, live_server, users[role])
    for name in ROLE_PAGES[role]:
        path, status = PAGES[name]
        _open(page, live_server, path.format(pk=connection.pk, job=job), status)
        screenshot(page, f"phone-{role}-{name}")
        axe_check(page)


def test_pages_do_not_scroll_sideways_on_a_phone(
    page: Page, live_server, admin_user, connection, job
):
    """At 390 px wide tables scroll inside their card; the page itself never scrolls sideways."""
    page.set_viewport_size(PHONE)
    login(page, live_server, admin_user)
    overflowing = []
    for name in ROLE_PAGES["admin"]:
        path, status = PAGES[name]
        _open(page, live_server, path.format(pk=connection.pk, job=job), status)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            overflowing.append(f"{name} ({width}px)")
    assert not overflowing, f"pages wider than the phone screen: {', '.join(overflowing)}"


def test_sign_in_with_the_keyboard_alone(page: Page, live_server, admin_user):
    """User name has focus on load; Tab goes skip link, user name, password, submit; Enter in
    the password field signs in."""
    _open(page, live_server, "/accounts/login/", 200)
    username = page.get_by_label("User name")
    expect(username).to_be_focused()

    page.keyboard.press("Shift+Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()

    page.keyboard.press("Tab")
    expect(username).to_be_focused()
    page.keyboard.type(admin_user.get_username())
    page.keyboard.press("Tab")
    password = page.get_by_label("Password")
    expect(password).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()

    page.keyboard.press("Shift+Tab")
    expect(password).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


def test_skip_link_moves_focus_past_the_navigation(page: Page, live_server, admin_user):
    login(page, live_server, admin_user)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(
        page.get_by_role("main").get_by_role("link", name="Add a connection").first
    ).to_be_focused()
