"""Building a client from a connection's decrypted values, and the no-Django rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from integrations.clients import (
    CampaignClient,
    CredentialsMissing,
    Invalid,
    RedFlagClient,
    SnappyClient,
    client_for,
)
from tests.integrations.clients.helpers import (
    BASE,
    PARCELVOY_KEY,
    REDFLAG_TOKEN,
    SNAPPY_KEY,
    assert_no_secret,
)

ROOT = Path(__file__).resolve().parents[3]


def test_client_for_redflag():
    client = client_for(
        "redflag",
        base_url=BASE,
        credentials={"token": REDFLAG_TOKEN},
        settings={"location_id": "loc-9"},
        enabled_fields={"email"},
    )

    assert isinstance(client, RedFlagClient)
    assert client.location_id == "loc-9"
    assert client.enabled_fields == frozenset({"email"})
    assert_no_secret(repr(client))


def test_client_for_snappy():
    client = client_for(
        "snappy",
        base_url=BASE,
        credentials={"api_key": SNAPPY_KEY},
        settings={"company_id": "company1234", "request_source": "api_zapier"},
        enabled_fields=None,
        rate_limit_key="connection:7",
    )

    assert isinstance(client, SnappyClient)
    assert (client.company_id, client.request_source) == ("company1234", "api_zapier")
    assert client.rate_limiter is not None


def test_client_for_parcelvoy_with_options():
    client = client_for(
        "parcelvoy",
        base_url=BASE,
        credentials={"secret_key": PARCELVOY_KEY},
        enabled_fields=(),
        read_timeout=3,
    )

    assert isinstance(client, CampaignClient)
    assert client.timeout.read == 3


@pytest.mark.parametrize(
    ("provider", "credentials"),
    [
        ("redflag", {}),
        ("redflag", {"token": ""}),
        ("snappy", {"api_key": "   "}),
        ("snappy", {"token": SNAPPY_KEY}),
        ("parcelvoy", {"secret_key": None}),
        ("parcelvoy", {"secret_key": "sk_with\nnewline"}),
    ],
)
def test_missing_credentials(provider, credentials):
    with pytest.raises(CredentialsMissing) as caught:
        client_for(provider, base_url=BASE, credentials=credentials, enabled_fields=None)

    assert caught.value.provider == provider


@pytest.mark.parametrize(
    "extras", [{"company_id": "short"}, {"company_id": "has space 123"}, {"request_source": "x"}]
)
def test_bad_snappy_settings(extras):
    with pytest.raises(Invalid):
        client_for(
            "snappy", base_url=BASE, credentials={"api_key": SNAPPY_KEY}, settings=extras,
            enabled_fields=None,
        )  # fmt: skip


def test_unknown_provider():
    with pytest.raises(ValueError):
        client_for("mailchimp", base_url=BASE, credentials={}, enabled_fields=None)


def test_clients_never_import_django():
    code = (
        "import sys, integrations.clients, integrations.clients.models;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'dashboard')];"
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
