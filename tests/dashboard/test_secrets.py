"""No page rendered for any role, and no log line, contains a stored secret."""

from __future__ import annotations

import logging

import pytest

from dashboard.audit.models import AuditEvent
from integrations.models import Connection
from tests.dashboard.test_permissions import TABLE
from tests.factories import ConnectionFactory, SyncItemFactory, SyncJobFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "redflag": "rf_Sup3rSecretBearer_tok3n_QQQQ",
    "snappy": "Sn4ppyKeyAbcdefghij12345",
    "parcelvoy": "sk_parcelvoy_secret_live_ZZZZ",
}


def test_no_page_for_any_role_contains_a_stored_secret(role_clients, caplog, admin_client):
    caplog.set_level(logging.DEBUG)
    connections = [
        ConnectionFactory(provider=provider, plain_secret=secret)
        for provider, secret in SECRETS.items()
    ]
    # Exercise the write paths too, so the audit log and messages have something to show.
    admin_client.post(
        f"/connections/{connections[0].pk}/",
        {
            "name": "Renamed",
            "environment": "production",
            "base_url": "https://x.example.com",
            "secret": "rf_Replacement_secret_value_RRRR",
            "location_id": "L1",
        },
    )
    pages = {"/accounts/login/", "/healthz/"}
    for conn in connections:
        job = SyncJobFactory(connection=conn, status="failed", total=1, n_failed=1)
        SyncItemFactory(job=job, seq=0, status="failed", error_message="Refused")
        for method, template, _ in TABLE.values():
            if method == "get":
                pages.add(template.format(pk=conn.pk, job=job.pk))
    all_secrets = [*SECRETS.values(), "rf_Replacement_secret_value_RRRR"]
    for role, client in role_clients.items():
        for path in sorted(pages):
            response = client.get(path, follow=True)
            raw = b"".join(response.streaming_content) if response.streaming else response.content
            # The Windows-1252 demo sample is not UTF-8; a secret would be ASCII either way.
            body = raw.decode("utf-8-sig", errors="replace")
            for secret in all_secrets:
                assert secret not in body, (role, path)
    for record in caplog.records:
        for secret in all_secrets:
            assert secret not in record.getMessage()
    for event in AuditEvent.objects.all():
        dumped = f"{event.summary} {event.changes} {event.target_repr}"
        for secret in all_secrets:
            assert secret not in dumped
    stored = Connection.objects.get(pk=connections[0].pk).secret
    assert stored is not None and stored.reveal().startswith("rf_Repl")


def test_a_dumped_connection_carries_ciphertext_only():
    from django.core import serializers

    conn = ConnectionFactory(plain_secret=SECRETS["redflag"])
    dumped = serializers.serialize("json", [conn])
    assert SECRETS["redflag"] not in dumped
    assert "gAAAA" in dumped
