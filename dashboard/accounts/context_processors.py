"""The navigation, built from the user's capabilities so it shows only what they may open."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from dashboard.accounts.backends import user_group_names
from dashboard.accounts.permissions import has_capability
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
    items = []
    for label, url_name, capability in NAV_ITEMS:
        if capability is not None and not has_capability(user, capability):
            continue
        url = reverse(url_name)
        current = request.path == url if url == "/" else request.path.startswith(url)
        if RECIPIENT_PAGES_RE.match(request.path):
            current = url_name == "recipients:search_all"
        items.append({"label": label, "url": url, "current": current})
    # Read with the permissions the page's capability check needed: no query of its own.
    roles = [ROLE_LABELS[Role(name)] for name in user_group_names(user) if name in Role]
    if user.is_superuser:
        roles.append("Superuser")
    return {"nav_items": items, "user_roles": roles}
