"""Snappy client: documented replies, status/errorCode mapping, paging, creates and updates."""

from __future__ import annotations

import json

import httpx
import pytest

from integrations.clients import (
    Conflict,
    FieldNotEnabled,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from tests.integrations.clients import docs_examples as docs
from tests.integrations.clients.helpers import BASE, SNAPPY_KEY, assert_no_secret

API = BASE + "/snappy/v2/recipients"
ACCOUNTS = BASE + "/snappy/v2/accounts"
Q = "companyId=company1234"
JOHN = json.loads(docs.SNAPPY_RECIPIENT)


def person(n: int, **extra) -> dict:
    return {"id": f"r{n}", "firstName": f"F{n}", "email": f"p{n}@example.com", **extra}


# -- documented replies -------------------------------------------------------------------


def test_get_maps_the_documented_recipient(snappy, httpx_mock):
    httpx_mock.add_response(url=f"{API}/xyz12345?{Q}", text=docs.SNAPPY_RECIPIENT)

    john = snappy.get_recipient("xyz12345")

    assert john.provider == "snappy"
    assert john.remote_id == "xyz12345"
    assert (john.email, john.first_name, john.last_name) == ("john.doe@example.com", "John", "Doe")
    assert john.external_id == "1234567890"
    assert john.phone == "+1234567890"
    assert john.modified_at is not None
    assert john.fields["accounts"] == ["a12bcd34", "a56bcd78"]
    assert john.fields["employee"] == {
        "workingSince": "2022-01-15T00:00:00.000Z",
        "department": "Engineering",
    }
    assert "source" not in john.fields and john.raw["source"] == {"type": "apiIntegration"}


def test_every_request_carries_key_source_and_company(snappy, httpx_mock):
    httpx_mock.add_response(url=f"{API}/xyz12345?{Q}", text=docs.SNAPPY_RECIPIENT)

    snappy.get_recipient("xyz12345")

    request = httpx_mock.get_requests()[0]
    assert request.headers["X-Api-Key"] == SNAPPY_KEY
    assert request.headers["Request-Source"] == "api_native"
    assert request.url.params["companyId"] == "company1234"


def test_source_as_a_string_is_tolerated(snappy, httpx_mock):
    httpx_mock.add_response(json={**JOHN, "source": "apiIntegration", "newThing": 1})

    assert snappy.get_recipient("xyz12345").raw["source"] == "apiIntegration"


def test_create_returns_the_created_recipient(snappy, httpx_mock):
    payload = {"firstName": "John", "country": "US", "accounts": ["a12bcd34"]}
    httpx_mock.add_response(
        method="POST",
        url=f"{API}?{Q}",
        match_json=payload,
        status_code=201,
        text=docs.SNAPPY_RECIPIENT,
    )

    assert snappy.create_recipient(payload).remote_id == "xyz12345"


# -- error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, docs.SNAPPY_UNAUTHORIZED, Unauthorized, 10001),
        (400, '{"errorCode": 10001, "message": "Authorization key is invalid."}', Unauthorized,
         10001),
        (401, "<html>Unauthorized</html>", Unauthorized, None),
        (403, '{"status": 403, "errorCode": 10003, "message": "Missing scope"}', Forbidden, 10003),
        (404, '{"status": 404, "errorCode": 10004, "message": "Recipient not found"}', NotFound,
         10004),
        (409, '{"status": 409, "errorCode": 10009, "message": "Duplicate"}', Conflict, 10009),
        (422, '{"status": 422, "errorCode": 10022, "message": "Unknown account"}', Invalid, 10022),
        (400, docs.SNAPPY_INVALID_REQUEST, Invalid, "INVALID_REQUEST"),
        (400, "not json at all", Invalid, None),
        (500, '{"status": 500, "message": "boom"}', Unavailable, None),
    ],
)  # fmt: skip
def test_errors_map_by_status_and_error_code(snappy, httpx_mock, status, body, error, code):
    httpx_mock.add_response(
        url=f"{API}/xyz12345?{Q}", status_code=status, text=body, is_reusable=True
    )

    with pytest.raises(error) as caught:
        snappy.get_recipient("xyz12345")

    assert caught.value.status == status
    assert caught.value.code == code
    assert caught.value.attempts == (5 if status == 500 else 1)  # a read is repeated on 500


def test_the_message_text_never_decides_the_error(snappy, httpx_mock):
    httpx_mock.add_response(
        status_code=422, json={"status": 422, "message": "Authorization key is invalid."}
    )

    with pytest.raises(Invalid):
        snappy.get_recipient("xyz12345")


def test_validation_path_becomes_a_field_error(snappy, httpx_mock):
    httpx_mock.add_response(status_code=400, text=docs.SNAPPY_INVALID_REQUEST)

    with pytest.raises(Invalid) as caught:
        snappy.update_recipient("xyz12345", {"firstName": ""})

    assert caught.value.field_errors == {"firstName": ["firstName is required"]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"path": "/v2/recipients", "errorCode": "INVALID_REQUEST", "message": "Bad",
             "details": [{"path": "/body/mobilePhone", "message": "must match pattern"},
                         {"field": "country", "message": "must be letters"}]},
            {"mobilePhone": ["must match pattern"], "country": ["must be letters"]},
        ),
        (
            {"path": "/v2/recipients", "errorCode": "INVALID_REQUEST", "message": "Bad",
             "details": {"employee.department": "too long"}},
            {"employee.department": ["too long"]},
        ),
        (
            {"path": "/v2/recipients", "errorCode": "INVALID_REQUEST", "message": "Bad"},
            {},
        ),
        (
            {"path": ["owner", "email"], "errorCode": "INVALID_REQUEST", "message": "not an email"},
            {"owner.email": ["not an email"]},
        ),
    ],
)  # fmt: skip
def test_validation_details_become_field_errors(snappy, httpx_mock, body, expected):
    httpx_mock.add_response(status_code=400, json=body)

    with pytest.raises(Invalid) as caught:
        snappy.update_recipient("xyz12345", {"firstName": "A"})

    assert caught.value.field_errors == expected


def test_429_is_retried_after_retry_after(snappy, httpx_mock, fake_time):
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "3"}, json={})
    httpx_mock.add_response(text=docs.SNAPPY_RECIPIENT)

    snappy.get_recipient("xyz12345")

    assert fake_time.sleeps == [3.0]


def test_429_without_retry_after_backs_off_1_2_4_8_with_jitter_then_gives_up(
    snappy, httpx_mock, fake_time
):
    httpx_mock.add_response(
        status_code=429, json={"status": 429, "message": "Too many"}, is_reusable=True
    )

    with pytest.raises(RateLimited) as caught:
        snappy.get_recipient("xyz12345")

    assert caught.value.attempts == 5
    assert caught.value.retry_after is None
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0]  # jitter 0.5 of 1, 2, 4, 8


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "abc-123", "../x", "a/b", "xyz 1", "ab%2F", "é1", None])
def test_a_recipient_id_breaking_the_pattern_is_refused_before_sending(snappy, httpx_mock, bad):
    for call in (
        lambda: snappy.get_recipient(bad),
        lambda: snappy.update_recipient(bad, {"firstName": "A"}),
        lambda: snappy.delete_recipient(bad),
    ):
        with pytest.raises(Invalid):
            call()

    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("payload", "missing"),
    [
        ({"firstName": "A", "country": "US"}, {"accounts"}),
        ({"firstName": "A", "country": "US", "accounts": []}, {"accounts"}),
        ({"firstName": "A", "country": "US", "accounts": "a12bcd34"}, {"accounts"}),
        ({"country": "US", "accounts": ["a1"]}, {"firstName"}),
        ({}, {"firstName", "country", "accounts"}),
    ],
)
def test_create_without_required_fields_is_invalid_before_sending(
    snappy, httpx_mock, payload, missing
):
    with pytest.raises(Invalid) as caught:
        snappy.create_recipient(payload)

    assert set(caught.value.field_errors) == missing
    assert httpx_mock.get_requests() == []


def test_a_disabled_field_is_never_sent(make_snappy, httpx_mock):
    client = make_snappy(enabled_fields={"firstName", "lastName", "email"})

    with pytest.raises(FieldNotEnabled) as caught:
        client.update_recipient(
            "xyz12345",
            {
                "firstName": "A",
                "employee": {"department": "Ops"},
                "recipientCustomFields": [{"fieldName": "shoe", "fieldValue": "42"}],
            },
        )
    with pytest.raises(FieldNotEnabled):
        client.create_recipient({"firstName": "A", "country": "US", "accounts": ["a1"]})

    assert caught.value.paths == ["employee.department", "recipientCustomFields.shoe"]
    assert httpx_mock.get_requests() == []


def test_list_filters_are_comma_separated_or_lists(snappy, httpx_mock):
    httpx_mock.add_response(
        url=f"{API}?{Q}&emails=a%40x.com%2Cb%40x.com&externalIds=7&skip=0&limit=200",
        json={"results": [person(1)], "skip": 0, "limit": 200},
    )

    found = snappy.list_recipients(emails=["a@x.com", "b@x.com"], external_ids="7")

    assert [r.remote_id for r in found] == ["r1"]


@pytest.mark.parametrize(
    "kwargs",
    [{"emails": ["a,b@x.com"]}, {"colour": "blue"}, {"limit": 201}, {"limit": 0}, {"skip": -1}],
)
def test_bad_list_arguments_are_refused_before_sending(snappy, httpx_mock, kwargs):
    with pytest.raises(Invalid):
        snappy.list_recipients(**kwargs)

    assert httpx_mock.get_requests() == []


def test_list_reply_without_results_is_malformed(snappy, httpx_mock):
    httpx_mock.add_response(json={"skip": 0, "limit": 200})

    with pytest.raises(MalformedReply):
        snappy.list_recipients()


def test_html_reply_to_a_list_is_read_again_then_malformed(snappy, httpx_mock):
    httpx_mock.add_response(text="<html>maintenance</html>", is_reusable=True)

    with pytest.raises(MalformedReply) as caught:
        snappy.list_recipients()

    assert caught.value.attempts == 5


# -- paging -------------------------------------------------------------------------------


def test_iter_recipients_pages_until_a_short_page(snappy, httpx_mock):
    for skip, numbers in ((0, [1, 2]), (2, [3, 4]), (4, [5])):
        httpx_mock.add_response(
            url=f"{API}?{Q}&accountIds=a1&skip={skip}&limit=2",
            json={"results": [person(n) for n in numbers], "skip": skip, "limit": 2},
        )

    ids = [r.remote_id for r in snappy.iter_recipients({"accountIds": "a1"}, page_size=2)]

    assert ids == ["r1", "r2", "r3", "r4", "r5"]


def test_iter_recipients_stops_when_skip_is_ignored(snappy, httpx_mock):
    httpx_mock.add_response(json={"results": [person(1), person(2)]}, is_reusable=True)

    ids = [r.remote_id for r in snappy.iter_recipients(page_size=2)]

    assert ids == ["r1", "r2"]
    assert len(httpx_mock.get_requests()) == 2


def test_an_exact_multiple_ends_with_an_empty_page(snappy, httpx_mock):
    httpx_mock.add_response(
        url=f"{API}?{Q}&skip=0&limit=2", json={"results": [person(1), person(2)]}
    )
    httpx_mock.add_response(url=f"{API}?{Q}&skip=2&limit=2", json={"results": []})

    assert len(list(snappy.iter_recipients(page_size=2))) == 2


# -- find, update, delete, accounts -------------------------------------------------------


def test_find_recipient_by_email_is_case_insensitive(snappy, httpx_mock):
    httpx_mock.add_response(
        url=f"{API}?{Q}&emails=John.Doe%40Example.com&skip=0&limit=200",
        json={"results": [JOHN]},
    )

    assert snappy.find_recipient(email="John.Doe@Example.com").remote_id == "xyz12345"


def test_find_recipient_by_external_id(snappy, httpx_mock):
    httpx_mock.add_response(
        url=f"{API}?{Q}&externalIds=1234567890&skip=0&limit=200", json={"results": [JOHN]}
    )

    assert snappy.find_recipient(external_id="1234567890").remote_id == "xyz12345"


def test_find_recipient_returns_none_when_nothing_matches(snappy, httpx_mock):
    httpx_mock.add_response(json={"results": [person(9)]})

    assert snappy.find_recipient(email="nobody@example.com") is None


def test_update_patches(snappy, httpx_mock):
    httpx_mock.add_response(
        method="PATCH",
        url=f"{API}/xyz12345?{Q}",
        match_json={"accounts": ["a1"]},
        text=docs.SNAPPY_RECIPIENT,
    )

    snappy.update_recipient("xyz12345", {"accounts": ["a1"]})


def test_an_update_carries_disabled_custom_fields_unchanged_when_given_the_current_record(
    make_snappy, httpx_mock
):
    """The custom-field list replaces: a disabled entry may ride along only unchanged."""
    client = make_snappy(enabled_fields={"firstName", "recipientCustomFields.shirtSize"})
    current = {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "fieldValue": "M"},
            {"fieldName": "diet", "fieldValue": "vegan"},
        ]
    }
    payload = {
        "recipientCustomFields": [
            {"fieldName": "shirtSize", "fieldValue": "L"},
            {"fieldName": "diet", "fieldValue": "vegan"},
        ]
    }
    httpx_mock.add_response(method="PATCH", match_json=payload, text=docs.SNAPPY_RECIPIENT)

    client.update_recipient("xyz12345", payload, current=current)

    dropped = {"recipientCustomFields": [{"fieldName": "shirtSize", "fieldValue": "L"}]}
    with pytest.raises(FieldNotEnabled) as caught:
        client.update_recipient("xyz12345", dropped, current=current)
    assert caught.value.paths == ["recipientCustomFields.diet"]
    assert len(httpx_mock.get_requests()) == 1


def test_update_falls_back_to_put_on_405_and_remembers(snappy, httpx_mock):
    httpx_mock.add_response(method="PATCH", status_code=405, text="Method Not Allowed")
    httpx_mock.add_response(method="PUT", text=docs.SNAPPY_RECIPIENT, is_reusable=True)

    snappy.update_recipient("xyz12345", {"firstName": "A"})
    snappy.update_recipient("xyz12345", {"firstName": "B"})

    assert [r.method for r in httpx_mock.get_requests()] == ["PATCH", "PUT", "PUT"]


def test_the_learned_method_is_handed_to_the_callback_once(make_snappy, httpx_mock):
    learned: list[str] = []
    client = make_snappy(on_update_method=learned.append)
    httpx_mock.add_response(method="PATCH", status_code=405, text="Method Not Allowed")
    httpx_mock.add_response(method="PUT", text=docs.SNAPPY_RECIPIENT, is_reusable=True)

    client.update_recipient("xyz12345", {"firstName": "A"})
    client.update_recipient("xyz12345", {"firstName": "B"})

    assert learned == ["PUT"]
    assert client.update_method == "PUT"


def test_a_stored_method_is_sent_first_and_a_405_to_it_switches_back(make_snappy, httpx_mock):
    learned: list[str] = []
    client = make_snappy(update_method="put", on_update_method=learned.append)
    httpx_mock.add_response(method="PUT", status_code=405, text="Method Not Allowed")
    httpx_mock.add_response(method="PATCH", text=docs.SNAPPY_RECIPIENT)

    client.update_recipient("xyz12345", {"firstName": "A"})

    assert [r.method for r in httpx_mock.get_requests()] == ["PUT", "PATCH"]
    assert learned == ["PATCH"]


def test_a_failing_callback_never_fails_the_update(make_snappy, httpx_mock):
    def broken(method: str) -> None:
        raise RuntimeError("database away")

    client = make_snappy(on_update_method=broken)
    httpx_mock.add_response(method="PATCH", text=docs.SNAPPY_RECIPIENT)

    assert client.update_recipient("xyz12345", {"firstName": "A"}).remote_id == "xyz12345"


def test_an_unknown_update_method_is_refused(make_snappy):
    with pytest.raises(Invalid):
        make_snappy(update_method="POST")


def test_a_partial_nested_object_is_completed_from_the_live_record(snappy, httpx_mock):
    """The live record is read first; its other keys go out unchanged beside the change."""
    live = {
        "id": "xyz12345",
        "firstName": "Ann",
        "employee": {"workingSince": "2021-03-01T00:00:00.000Z", "department": "Sales"},
    }
    httpx_mock.add_response(method="GET", url=f"{API}/xyz12345?{Q}", json=live)
    httpx_mock.add_response(
        method="PATCH",
        url=f"{API}/xyz12345?{Q}",
        match_json={
            "employee": {"workingSince": "2021-03-01T00:00:00.000Z", "department": "IT"},
            "lastName": "Lee",
        },
        text=docs.SNAPPY_RECIPIENT,
    )

    snappy.update_recipient("xyz12345", {"employee": {"department": "IT"}, "lastName": "Lee"})


def test_live_keys_carried_along_need_not_be_enabled(make_snappy, httpx_mock):
    """Only the caller's change is checked: an unchanged start date is no write of it."""
    client = make_snappy(enabled_fields={"employee.department"})
    httpx_mock.add_response(
        method="GET",
        json={"id": "xyz12345", "employee": {"workingSince": "2021-03-01", "extra": 1}},
    )
    httpx_mock.add_response(
        method="PATCH",
        match_json={"employee": {"workingSince": "2021-03-01", "department": "IT"}},
        text=docs.SNAPPY_RECIPIENT,
    )

    client.update_recipient("xyz12345", {"employee": {"department": "IT"}})

    with pytest.raises(FieldNotEnabled):
        client.update_recipient("xyz12345", {"employee": {"workingSince": "2020-01-01"}})


def test_an_update_without_nested_objects_reads_nothing_first(snappy, httpx_mock):
    httpx_mock.add_response(method="PATCH", text=docs.SNAPPY_RECIPIENT)

    snappy.update_recipient("xyz12345", {"lastName": "Lee"})

    assert [r.method for r in httpx_mock.get_requests()] == ["PATCH"]


def test_update_unknown_recipient_is_not_found(snappy, httpx_mock):
    httpx_mock.add_response(method="PATCH", status_code=404, json={"status": 404})

    with pytest.raises(NotFound):
        snappy.update_recipient("nobody1", {"firstName": "A"})


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, '{"message": "Recipient deleted successfully"}'), (204, "")],
)
def test_delete_accepts_200_and_204(snappy, httpx_mock, status, body):
    httpx_mock.add_response(
        method="DELETE", url=f"{API}/xyz12345?{Q}", status_code=status, text=body
    )

    assert snappy.delete_recipient("xyz12345") is None


def test_list_accounts(snappy, httpx_mock):
    httpx_mock.add_response(
        url=f"{ACCOUNTS}?{Q}&skip=0&limit=1000",
        json={"results": [{"id": "a12bcd34", "name": "Main"}], "skip": 0, "limit": 1000},
    )

    assert snappy.list_accounts() == [{"id": "a12bcd34", "name": "Main"}]


def test_check_credentials(snappy, httpx_mock):
    httpx_mock.add_response(url=f"{API}?{Q}&skip=0&limit=1", json={"results": []})

    assert snappy.check_credentials().provider == "snappy"


def test_check_credentials_with_a_bad_key(snappy, httpx_mock):
    httpx_mock.add_response(status_code=401, text=docs.SNAPPY_UNAUTHORIZED)

    with pytest.raises(Unauthorized) as caught:
        snappy.check_credentials()

    assert "Authorization key is invalid." in str(caught.value)
    assert_no_secret(repr(caught.value))


# -- create after an unknown outcome ------------------------------------------------------

NEW = {"firstName": "John", "country": "US", "accounts": ["a12bcd34"], "email": "john@x.com"}


def test_create_after_a_timeout_finds_the_record_by_email(snappy, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), method="POST")
    httpx_mock.add_response(
        method="GET",
        url=f"{API}?{Q}&emails=john%40x.com&skip=0&limit=200",
        json={"results": [{**JOHN, "email": "john@x.com"}]},
    )

    assert snappy.create_recipient(NEW).remote_id == "xyz12345"
    assert len(httpx_mock.get_requests(method="POST")) == 1


def test_create_after_a_502_checks_then_retries(snappy, httpx_mock):
    httpx_mock.add_response(method="POST", status_code=502, text="<html>Bad Gateway</html>")
    httpx_mock.add_response(method="GET", json={"results": []})
    httpx_mock.add_response(method="POST", status_code=201, text=docs.SNAPPY_RECIPIENT)

    snappy.create_recipient(NEW)

    assert [r.method for r in httpx_mock.get_requests()] == ["POST", "GET", "POST"]


def test_create_409_after_an_unknown_outcome_returns_the_landed_record(snappy, httpx_mock):
    httpx_mock.add_exception(httpx.RemoteProtocolError("dropped"), method="POST")
    httpx_mock.add_response(method="GET", json={"results": []})
    httpx_mock.add_response(method="POST", status_code=409, json={"status": 409})
    httpx_mock.add_response(method="GET", json={"results": [{**JOHN, "email": "john@x.com"}]})

    assert snappy.create_recipient(NEW).remote_id == "xyz12345"


def test_create_without_email_or_external_id_is_not_repeated_after_a_timeout(snappy, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), method="POST")

    with pytest.raises(ProviderTimeout) as caught:
        snappy.create_recipient({"firstName": "A", "country": "US", "accounts": ["a1"]})

    assert caught.value.outcome_unknown is True
    assert len(httpx_mock.get_requests()) == 1


def test_create_409_without_an_earlier_unknown_outcome_is_conflict(snappy, httpx_mock):
    httpx_mock.add_response(method="POST", status_code=409, json={"status": 409})

    with pytest.raises(Conflict):
        snappy.create_recipient(NEW)


def test_create_never_sent_is_retried_directly(snappy, httpx_mock, fake_time):
    httpx_mock.add_exception(httpx.ConnectError("refused"), method="POST")
    httpx_mock.add_response(method="POST", status_code=201, text=docs.SNAPPY_RECIPIENT)

    snappy.create_recipient(NEW)

    assert [r.method for r in httpx_mock.get_requests()] == ["POST", "POST"]


def test_update_refuses_fields_set_on_create_only(snappy, httpx_mock):
    with pytest.raises(Invalid) as caught:
        snappy.update_recipient("xyz12345", {"externalId": "9", "owner": {"email": "o@x.com"}})

    assert set(caught.value.field_errors) == {"externalId", "owner"}
    assert httpx_mock.get_requests() == []


def test_a_delete_repeated_after_a_timeout_that_deleted_succeeds(snappy, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), method="DELETE")
    httpx_mock.add_response(method="DELETE", status_code=404, json={"status": 404})

    assert snappy.delete_recipient("xyz12345") is None
    assert len(httpx_mock.get_requests()) == 2


def test_a_delete_after_a_429_then_404_is_not_found(snappy, httpx_mock):
    httpx_mock.add_response(method="DELETE", status_code=429, headers={"Retry-After": "0"})
    httpx_mock.add_response(method="DELETE", status_code=404, json={"status": 404})

    with pytest.raises(NotFound):
        snappy.delete_recipient("xyz12345")


def test_validation_details_echoing_the_key_are_scrubbed(snappy, httpx_mock):
    httpx_mock.add_response(
        status_code=400,
        json={
            "path": "/v2/recipients",
            "errorCode": "INVALID_REQUEST",
            "message": f"header x-api-key {SNAPPY_KEY} rejected",
            "details": [{"path": "/headers/x-api-key", "message": f"{SNAPPY_KEY} is odd"}],
        },
    )

    with pytest.raises(Invalid) as caught:
        snappy.list_recipients()

    assert_no_secret(str(caught.value) + repr(caught.value) + str(caught.value.field_errors))
