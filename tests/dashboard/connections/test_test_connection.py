""" "Test connection" checks the credentials against the provider (the sandbox, over HTTP)."""

from __future__ import annotations

import socket

import pytest
from cryptography.fernet import Fernet

from integrations.models import Connection
from tests.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]
HTMX = {"HX-Request": "true"}


def make(sandbox, provider, secret=None, **options):
    creds = sandbox.credentials[provider]
    key = {"redflag": "token", "snappy": "api_key", "parcelvoy": "secret_key"}[provider]
    if provider == "snappy":
        options.setdefault("company_id", creds["company_id"])
    return ConnectionFactory(
        provider=provider,
        base_url=f"{sandbox.url}/{provider}",
        plain_secret=secret or creds[key],
        options=options,
    )


@pytest.mark.parametrize("provider", ["redflag", "snappy", "parcelvoy"])
def test_good_credentials_show_connected_with_latency(admin_client, sandbox, provider):
    conn = make(sandbox, provider)
    response = admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="test-result"' in body and "Connected" in body and " ms" in body
    conn.refresh_from_db()
    assert conn.last_test_outcome == "ok"
    assert conn.last_test_latency_ms is not None
    assert conn.status == "ok"


@pytest.mark.parametrize(
    ("provider", "secret"),
    [
        ("redflag", "wrong-token-value-1234"),
        ("snappy", "WrongKeyWrongKeyWrong123"),
        ("parcelvoy", "sk_00000000-0000-0000-0000-000000000000"),
    ],
)
def test_bad_credentials_are_reported_as_such(admin_client, sandbox, provider, secret):
    conn = make(sandbox, provider, secret=secret)
    body = admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX).content.decode()
    assert "Bad credentials" in body
    assert secret not in body
    conn.refresh_from_db()
    assert conn.last_test_outcome == "bad_credentials"


def test_redflag_auth_failure_as_http_200_is_still_bad_credentials(admin_client, sandbox):
    sandbox.configure(variants={"redflag_auth_failure": "200"})
    conn = make(sandbox, "redflag", secret="wrong-token-value-1234")
    admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX)
    conn.refresh_from_db()
    assert conn.last_test_outcome == "bad_credentials"


def test_a_key_below_editor_role_is_reported_as_not_allowed(admin_client, sandbox):
    conn = make(sandbox, "parcelvoy", secret=sandbox.credentials["parcelvoy"]["viewer_key"])
    admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX)
    conn.refresh_from_db()
    assert conn.last_test_outcome == "forbidden"


def test_a_server_that_does_not_answer_is_unreachable(admin_client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    conn = ConnectionFactory(base_url=f"http://127.0.0.1:{port}/redflag")
    body = admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX).content.decode()
    assert "Unreachable" in body
    assert Connection.objects.get(pk=conn.pk).last_test_outcome == "unreachable"


def test_unreadable_credentials_say_re_enter_them_without_a_request(
    admin_client, sandbox, settings
):
    conn = make(sandbox, "redflag")
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    body = admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX).content.decode()
    assert "Credentials unreadable — re-enter them." in body
    assert not any(k.startswith("redflag") for k in sandbox.counters()["requests"])


def test_a_refused_base_url_is_not_called(admin_client, settings, sandbox):
    conn = make(sandbox, "redflag")
    settings.ALLOW_LOOPBACK_PROVIDER_URLS = False
    body = admin_client.post(f"/connections/{conn.pk}/test/", headers=HTMX).content.decode()
    assert "Unreachable" in body and "sandbox" in body
    assert not sandbox.counters()["requests"]


def test_without_htmx_the_outcome_is_a_message(admin_client, sandbox):
    conn = make(sandbox, "snappy")
    response = admin_client.post(f"/connections/{conn.pk}/test/", follow=True)
    assert "Connected in" in response.content.decode()
