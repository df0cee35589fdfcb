"""Sign-in refuses what no account can be, and holds off an address spraying user names."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_user_name_longer_than_any_account_is_refused_with_a_message(client, admin_user):
    for length in (151, 256, 300, 10_000):
        response = client.post("/accounts/login/", {"username": "a" * length, "password": "x"})
        assert response.status_code == 200
        assert "A user name has at most 150 characters." in response.content.decode()
    assert (
        client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code
        == 302
    )


def test_one_address_trying_many_user_names_is_paused(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    for n in range(6):  # one wrong password each: no single name reaches its own limit
        response = client.post("/accounts/login/", {"username": f"user{n}", "password": "Spring1"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many wrong passwords came from your address" in page
    assert "15 minutes" in page
    assert client.get("/").status_code == 302  # not signed in


def test_another_address_is_not_paused_by_the_first(client, admin_user, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for n in range(3):
        client.post(
            "/accounts/login/",
            {"username": f"user{n}", "password": "x"},
            REMOTE_ADDR="203.0.113.9",
        )
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302


def test_the_lockout_page_says_the_wait_in_minutes(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        response = client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Try again in 15 minutes" in page
    assert "PT15M" not in page


def test_an_empty_user_name_or_password_is_named(client, admin_user):
    page = client.post("/accounts/login/", {"username": "", "password": ""}).content.decode()
    assert "Enter your user name." in page
    assert "Enter your password." in page
