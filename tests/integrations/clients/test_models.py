"""The common Recipient and its mapping to and from each provider's schema."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from integrations.catalogue import disabled_paths
from integrations.clients.models import (
    Recipient,
    from_provider,
    from_redflag,
    from_snappy,
    parse_timestamp,
    to_parcelvoy_user,
    to_redflag,
    to_snappy,
)
from tests.integrations.clients import docs_examples as docs
from tests.integrations.clients.helpers import REDFLAG_ENABLED, SNAPPY_ENABLED

REDFLAG_JOHN = json.loads(docs.REDFLAG_GET_SUCCESS)["data"]
SNAPPY_JOHN = json.loads(docs.SNAPPY_RECIPIENT)


def test_recipient_is_frozen():
    recipient = Recipient(provider="snappy", remote_id="x1")

    with pytest.raises(dataclasses.FrozenInstanceError):
        recipient.email = "a@b.c"  # type: ignore[misc]  # the refused assignment is the test


def test_redflag_record_maps_to_a_recipient():
    john = from_redflag(REDFLAG_JOHN)

    assert john.modified_at == datetime(2024, 4, 29, 1, 52, 26, 962000, tzinfo=UTC)
    assert john.display_name == "John Smith"
    assert john.phone == ""
    assert john.fields["active"] is True
    assert "aDate" not in john.fields and "_id" not in john.fields


def test_redflag_phone_display_form():
    with_full = from_redflag({**REDFLAG_JOHN, "mobileFull": "+61 400 000 000"})
    joined = from_redflag({**REDFLAG_JOHN, "mobile": "400000000", "mobileCountry": "61"})
    landline = from_redflag({**REDFLAG_JOHN, "phone": "730000000", "phoneCountry": "61"})

    assert with_full.phone == "+61 400 000 000"
    assert joined.phone == "+61 400000000"
    assert landline.phone == "+61 730000000"


def test_redflag_fields_round_trip_into_an_allowed_payload():
    payload = to_redflag(from_redflag(REDFLAG_JOHN))

    assert payload["tags"] == [{"key": "z_customField", "value": "Foo"}]
    assert payload["email"] == "john@communic8.com"
    assert disabled_paths("redflag", payload, REDFLAG_ENABLED) == []


def test_snappy_record_maps_to_a_recipient_and_back():
    john = from_snappy(SNAPPY_JOHN)
    payload = to_snappy(john)

    assert john.modified_at == datetime(2022, 12, 6, 9, 50, 38, 536000, tzinfo=UTC)
    assert payload["owner"] == {
        "firstName": "Jane",
        "lastName": "Doe",
        "email": "jane.doe@example.com",
    }
    assert "source" not in payload and "id" not in payload and "updatedBy" not in payload
    assert disabled_paths("snappy", payload, SNAPPY_ENABLED) == []


def test_snappy_source_as_a_string_and_missing_fields_are_tolerated():
    recipient = from_snappy({"id": "abc1", "source": "apiIntegration", "employee": "odd"})

    assert recipient.remote_id == "abc1"
    assert recipient.email == "" and recipient.modified_at is None
    assert "employee" not in recipient.fields


def test_parcelvoy_user_from_a_recipient():
    john = from_snappy(SNAPPY_JOHN)

    assert to_parcelvoy_user(john, locale="en") == {
        "external_id": "1234567890",
        "email": "john.doe@example.com",
        "phone": "+1234567890",
        "locale": "en",
    }


def test_from_provider_dispatches():
    assert from_provider("redflag", REDFLAG_JOHN).provider == "redflag"
    assert from_provider("snappy", SNAPPY_JOHN).provider == "snappy"
    with pytest.raises(ValueError):
        from_provider("parcelvoy", {})


@pytest.mark.parametrize("value", [None, "", "yesterday", 12, "2024-13-01T00:00:00Z"])
def test_bad_timestamps_are_none(value):
    assert parse_timestamp(value) is None


def test_matches_email_ignores_case():
    recipient = Recipient(provider="redflag", remote_id="1", email="John@Communic8.com")

    assert recipient.matches_email("  john@COMMUNIC8.com ")
    assert not recipient.matches_email("")


def test_a_snappy_update_payload_leaves_out_create_only_fields():
    payload = to_snappy(from_snappy(SNAPPY_JOHN), for_update=True)

    assert "externalId" not in payload and "owner" not in payload
    assert payload["employee"]["department"] == "Engineering"
