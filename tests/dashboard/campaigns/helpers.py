"""Make a Parcelvoy connection and post the test-send form, for the campaign tests."""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from integrations.models import Connection
from tests.factories import ConnectionFactory

# A TypedDict, so ``send(..., **HTMX)`` cannot be taken to pass ``confirm``.
HtmxHeaders = TypedDict("HtmxHeaders", {"HX-Request": str, "HX-Target": str})
HTMX: HtmxHeaders = {"HX-Request": "true", "HX-Target": "send-panel"}
URL = "/campaigns/test-send/"


def parcelvoy_connection(sandbox, **kwargs: Any) -> Connection:
    kwargs.setdefault("plain_secret", sandbox.credentials["parcelvoy"]["secret_key"])
    return ConnectionFactory(
        provider="parcelvoy",
        base_url=f"{sandbox.url}/parcelvoy",
        name="Parcelvoy staging",
        **kwargs,
    )


def form_data(connection: Connection, **overrides: Any) -> dict[str, Any]:
    """A valid test email to campaign 1 (an email campaign in the sandbox)."""
    data = {
        "connection": connection.pk,
        "campaign_id": "1",
        "campaign_label": "Welcome",
        "channel": "email",
        "external_id": "emp-1001",
        "email": "ada@example.com",
        "phone_country": "",
        "phone": "",
        "device_token": "",
        "timezone": "Europe/London",
        "locale": "en-GB",
        "event": '{"first_name": "Ada"}',
        "request_id": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def preview(client, data: dict[str, Any], **headers: str):
    return client.post(URL, {**data, "action": "preview"}, headers=headers or None)


def send(client, data: dict[str, Any], *, confirm: bool = True, **headers: str):
    """Preview, then Send with the preview's digest (confirming the person when asked)."""
    page = preview(client, data).content.decode()
    digest = page.split('name="previewed" value="', 1)[1].split('"', 1)[0]
    payload = {**data, "action": "send", "previewed": digest}
    if confirm and 'name="confirm_outside"' in page:
        address = page.split('name="confirm_outside" value="', 1)[1].split('"', 1)[0]
        payload["confirm_outside"] = address
    return client.post(URL, payload, headers=headers or None)
