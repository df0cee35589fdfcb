"""Every POST needs a CSRF token, htmx ones included, and a failure is explained."""

from __future__ import annotations

import pytest
from django.test import Client

from integrations.models import Connection, FieldSetting
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_client(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def test_posts_without_a_token_are_refused_and_change_nothing(strict_client):
    conn = ConnectionFactory()
    posts = [
        (
            "/connections/new/?provider=redflag",
            {
                "name": "X",
                "environment": "staging",
                "base_url": "https://x.example.com",
                "secret": "abcdefghijkl",
            },
        ),
        (
            f"/connections/{conn.pk}/",
            {"name": "Renamed", "environment": "staging", "base_url": conn.base_url},
        ),
        (f"/connections/{conn.pk}/active/", {"active": "0"}),
        (f"/connections/{conn.pk}/delete/", {"confirm_name": conn.name}),
        (f"/connections/{conn.pk}/fields/toggle/", {"path": "department", "enabled": "on"}),
        (f"/connections/{conn.pk}/fields/custom/", {"key": "z_team"}),
    ]
    for path, data in posts:
        response = strict_client.post(path, data)
        assert response.status_code == 403, path
        assert "Session expired" in response.content.decode(), path
    conn.refresh_from_db()
    assert conn.name != "Renamed" and conn.is_active
    assert Connection.objects.count() == 1
    assert not FieldSetting.objects.exists()


def test_an_htmx_post_without_a_token_gets_a_plain_reload_message(strict_client):
    conn = ConnectionFactory()
    response = strict_client.post(
        f"/connections/{conn.pk}/fields/toggle/",
        {"path": "department", "enabled": "on"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert "Reload the page" in response.content.decode()
    assert not FieldSetting.objects.exists()


def test_an_htmx_post_with_the_token_header_works(strict_client):
    conn = ConnectionFactory()
    strict_client.get(f"/connections/{conn.pk}/fields/")
    token = strict_client.cookies["csrftoken"].value
    response = strict_client.post(
        f"/connections/{conn.pk}/fields/toggle/",
        {"path": "department", "enabled": "on"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert FieldSetting.objects.get(path="department").enabled


def test_the_page_carries_the_token_for_htmx_on_the_body(strict_client):
    page = strict_client.get("/").content.decode()
    assert '<body hx-headers=\'{"X-CSRFToken": "' in page
