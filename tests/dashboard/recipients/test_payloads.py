"""The exact bodies an edit sends, and provider replies the sandbox does not produce on demand.

HTTP is faked with pytest-httpx, which fails a test on any request it was not told to expect:
so "nothing else was sent" is part of every assertion here.
"""

from __future__ import annotations

import httpx
import pytest

from dashboard.audit.models import AuditEvent
from integrations.clients.models import from_redflag, from_snappy
from integrations.models import FieldSetting, MirroredRecipient
from integrations.sync.mirror import mirror_upsert
from tests.dashboard.recipients.helpers import edited, form_data
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

RF = "https://redflag.test"
SN = "https://snappy.test"
RF_ID = "60f4aeb09279e27183c0a9da"
RF_RECORD = {
    "_id": RF_ID,
    "mDate": "2026-11-01T10:00:00.000Z",
    "email": "zoe@example.com",
    "firstName": "Zoë",
    "lastName": "Müller",
    "department": "Sales",
    "tags": [
        {"key": "z_team", "value": "Blue", "_id": "aaaaaaaaaaaaaaaaaaaaaaaa"},
        {"key": "z_costCentre", "value": "CC-7", "_id": "bbbbbbbbbbbbbbbbbbbbbbbb"},
    ],
}
SN_ID = "xyz12345"
SN_RECORD = {
    "id": SN_ID,
    "updatedAt": "2026-11-01T10:00:00.000Z",
    "firstName": "Zoë",
    "email": "zoe@example.com",
    "country": "GB",
    "accounts": ["acc1"],
    "recipientCustomFields": [
        {"fieldName": "shirtSize", "fieldValue": "M"},
        {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
    ],
}
ACCOUNTS = {"results": [{"id": "acc1", "name": "Gifts"}, {"id": "acc2", "name": "Onboarding"}]}


def ok(data: dict) -> dict:
    return {"success": True, "data": data}


@pytest.fixture
def rf_conn():
    conn = ConnectionFactory(provider="redflag", base_url=RF)
    FieldSetting.objects.create(connection=conn, path="tags.z_team", enabled=True, custom=True)
    FieldSetting.objects.create(
        connection=conn, path="tags.z_costCentre", enabled=False, custom=True
    )
    mirror_upsert(conn, [from_redflag(RF_RECORD)])
    return conn


@pytest.fixture
def sn_conn():
    conn = ConnectionFactory(provider="snappy", base_url=SN, plain_secret="A" * 24)
    FieldSetting.objects.create(connection=conn, path="accounts", enabled=True)
    FieldSetting.objects.create(connection=conn, path="country", enabled=True)
    FieldSetting.objects.create(
        connection=conn, path="recipientCustomFields.shirtSize", enabled=True, custom=True
    )
    mirror_upsert(conn, [from_snappy(SN_RECORD)])
    return conn


def url(remote_id: str, path: str = "") -> str:
    row = MirroredRecipient.objects.get(remote_id=remote_id)
    return f"/connections/{row.connection_id}/recipients/{remote_id}/{path}"


def rf_url(path: str = "") -> str:
    return url(RF_ID, path)


def sn_url(path: str = "") -> str:
    return url(SN_ID, path)


def rf_get(httpx_mock, record=RF_RECORD, *, saving: bool = False, **kwargs):
    """The edit page's read; ``saving``: a POST's, which the save reads again under its lock."""
    for _ in range(2 if saving else 1):
        httpx_mock.add_response(
            method="GET", url=f"{RF}/int/v1/recipient/{RF_ID}", json=ok(record), **kwargs
        )


def sn_get(httpx_mock, record=SN_RECORD, *, saving: bool = False):
    httpx_mock.add_response(method="GET", url=f"{SN}/v2/recipients/{SN_ID}", json=record)
    httpx_mock.add_response(method="GET", url=f"{SN}/v2/accounts?skip=0&limit=1000", json=ACCOUNTS)
    if saving:
        httpx_mock.add_response(method="GET", url=f"{SN}/v2/recipients/{SN_ID}", json=record)


def test_only_the_changed_field_is_sent(support_client, rf_conn, httpx_mock):
    rf_get(httpx_mock)
    data = form_data(support_client.get(rf_url("edit/")).content.decode())
    rf_get(httpx_mock, saving=True)
    updated = {**RF_RECORD, "firstName": "Zoey", "mDate": "2026-11-02T10:00:00.000Z"}
    httpx_mock.add_response(
        method="PUT",
        url=f"{RF}/int/v1/recipient/{RF_ID}",
        match_json={"firstName": "Zoey"},
        json=ok(updated),
    )

    response = support_client.post(rf_url("edit/"), edited(data, firstName="Zoey"))

    assert response.status_code == 302
    assert MirroredRecipient.objects.get(remote_id=RF_ID).first_name == "Zoey"


def test_one_tag_changed_sends_every_tag_with_the_disabled_one_unchanged(
    support_client, rf_conn, httpx_mock
):
    rf_get(httpx_mock)
    data = form_data(support_client.get(rf_url("edit/")).content.decode())
    rf_get(httpx_mock, saving=True)
    sent = {
        "tags": [
            {"key": "z_team", "value": "Green"},
            {"key": "z_costCentre", "value": "CC-7"},
        ]
    }
    reply = {**RF_RECORD, **sent, "mDate": "2026-11-02T10:00:00.000Z"}
    httpx_mock.add_response(method="PUT", match_json=sent, json=ok(reply))

    response = support_client.post(rf_url("edit/"), edited(data, tags__z_team="Green"))

    assert response.status_code == 302


def test_clearing_an_enabled_tag_removes_it_and_keeps_the_others(
    support_client, rf_conn, httpx_mock
):
    rf_get(httpx_mock)
    data = form_data(support_client.get(rf_url("edit/")).content.decode())
    rf_get(httpx_mock, saving=True)
    sent = {"tags": [{"key": "z_costCentre", "value": "CC-7"}]}
    httpx_mock.add_response(method="PUT", match_json=sent, json=ok({**RF_RECORD, **sent}))

    assert support_client.post(rf_url("edit/"), edited(data, tags__z_team="")).status_code == 302


def test_snappy_accounts_are_sent_as_the_full_list(support_client, sn_conn, httpx_mock):
    sn_get(httpx_mock)
    data = form_data(support_client.get(sn_url("edit/")).content.decode())
    sn_get(httpx_mock, saving=True)
    reply = {**SN_RECORD, "accounts": ["acc1", "acc2"], "updatedAt": "2026-11-02T10:00:00.000Z"}
    httpx_mock.add_response(method="PATCH", match_json={"accounts": ["acc1", "acc2"]}, json=reply)

    response = support_client.post(sn_url("edit/"), edited(data, accounts=["acc1", "acc2"]))

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="recipient.updated")
    assert event.changes == {"accounts": {"before": ["acc1"], "after": ["acc1", "acc2"]}}


def test_snappy_custom_field_change_carries_the_disabled_entry(support_client, sn_conn, httpx_mock):
    sn_get(httpx_mock)
    data = form_data(support_client.get(sn_url("edit/")).content.decode())
    sn_get(httpx_mock, saving=True)
    sent = {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "fieldValue": "L"},
            {"fieldName": "diet", "displayName": "Diet", "fieldValue": "vegan"},
        ]
    }
    httpx_mock.add_response(method="PATCH", match_json=sent, json={**SN_RECORD, **sent})

    response = support_client.post(
        sn_url("edit/"), edited(data, recipientCustomFields__shirtSize="L")
    )

    assert response.status_code == 302


def test_a_provider_422_is_shown_on_the_form_with_the_input_kept(
    support_client, sn_conn, httpx_mock
):
    sn_get(httpx_mock)
    data = form_data(support_client.get(sn_url("edit/")).content.decode())
    sn_get(httpx_mock, saving=True)
    httpx_mock.add_response(
        method="PATCH",
        status_code=422,
        json={"status": 422, "errorCode": 10022, "message": "Invalid account ids: acc2"},
    )

    response = support_client.post(sn_url("edit/"), edited(data, accounts=["acc2"]))
    body = response.content.decode()

    assert response.status_code == 422
    assert "Snappy refused the data (Invalid account ids: acc2)." in body
    assert form_data(body)["accounts"] == ["acc2"]  # the choice is kept
    assert not AuditEvent.objects.exists()


def test_a_put_that_times_out_says_the_change_may_not_be_saved(support_client, rf_conn, httpx_mock):
    rf_get(httpx_mock)
    data = form_data(support_client.get(rf_url("edit/")).content.decode())
    rf_get(httpx_mock, saving=True)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method="PUT")

    response = support_client.post(rf_url("edit/"), edited(data, firstName="Zoey"))
    body = response.content.decode()

    assert response.status_code == 503
    assert "RedFlag did not answer in time." in body
    assert "may not have been saved" in body
    assert 'value="Zoey"' in body


def test_a_record_deleted_between_the_check_and_the_save_is_marked_gone(
    support_client, rf_conn, httpx_mock
):
    rf_get(httpx_mock)
    data = form_data(support_client.get(rf_url("edit/")).content.decode())
    rf_get(httpx_mock, saving=True)
    httpx_mock.add_response(method="PUT", json={"success": False, "message": "Recipient Not Found"})

    response = support_client.post(rf_url("edit/"), edited(data, firstName="Zoey"))

    assert response.status_code == 404
    assert "deleted there meanwhile" in response.content.decode()
    assert MirroredRecipient.objects.get(remote_id=RF_ID).gone_at is not None
