"""Every URL answers the right status for anonymous, admin, support and manager users.

The table below must name every URL pattern with the capability it requires: a new view
without an entry fails ``test_every_url_pattern_is_in_the_table``, so no view ships without a
permission decision. What each role gets follows from ``ROLE_CAPABILITIES``, the same table the
README shows (``test_the_readme_role_table_is_the_code's``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from dashboard.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from integrations.models import FieldSetting, MirroredRecipient
from tests.factories import ConnectionFactory, ImportFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

OK, DENIED, LOGIN = "ok", 403, "login"
# What a URL requires: a capability, or SIGNED_IN (any role), or PUBLIC (anyone, signed in or not).
SIGNED_IN, PUBLIC = "signed in", "public"
Requirement = Capability | str
# The mirrored recipient the ``objects`` fixture makes (a fixed id: other tests format these
# paths with ``pk`` and ``job`` only).
REMOTE_ID = "5f1c0ffee0000000000000aa"

# url name -> (method, path template, what it requires); anonymous users go to the login page
# unless the URL is PUBLIC.
TABLE: dict[str, tuple[str, str, Requirement]] = {
    "overview": ("get", "/", SIGNED_IN),
    "healthz": ("get", "/healthz/", PUBLIC),
    "readyz": ("get", "/readyz/", PUBLIC),
    "login": ("get", "/accounts/login/", PUBLIC),
    "logout": ("post", "/accounts/logout/", PUBLIC),
    "connections:list": ("get", "/connections/", Capability.MANAGE_CONNECTIONS),
    "connections:new": ("get", "/connections/new/", Capability.MANAGE_CONNECTIONS),
    "connections:detail": ("get", "/connections/{pk}/", Capability.MANAGE_CONNECTIONS),
    "connections:test": ("post", "/connections/{pk}/test/", Capability.MANAGE_CONNECTIONS),
    "connections:refresh": (
        "post",
        "/connections/{pk}/refresh/",
        Capability.REFRESH_MIRROR,
    ),
    "connections:toggle_active": (
        "post",
        "/connections/{pk}/active/",
        Capability.MANAGE_CONNECTIONS,
    ),
    "connections:delete": ("get", "/connections/{pk}/delete/", Capability.MANAGE_CONNECTIONS),
    "connections:fields": ("get", "/connections/{pk}/fields/", Capability.MANAGE_CONNECTIONS),
    "connections:field_toggle": (
        "post",
        "/connections/{pk}/fields/toggle/",
        Capability.MANAGE_CONNECTIONS,
    ),
    "connections:custom_field_add": (
        "post",
        "/connections/{pk}/fields/custom/",
        Capability.MANAGE_CONNECTIONS,
    ),
    "connections:custom_field_change": (
        "post",
        "/connections/{pk}/fields/custom/z_team/",
        Capability.MANAGE_CONNECTIONS,
    ),
    "jobs:list": ("get", "/jobs/", Capability.VIEW_JOBS),
    "jobs:detail": ("get", "/jobs/{job}/", Capability.VIEW_JOBS),
    "jobs:errors_csv": ("get", "/jobs/{job}/errors.csv", Capability.VIEW_JOBS),
    "jobs:cancel": ("post", "/jobs/{job}/cancel/", Capability.MANAGE_JOBS),
    "jobs:pause": ("post", "/jobs/{job}/pause/", Capability.MANAGE_JOBS),
    "jobs:resume": ("post", "/jobs/{job}/resume/", Capability.MANAGE_JOBS),
    "jobs:retry": ("post", "/jobs/{job}/retry/", Capability.MANAGE_JOBS),
    "jobs:acknowledge": ("post", "/jobs/{job}/acknowledge/", Capability.ACKNOWLEDGE_JOBS),
    "audit:list": ("get", "/audit/", Capability.VIEW_AUDIT),
    # The ``objects`` fixture gives its import the connection's pk.
    "imports:list": ("get", "/imports/", Capability.MANAGE_IMPORTS),
    "imports:new": ("get", "/imports/new/", Capability.MANAGE_IMPORTS),
    "imports:sample_csv": ("get", "/imports/sample.csv", Capability.MANAGE_IMPORTS),
    "imports:sample_windows_csv": (
        "get",
        "/imports/sample-windows-1252.csv",
        Capability.MANAGE_IMPORTS,
    ),
    "imports:sample_many_csv": ("get", "/imports/sample-10000.csv", Capability.MANAGE_IMPORTS),
    "imports:detail": ("get", "/imports/{pk}/", Capability.MANAGE_IMPORTS),
    "imports:reading": ("post", "/imports/{pk}/reading/", Capability.MANAGE_IMPORTS),
    "imports:layout": ("post", "/imports/{pk}/layout/", Capability.MANAGE_IMPORTS),
    "imports:mapping": ("post", "/imports/{pk}/mapping/", Capability.MANAGE_IMPORTS),
    "imports:constants": ("post", "/imports/{pk}/constants/", Capability.MANAGE_IMPORTS),
    "imports:date_order": ("post", "/imports/{pk}/date-order/", Capability.MANAGE_IMPORTS),
    "imports:refresh": ("post", "/imports/{pk}/refresh/", Capability.MANAGE_IMPORTS),
    "imports:confirm": ("post", "/imports/{pk}/confirm/", Capability.MANAGE_IMPORTS),
    "imports:discard": ("post", "/imports/{pk}/discard/", Capability.MANAGE_IMPORTS),
    "imports:invalid_csv": ("get", "/imports/{pk}/invalid.csv", Capability.MANAGE_IMPORTS),
    "imports:fix_cell": ("post", "/imports/{pk}/rows/2/fix/", Capability.MANAGE_IMPORTS),
    "campaigns:test_send": ("get", "/campaigns/test-send/", Capability.SEND_TEST_CAMPAIGNS),
    "campaigns:people": (
        "get",
        "/campaigns/test-send/people/?q=zoe",
        Capability.SEND_TEST_CAMPAIGNS,
    ),
    "campaigns:allowlist": ("get", "/campaigns/allowlist/{pk}/", Capability.MANAGE_CONNECTIONS),
    "campaigns:allowlist_remove": (
        "post",
        "/campaigns/allowlist/{pk}/1/remove/",
        Capability.MANAGE_CONNECTIONS,
    ),
    "recipients:search_all": ("get", "/recipients/", Capability.SEARCH_RECIPIENTS),
    "recipients:search": ("get", "/connections/{pk}/recipients/", Capability.SEARCH_RECIPIENTS),
    "recipients:new": (
        "get",
        "/connections/{pk}/recipients/new/",
        Capability.CREATE_DELETE_RECIPIENTS,
    ),
    "recipients:detail": (
        "get",
        f"/connections/{{pk}}/recipients/{REMOTE_ID}/",
        Capability.SEARCH_RECIPIENTS,
    ),
    "recipients:edit": (
        "get",
        f"/connections/{{pk}}/recipients/{REMOTE_ID}/edit/",
        Capability.EDIT_RECIPIENTS,
    ),
    "recipients:delete": (
        "get",
        f"/connections/{{pk}}/recipients/{REMOTE_ID}/delete/",
        Capability.CREATE_DELETE_RECIPIENTS,
    ),
}


def _expected(role: str, requirement: Requirement) -> str | int:
    if requirement == PUBLIC:
        return OK
    if role == "anonymous":
        return LOGIN
    if requirement == SIGNED_IN:
        return OK
    return OK if requirement in ROLE_CAPABILITIES[Role(role)] else DENIED


def _readme_roles() -> dict[Role, set[str]]:
    """The README's role table: role -> what it says the role may do."""
    text = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| role | may |") :].split("\n\n", 1)[0]
    roles = {}
    for line in table.splitlines()[2:]:
        role_cell, may_cell = (cell.strip() for cell in line.strip("|").split("|"))
        role = Role(role_cell.split("`")[1])
        roles[role] = {part.strip() for part in may_cell.split(";")}
    return roles


def test_the_readme_role_table_is_the_codes():
    assert _readme_roles() == {
        role: {cap.label for cap in caps} for role, caps in ROLE_CAPABILITIES.items()
    }


def test_an_admin_may_do_everything_but_sign_off_failures():
    """Acknowledging a failed job is the managers' review of what admins ran (README)."""
    assert set(Capability) - ROLE_CAPABILITIES[Role.ADMIN] == {Capability.ACKNOWLEDGE_JOBS}


def test_every_capability_guards_some_url():
    used = {req for _, _, req in TABLE.values() if isinstance(req, Capability)}
    assert used == set(Capability)


def _names(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{entry.namespace}:" if entry.namespace else prefix
            yield from _names(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name


def test_every_url_pattern_is_in_the_table():
    missing = sorted(set(_names(get_resolver().url_patterns)) - set(TABLE))
    assert not missing, f"Add these URLs to the permission table: {missing}"


@pytest.fixture
def objects():
    conn = ConnectionFactory()
    FieldSetting.objects.create(connection=conn, path="tags.z_team", custom=True, enabled=True)
    job = SyncJobFactory(connection=conn, status="failed", total=1, n_failed=1)
    MirroredRecipient.objects.create(
        connection=conn, remote_id=REMOTE_ID, email="zoe@example.com", first_name="Zoë"
    )
    ImportFactory(pk=conn.pk, connection=conn)
    return {"pk": conn.pk, "job": job.pk}


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("role", ["anonymous", "admin", "support", "manager"])
def test_each_role_gets_the_right_status_for_each_url(role_clients, objects, role, name):
    method, template, requirement = TABLE[name]
    path = template.format(**objects)
    expected = _expected(role, requirement)
    response = getattr(role_clients[role], method)(path)
    if expected == LOGIN:
        assert response.status_code == 302, (role, path)
        assert response["Location"].startswith("/accounts/login/?next="), (role, path)
    elif expected == DENIED:
        assert response.status_code == 403, (role, path)
        assert "You need the " in response.content.decode(), (role, path)
    else:
        # /readyz/ answers 503 here: no worker or scheduler runs beside this test.
        allowed = {200, 302, 400, 422} | ({503} if name == "readyz" else set())
        assert response.status_code in allowed, (role, path, response.status_code)


def test_the_403_page_names_what_the_user_lacks(support_client):
    page = support_client.get("/connections/").content.decode()
    assert "You need the HR admin role to manage provider connections" in page
    assert "sam" in page and "Support" in page


def test_a_denied_htmx_request_gets_a_plain_text_message(support_client, objects):
    response = support_client.post(
        f"/connections/{objects['pk']}/fields/toggle/",
        {"path": "department", "enabled": "on"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert FieldSetting.objects.filter(path="department").count() == 0


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("admin", ["Recipients", "Connections", "Imports", "Sync history", "Audit log"], []),
        ("support", ["Recipients", "Sync history"], ["Connections", "Imports", "Audit log"]),
        ("manager", ["Sync history", "Audit log"], ["Recipients", "Connections", "Imports"]),
    ],
)
def test_the_navigation_shows_only_what_the_role_may_open(role_clients, role, visible, hidden):
    page = role_clients[role].get("/").content.decode()
    nav = page.split('<nav class="sidebar"', 1)[1].split("</nav>", 1)[0]
    for label in visible:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav


def test_an_inactive_user_is_refused(admin_user, admin_client):
    admin_user.is_active = False
    admin_user.save()
    response = admin_client.get("/connections/")
    assert response.status_code == 302
