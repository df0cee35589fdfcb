"""Every URL answers the right status for anonymous, admin, support and manager users.

The table below must name every URL pattern: a new view without an entry fails
``test_every_url_pattern_is_in_the_table``, so no view ships without a permission decision.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from integrations.models import FieldSetting, MirroredRecipient
from tests.factories import ConnectionFactory, ImportFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

OK, DENIED, LOGIN = "ok", 403, "login"
# role -> what the role gets: OK, DENIED (a status) or LOGIN.
Expectations = dict[str, str | int]
EVERYONE: Expectations = {"admin": OK, "support": OK, "manager": OK}
ADMIN_ONLY: Expectations = {"admin": OK, "support": DENIED, "manager": DENIED}
ADMIN_MANAGER: Expectations = {"admin": OK, "support": DENIED, "manager": OK}
MANAGER_ONLY: Expectations = {"admin": DENIED, "support": DENIED, "manager": OK}
ADMIN_SUPPORT: Expectations = {"admin": OK, "support": OK, "manager": DENIED}
# The mirrored recipient the ``objects`` fixture makes (a fixed id: other tests format these
# paths with ``pk`` and ``job`` only).
REMOTE_ID = "5f1c0ffee0000000000000aa"

# url name -> (method, path template, expectations by role); anonymous users always go to the
# login page, except where the entry says otherwise.
TABLE: dict[str, tuple[str, str, Expectations]] = {
    "overview": ("get", "/", EVERYONE),
    "healthz": ("get", "/healthz/", {**EVERYONE, "anonymous": OK}),
    "login": ("get", "/accounts/login/", {**EVERYONE, "anonymous": OK}),
    "logout": ("post", "/accounts/logout/", {**EVERYONE, "anonymous": OK}),
    "connections:list": ("get", "/connections/", ADMIN_ONLY),
    "connections:new": ("get", "/connections/new/", ADMIN_ONLY),
    "connections:detail": ("get", "/connections/{pk}/", ADMIN_ONLY),
    "connections:test": ("post", "/connections/{pk}/test/", ADMIN_ONLY),
    "connections:refresh": (
        "post",
        "/connections/{pk}/refresh/",
        {"admin": OK, "support": OK, "manager": DENIED},
    ),
    "connections:toggle_active": ("post", "/connections/{pk}/active/", ADMIN_ONLY),
    "connections:delete": ("get", "/connections/{pk}/delete/", ADMIN_ONLY),
    "connections:fields": ("get", "/connections/{pk}/fields/", ADMIN_ONLY),
    "connections:field_toggle": ("post", "/connections/{pk}/fields/toggle/", ADMIN_ONLY),
    "connections:custom_field_add": ("post", "/connections/{pk}/fields/custom/", ADMIN_ONLY),
    "connections:custom_field_change": (
        "post",
        "/connections/{pk}/fields/custom/z_team/",
        ADMIN_ONLY,
    ),
    "jobs:list": ("get", "/jobs/", EVERYONE),
    "jobs:detail": ("get", "/jobs/{job}/", EVERYONE),
    "jobs:errors_csv": ("get", "/jobs/{job}/errors.csv", EVERYONE),
    "jobs:cancel": ("post", "/jobs/{job}/cancel/", ADMIN_ONLY),
    "jobs:pause": ("post", "/jobs/{job}/pause/", ADMIN_ONLY),
    "jobs:resume": ("post", "/jobs/{job}/resume/", ADMIN_ONLY),
    "jobs:retry": ("post", "/jobs/{job}/retry/", ADMIN_ONLY),
    "jobs:acknowledge": ("post", "/jobs/{job}/acknowledge/", MANAGER_ONLY),
    "audit:list": ("get", "/audit/", ADMIN_MANAGER),
    # The ``objects`` fixture gives its import the connection's pk.
    "imports:list": ("get", "/imports/", ADMIN_ONLY),
    "imports:new": ("get", "/imports/new/", ADMIN_ONLY),
    "imports:sample_csv": ("get", "/imports/sample.csv", ADMIN_ONLY),
    "imports:sample_windows_csv": ("get", "/imports/sample-windows-1252.csv", ADMIN_ONLY),
    "imports:sample_many_csv": ("get", "/imports/sample-10000.csv", ADMIN_ONLY),
    "imports:detail": ("get", "/imports/{pk}/", ADMIN_ONLY),
    "imports:reading": ("post", "/imports/{pk}/reading/", ADMIN_ONLY),
    "imports:layout": ("post", "/imports/{pk}/layout/", ADMIN_ONLY),
    "imports:mapping": ("post", "/imports/{pk}/mapping/", ADMIN_ONLY),
    "imports:constants": ("post", "/imports/{pk}/constants/", ADMIN_ONLY),
    "imports:date_order": ("post", "/imports/{pk}/date-order/", ADMIN_ONLY),
    "imports:refresh": ("post", "/imports/{pk}/refresh/", ADMIN_ONLY),
    "imports:confirm": ("post", "/imports/{pk}/confirm/", ADMIN_ONLY),
    "imports:discard": ("post", "/imports/{pk}/discard/", ADMIN_ONLY),
    "imports:invalid_csv": ("get", "/imports/{pk}/invalid.csv", ADMIN_ONLY),
    "imports:fix_cell": ("post", "/imports/{pk}/rows/2/fix/", ADMIN_ONLY),
    "campaigns:test_send": ("get", "/campaigns/test-send/", ADMIN_ONLY),
    "campaigns:people": ("get", "/campaigns/test-send/people/?q=zoe", ADMIN_ONLY),
    "campaigns:allowlist": ("get", "/campaigns/allowlist/{pk}/", ADMIN_ONLY),
    "campaigns:allowlist_remove": ("post", "/campaigns/allowlist/{pk}/1/remove/", ADMIN_ONLY),
    "recipients:search_all": ("get", "/recipients/", ADMIN_SUPPORT),
    "recipients:search": ("get", "/connections/{pk}/recipients/", ADMIN_SUPPORT),
    "recipients:new": ("get", "/connections/{pk}/recipients/new/", ADMIN_ONLY),
    "recipients:detail": ("get", f"/connections/{{pk}}/recipients/{REMOTE_ID}/", ADMIN_SUPPORT),
    "recipients:edit": ("get", f"/connections/{{pk}}/recipients/{REMOTE_ID}/edit/", ADMIN_SUPPORT),
    "recipients:delete": ("get", f"/connections/{{pk}}/recipients/{REMOTE_ID}/delete/", ADMIN_ONLY),
}


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
    method, template, expected_by_role = TABLE[name]
    path = template.format(**objects)
    expected = expected_by_role.get(role, LOGIN)
    response = getattr(role_clients[role], method)(path)
    if expected == LOGIN:
        assert response.status_code == 302, (role, path)
        assert response["Location"].startswith("/accounts/login/?next="), (role, path)
    elif expected == DENIED:
        assert response.status_code == 403, (role, path)
        assert "You need the " in response.content.decode(), (role, path)
    else:
        assert response.status_code in {200, 302, 400, 422}, (role, path, response.status_code)


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
