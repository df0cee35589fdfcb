"""Signing in and out, and the lockout after repeated wrong passwords."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_in_lands_on_the_overview_and_sign_out_returns_to_login(client, admin_user):
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert "Overview" in response.content.decode()
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_a_wrong_password_says_so_without_revealing_which_part(client, admin_user):
    response = client.post("/accounts/login/", {"username": "ada", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_next_parameter_returns_the_user_where_they_were(client, admin_user):
    response = client.post(
        "/accounts/login/?next=/audit/",
        {"username": "ada", "password": PASSWORD, "next": "/audit/"},
    )
    assert response["Location"] == "/audit/"


def test_an_external_next_is_ignored(client, admin_user):
    response = client.post(
        "/accounts/login/",
        {"username": "ada", "password": PASSWORD, "next": "https://evil.example.com/"},
    )
    assert response["Location"] == "/"


def test_five_wrong_passwords_lock_the_user_name_out(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(4):
        assert (
            client.post("/accounts/login/", {"username": "ada", "password": "wrong"}).status_code
            == 200
        )
    response = client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    # Even the right password is refused while locked out.
    response = client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/").status_code == 302


def test_support_staff_land_on_the_recipient_search(client, support_user):
    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD})
    assert response["Location"] == "/recipients/"


def test_managers_land_on_the_overview(client, manager_user):
    response = client.post("/accounts/login/", {"username": "mia", "password": PASSWORD})
    assert response["Location"] == "/"


def test_a_next_page_still_wins_over_the_landing_page(client, support_user):
    response = client.post(
        "/accounts/login/", {"username": "sam", "password": PASSWORD, "next": "/jobs/"}
    )
    assert response["Location"] == "/jobs/"


def test_a_signed_in_user_opening_the_login_page_goes_to_their_landing_page(support_client):
    response = support_client.get("/accounts/login/")
    assert response.status_code == 302 and response["Location"] == "/recipients/"
