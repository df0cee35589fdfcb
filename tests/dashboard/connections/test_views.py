"""Creating and editing connections: validation, write-only secrets, nothing half-saved."""

from __future__ import annotations

import pytest

from dashboard.audit.models import AuditEvent
from integrations.models import Connection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

REDFLAG = {
    "provider": "redflag",
    "name": "Acme RedFlag",
    "environment": "staging",
    "base_url": "https://redflag.example.com/",
    "secret": "rf_token_abcdefgh_WXYZ",
    "location_id": "loc-1",
}
SNAPPY_KEY = "AbCdEfGhIjKlMnOpQrStUv12"


def post_new(client, **overrides):
    data = {**REDFLAG, **overrides}
    return client.post(f"/connections/new/?provider={data['provider']}", data)


def test_admin_creates_a_connection_with_an_encrypted_secret_and_an_audit_event(
    admin_client, admin_user
):
    response = post_new(admin_client)
    conn = Connection.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/connections/{conn.pk}/"
    assert conn.base_url == "https://redflag.example.com"
    assert conn.options == {"location_id": "loc-1"}
    assert conn.secret is not None and conn.secret.reveal() == REDFLAG["secret"]
    assert conn.secret_hint == "WXYZ"
    assert conn.secret_set_by == admin_user
    event = AuditEvent.objects.get(action="connection.created")
    assert event.actor == admin_user
    assert event.changes["secret"] == {"before": None, "after": "secret changed"}
    assert REDFLAG["secret"] not in str(event.changes)


def test_the_detail_page_shows_the_masked_secret_and_who_set_it_never_the_value(admin_client):
    post_new(admin_client)
    conn = Connection.objects.get()
    page = admin_client.get(f"/connections/{conn.pk}/").content.decode()
    assert "••••WXYZ" in page
    assert REDFLAG["secret"] not in page
    assert "by ada" in page
    assert 'type="password"' in page
    assert 'value="rf_token' not in page


def test_leaving_the_secret_blank_keeps_the_stored_one(admin_client):
    conn = ConnectionFactory(plain_secret="keep_this_secret_1234")
    response = admin_client.post(
        f"/connections/{conn.pk}/",
        {"name": "Renamed", "environment": "production", "base_url": conn.base_url, "secret": ""},
    )
    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.name == "Renamed"
    assert conn.environment == "production"
    assert conn.secret is not None and conn.secret.reveal() == "keep_this_secret_1234"
    event = AuditEvent.objects.get(action="connection.updated")
    assert "secret" not in event.changes
    assert event.changes["environment"] == {"before": "staging", "after": "production"}


def test_changing_the_secret_is_audited_as_secret_changed_without_the_value(admin_client):
    conn = ConnectionFactory(plain_secret="old_secret_value_1234")
    admin_client.post(
        f"/connections/{conn.pk}/",
        {
            "name": conn.name,
            "environment": "staging",
            "base_url": conn.base_url,
            "secret": "new_secret_value_5678",
        },
    )
    event = AuditEvent.objects.get(action="connection.updated")
    assert event.changes["secret"] == {"before": "secret changed", "after": "secret changed"}
    dumped = str(event.changes) + event.summary
    assert "old_secret_value_1234" not in dumped and "new_secret_value_5678" not in dumped


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "Enter the bearer token."),
        ("     ", "cannot be only spaces"),
        ("\t\n", "cannot be only spaces"),
        ("two words", "cannot contain spaces"),
    ],
)
def test_empty_or_whitespace_secrets_are_refused_and_nothing_is_saved(
    admin_client, secret, message
):
    response = post_new(admin_client, secret=secret)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Connection.objects.exists()
    assert not AuditEvent.objects.exists()


def test_whitespace_secret_on_edit_is_refused_and_keeps_the_stored_one(admin_client):
    conn = ConnectionFactory(plain_secret="keep_this_secret_1234")
    response = admin_client.post(
        f"/connections/{conn.pk}/",
        {"name": "Changed", "environment": "staging", "base_url": conn.base_url, "secret": "   "},
    )
    assert response.status_code == 200
    assert "cannot be only spaces" in response.content.decode()
    conn.refresh_from_db()
    assert conn.name != "Changed"
    assert conn.secret is not None and conn.secret.reveal() == "keep_this_secret_1234"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://redflag.example.com", "Only https:// URLs are allowed"),
        ("http://redflag.example.com", "plain http:// is allowed only for the local sandbox"),
        ("http://93.184.216.34/api", "plain http:// is allowed only for the local sandbox"),
        ("https://user:pass@redflag.example.com", "Remove the user name or password"),
        ("https://token@redflag.example.com", "Remove the user name or password"),
        ("https://redflag.example.com/?key=1", "Remove the query string"),
        ("https://redflag.example.com/#top", "Remove the fragment"),
        ("https://10.0.0.5/api", "private or internal network"),
        ("https://169.254.169.254/latest", "private or internal network"),
        ("https://[::ffff:10.0.0.1]/", "private or internal network"),
        ("redflag.example.com", "Start the URL with https://"),
        ("https://", "no host name"),
        ("", "This field is required."),
    ],
)
def test_invalid_base_urls_are_refused_with_a_clear_message(admin_client, url, message):
    response = post_new(admin_client, base_url=url)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Connection.objects.exists()


def test_http_to_loopback_is_allowed_only_with_the_sandbox_setting(admin_client, settings):
    settings.ALLOW_LOOPBACK_PROVIDER_URLS = False
    response = post_new(admin_client, base_url="http://127.0.0.1:8765/redflag")
    assert "only when the sandbox is enabled" in response.content.decode()
    response = post_new(admin_client, base_url="https://localhost/redflag")
    assert "points at this machine" in response.content.decode()
    settings.ALLOW_LOOPBACK_PROVIDER_URLS = True
    response = post_new(admin_client, base_url="http://127.0.0.1:8765/redflag")
    assert response.status_code == 302
    assert Connection.objects.get().base_url == "http://127.0.0.1:8765/redflag"


@pytest.mark.parametrize("company_id", ["short7x", "has space1", "abc-12345", "ÅÄÖ12345"])
def test_a_snappy_company_id_breaking_the_pattern_is_refused(admin_client, company_id):
    response = post_new(
        admin_client,
        provider="snappy",
        secret=SNAPPY_KEY,
        company_id=company_id,
        request_source="api_native",
    )
    assert "A company ID is at least 8 letters and digits" in response.content.decode()
    assert not Connection.objects.exists()


def test_a_snappy_connection_keeps_company_id_and_request_source(admin_client):
    response = post_new(
        admin_client,
        provider="snappy",
        secret=SNAPPY_KEY,
        company_id="Company123",
        request_source="api_zapier",
    )
    assert response.status_code == 302
    conn = Connection.objects.get()
    assert conn.options == {"company_id": "Company123", "request_source": "api_zapier"}


def test_a_snappy_key_must_be_24_characters(admin_client):
    response = post_new(
        admin_client, provider="snappy", secret="tooshort123", request_source="api_native"
    )
    assert "24 letters and digits" in response.content.decode()


@pytest.mark.parametrize(
    ("secret", "message"),
    [("pk_public_key_1234", "This is a public key"), ("abc_1234567", "starts with sk_")],
)
def test_a_parcelvoy_key_must_be_a_secret_key(admin_client, secret, message):
    response = post_new(admin_client, provider="parcelvoy", secret=secret)
    assert message in response.content.decode()


@pytest.mark.parametrize("name", ["Acme RedFlag", "acme redflag", "  ACME   REDFLAG "])
def test_duplicate_connection_names_are_refused_ignoring_case_and_spaces(admin_client, name):
    ConnectionFactory(name="Acme RedFlag")
    response = post_new(admin_client, name=name)
    assert "A connection with this name already exists." in response.content.decode()
    assert Connection.objects.count() == 1


def test_an_unknown_provider_shows_the_provider_choice(admin_client):
    response = admin_client.get("/connections/new/?provider=nope")
    assert response.status_code == 200
    assert "Which provider is the account with?" in response.content.decode()


def test_disable_and_enable_are_audited(admin_client):
    conn = ConnectionFactory()
    admin_client.post(f"/connections/{conn.pk}/active/", {"active": "0"})
    conn.refresh_from_db()
    assert conn.is_active is False
    assert conn.status == "disabled"
    admin_client.post(f"/connections/{conn.pk}/active/", {"active": "1"})
    conn.refresh_from_db()
    assert conn.is_active is True
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["connection.disabled", "connection.enabled"]


def test_delete_needs_the_name_typed_and_is_audited(admin_client):
    conn = ConnectionFactory(name="Old account")
    response = admin_client.post(f"/connections/{conn.pk}/delete/", {"confirm_name": "old"})
    assert response.status_code == 200
    assert "name exactly to confirm" in response.content.decode()
    assert Connection.objects.exists()
    response = admin_client.post(f"/connections/{conn.pk}/delete/", {"confirm_name": "Old account"})
    assert response.status_code == 302
    assert not Connection.objects.exists()
    assert AuditEvent.objects.filter(
        action="connection.deleted", target_repr="Old account"
    ).exists()


def test_a_missing_connection_is_a_404(admin_client):
    assert admin_client.get("/connections/999/").status_code == 404


def test_the_connection_list_makes_a_bounded_number_of_queries(
    admin_client, django_assert_max_num_queries
):
    for _ in range(15):
        ConnectionFactory()
    with django_assert_max_num_queries(8):
        response = admin_client.get("/connections/")
    assert response.status_code == 200


def test_the_mirror_refresh_interval_is_saved_and_audited(admin_client):
    conn = ConnectionFactory(provider="redflag")
    response = admin_client.post(
        f"/connections/{conn.pk}/",
        {
            "name": conn.name,
            "environment": "staging",
            "base_url": conn.base_url,
            "pull_interval_minutes": "60",
        },
    )
    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.pull_interval_minutes == 60
    event = AuditEvent.objects.get(action="connection.updated")
    assert event.changes["pull_interval_minutes"] == {"before": None, "after": 60}


def test_an_unknown_refresh_interval_is_refused(admin_client):
    conn = ConnectionFactory(provider="redflag")
    response = admin_client.post(
        f"/connections/{conn.pk}/",
        {
            "name": conn.name,
            "environment": "staging",
            "base_url": conn.base_url,
            "pull_interval_minutes": "7",
        },
    )
    assert "Select a valid choice" in response.content.decode()


def test_refresh_now_queues_one_pull_and_shows_its_job(support_client):
    from integrations.models import JobKind, SyncJob

    conn = ConnectionFactory(provider="snappy")
    response = support_client.post(f"/connections/{conn.pk}/refresh/")
    job = SyncJob.objects.get()
    assert job.kind == JobKind.PULL and job.started_by_name == "sam"
    assert response["Location"] == f"/jobs/{job.pk}/"
    support_client.post(f"/connections/{conn.pk}/refresh/")
    assert SyncJob.objects.count() == 1  # joins the refresh already queued


def test_campaign_connections_have_no_mirror_to_refresh(admin_client):
    conn = ConnectionFactory(provider="parcelvoy")
    assert admin_client.post(f"/connections/{conn.pk}/refresh/").status_code == 404
    assert "Recipient mirror" not in admin_client.get(f"/connections/{conn.pk}/").content.decode()
