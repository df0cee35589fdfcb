"""Browser tests: Debian's Chromium driven by pytest-playwright against pytest-django's live server.

One browser serves every test in this package; each test gets a fresh context and page. The live
server runs in a thread of this process and reads the same test database, so test data must be
committed: the user fixtures here use ``transactional_db`` with serialized rollback (see
``_browser_db``).

No browser is downloaded: ``playwright install`` does not work on these machines, so the launch
arguments point at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

from dashboard.connections import services as connection_services
from integrations.catalogue import Provider
from integrations.models import Connection, Environment
from tests.factories import UserFactory
from tests.helpers.environment import skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this directory ``browser`` (``-m "not browser"`` skips them all)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)
            # pytest-playwright's stand-in for pytest-base-url defines a session fixture as a
            # method, which pytest 9 deprecates; nothing here uses ``base_url``.
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:Session-scoped fixtures defined as instance methods"
                    ":pytest.PytestRemovedIn10Warning"
                )
            )


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> None:
    """Skip every browser test without Debian's Chromium; fail under CI=true."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing; install Debian's chromium: apt-get install chromium")


@contextmanager
def _orm_allowed_beside_playwright() -> Iterator[None]:
    """Let the ORM run in this thread while Playwright's sync API is started.

    Playwright's sync API runs an asyncio event loop in a greenlet of this thread and, between
    two calls, leaves that loop marked as the thread's running loop. Django's ``async_unsafe``
    guard sees it and raises ``SynchronousOnlyOperation`` for every ORM call made in a test body
    or fixture (creating users, reading back a saved row), although these calls are plain
    synchronous code that never runs inside the loop. ``DJANGO_ALLOW_ASYNC_UNSAFE`` switches the
    guard off; Django reads it at call time. It is set only while Playwright runs, not for the
    whole pytest process: other tests start subprocesses (``manage.py check --deploy`` reports
    the variable as error async.E001) and may rely on the guard. The live server's thread has
    no event loop and is unaffected.
    """
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


# pytest-playwright 0.10's ``playwright``, ``browser_type``, ``browser_context_args``,
# ``launch_browser`` and ``browser`` fixtures, narrowed from the session to this package: the
# Playwright event loop (see above) and Chromium then stop as soon as the last browser test
# ends, before the rest of the suite runs. pytest-django runs all live-server tests one after
# the other, so this package starts Playwright once. The plugin's function-scoped fixtures
# (``new_context``, ``context``, ``page``, artifacts on failure) are used unchanged.
@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Playwright]:
    with _orm_allowed_beside_playwright():
        pw = sync_playwright().start()
        try:
            if _pw_api_request_contexts:
                _pw_api_request_contexts.instrument(pw)
            yield pw
        finally:
            pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium headless (``--headed`` still wins) with quiet defaults."""
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="package")
def browser_context_args(
    pytestconfig: pytest.Config,
    playwright: Playwright,
    device: str | None,
    base_url: str | None,
    _pw_artifacts_folder: Any,
) -> dict[str, Any]:
    # British English like the site (LANGUAGE_CODE en-gb): dates read dd/mm/yyyy.
    context_args: dict[str, Any] = {"locale": "en-GB"}
    if device:
        context_args.update(playwright.devices[device])
    if base_url:
        context_args["base_url"] = base_url
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        context_args["record_video_dir"] = _pw_artifacts_folder.name
    return context_args


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    """Launch the local Chromium (the plugin's remote ``connect_options`` are not offered)."""

    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture
def _browser_db(transactional_db, django_db_serialized_rollback) -> None:
    """Committed data the live server can see, with the role groups intact.

    A transactional test ends by emptying every table, which would also drop the groups and
    permissions the roles data migration created; serialized rollback restores them before
    each test.
    """


@pytest.fixture
def admin_user(_browser_db):
    return UserFactory(username="ada", role="admin")


@pytest.fixture
def support_user(_browser_db):
    return UserFactory(username="sam", role="support")


@pytest.fixture
def manager_user(_browser_db):
    return UserFactory(username="mia", role="manager")


@pytest.fixture
def sandbox_snappy(admin_user, sandbox, tmp_path, settings) -> Connection:
    """A Snappy connection to the session's sandbox, uploads in a temporary folder and no
    provider list cached from another test."""
    settings.MEDIA_ROOT = tmp_path / "uploads"
    cache.clear()
    creds = sandbox.credentials["snappy"]
    return connection_services.connection_create(
        name="Acme gifts",
        provider=Provider.SNAPPY,
        environment=Environment.STAGING,
        base_url=sandbox.base_urls["snappy"],
        secret=creds["api_key"],
        options={"company_id": creds["company_id"]},
        user=admin_user,
    )
