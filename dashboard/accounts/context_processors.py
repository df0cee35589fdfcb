"""The navigation, built from the user's capabilities so it shows only what they may open."""

from __future__ import annotations

import functools
import re
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from dashboard.accounts.backends import user_group_names
from dashboard.accounts.permissions import capabilities_of
from dashboard.accounts.roles import ROLE_LABELS, Capability, Role

# One connection's recipient pages live under /connections/<pk>/ but belong to "Recipients".
RECIPIENT_PAGES_RE = re.compile(r"^/connections/\d+/recipients/")

# (label, url name, capability or None for every signed-in user, url prefix for "current")
NAV_ITEMS: list[tuple[str, str, Capability | None]] = [
    ("Overview", "overview", None),
    ("Recipients", "recipients:search_all", Capability.SEARCH_RECIPIENTS),
    ("Connections", "connections:list", Capability.MANAGE_CONNECTIONS),
    ("Imports", "imports:list", Capability.MANAGE_IMPORTS),
    ("Sync history", "jobs:list", Capability.VIEW_JOBS),
    ("Test send", "campaigns:test_send", Capability.SEND_TEST_CAMPAIGNS),
    ("Audit log", "audit:list", Capability.VIEW_AUDIT),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    capabilities = capabilities_of(user)
    recipient_page = RECIPIENT_PAGES_RE.match(request.path) is not None
    items = []
    for label, url_name, capability, url in _nav_urls(get_script_prefix()):
        if capability is not None and capability not in capabilities:
            continue
        if recipient_page:
            current = url_name == "recipients:search_all"
        else:
            current = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "current": current})
    # Read with the permissions the page's capability check needed: no query of its own.
    roles = [ROLE_LABELS[Role(name)] for name in user_group_names(user) if name in Role]
    if user.is_superuser:
        roles.append("Superuser")
    return {"nav_items": items, "user_roles": roles}


@functools.cache
def _nav_urls(script_prefix: str) -> list[tuple[str, str, Capability | None, str]]:
    """``NAV_ITEMS`` with their addresses, reversed once per script prefix (the URLconf does
    not change while the process runs; the prefix is the site's place on the server)."""
    return [
        (label, url_name, capability, reverse(url_name))
        for label, url_name, capability in NAV_ITEMS
    ]
