"""Drive the pages in a browser test: sign in, take a screenshot, check accessibility with axe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Page, expect

from dashboard.accounts.views import landing_url
from tests.factories import PASSWORD

# Violations of these impacts fail a test; "moderate" and "minor" are returned by axe_check.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
_axe = Axe()


def login(page: Page, live_server, user, password: str = PASSWORD) -> None:
    """Sign in through the login form and wait for the user's landing page.

    Support staff land on the recipient search, everyone else on the overview.
    """
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("User name").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}{landing_url(user)}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``var/screenshots/<name>.png`` (``var/`` is gitignored)."""
    directory = Path(settings.BASE_DIR) / "var" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") + ".png")
    page.screenshot(path=path, full_page=True)
    return path


def axe_report(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the current page and return every violation it finds."""
    return _axe.run(page).response["violations"]


def axe_check(page: Page) -> list[dict[str, Any]]:
    """Fail listing every serious or critical axe violation; return the milder ones."""
    violations = axe_report(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"{len(blocking)} serious or critical accessibility violation(s) on {page.url}:"]
        for violation in blocking:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            lines.append(f"  {violation['helpUrl']}")
            for node in violation["nodes"]:
                target = " ".join(str(part) for part in node["target"])
                summary = node.get("failureSummary", "").strip().replace("\n", "\n      ")
                lines.append(f"    at {target}: {summary}")
        pytest.fail("\n".join(lines), pytrace=False)
    return [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
