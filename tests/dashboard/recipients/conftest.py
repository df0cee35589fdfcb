"""Fixtures for the recipient pages: sandbox connections and recipients made for each test.

The sandbox keeps its data for the whole session, so every recipient made here has a unique
email; tests never assume totals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from integrations.clients import Recipient
from integrations.models import Connection, FieldSetting, MirroredRecipient
from integrations.sync.mirror import mirror_upsert
from tests.dashboard.recipients.helpers import (
    sandbox_connection,
    sandbox_writer,
    unique_email,
)

# Quick to give up: a test of a timeout must not wait for the real ones.
FAST_CLIENT = {
    "connect_timeout": 1,
    "read_timeout": 0.5,
    "max_attempts": 1,
    "total_timeout": 3,
    "backoff_base": 0.01,
    "backoff_cap": 0.01,
}


@pytest.fixture(autouse=True)
def _fast_recipient_clients(settings):
    settings.RECIPIENT_CLIENT_OPTIONS = FAST_CLIENT


@pytest.fixture
def redflag(sandbox) -> Connection:
    """RedFlag with the default fields plus mobile, and one enabled and one disabled tag."""
    conn = sandbox_connection(
        sandbox, "redflag", enable=("mobile", "mobileCountry", "country", "sfHireDate", "active")
    )
    FieldSetting.objects.create(connection=conn, path="tags.z_team", enabled=True, custom=True)
    FieldSetting.objects.create(
        connection=conn, path="tags.z_costCentre", enabled=False, custom=True
    )
    return conn


@pytest.fixture
def snappy(sandbox) -> Connection:
    return sandbox_connection(
        sandbox,
        "snappy",
        enable=(
            "country",
            "accounts",
            "externalId",
            "mobilePhone",
            "birthday",
            "employee.department",
            "recipientCustomFields.shirtSize",
        ),
    )


@pytest.fixture
def remote(sandbox) -> Callable[..., tuple[Recipient, MirroredRecipient]]:
    """Create a recipient at the sandbox and mirror it; return the record and the mirror row."""

    def make(connection: Connection, **fields: Any) -> tuple[Recipient, MirroredRecipient]:
        if connection.provider == "redflag":
            payload = {"email": unique_email(), "firstName": "Zoë", "lastName": "Müller", **fields}
        else:
            account = sandbox.state()["snappy"]["accounts"][0]["id"]
            payload = {
                "email": unique_email(),
                "firstName": "Zoë",
                "lastName": "Müller",
                "country": "GB",
                "accounts": [account],
                **fields,
            }
        client = sandbox_writer(sandbox, connection)
        try:
            recipient = client.create_recipient(payload)
        finally:
            client.close()
        mirror_upsert(connection, [recipient])
        row = MirroredRecipient.objects.get(connection=connection, remote_id=recipient.remote_id)
        return recipient, row

    return make


@pytest.fixture
def fetch(sandbox) -> Callable[[Connection, str], Recipient]:
    """Read a recipient back from the sandbox, as the provider holds it now."""

    def get(connection: Connection, remote_id: str) -> Recipient:
        client = sandbox_writer(sandbox, connection)
        try:
            return client.get_recipient(remote_id)
        finally:
            client.close()

    return get


@pytest.fixture
def touch(sandbox) -> Callable[..., Recipient]:
    """Change a recipient at the sandbox behind the dashboard's back (someone else's edit)."""

    def update(connection: Connection, remote_id: str, payload: dict[str, Any]) -> Recipient:
        client = sandbox_writer(sandbox, connection)
        try:
            return client.update_recipient(remote_id, payload)
        finally:
            client.close()

    return update
