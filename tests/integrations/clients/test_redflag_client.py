"""RedFlag client: every documented reply, every error mapping, paging and bad input."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.clients import (
    Conflict,
    FieldNotEnabled,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    ProviderError,
    ProviderTimeout,
    Recipient,
    RedFlagClient,
    Unauthorized,
    Unavailable,
)
from tests.integrations.clients import docs_examples as docs
from tests.integrations.clients.helpers import BASE, REDFLAG_TOKEN, assert_no_secret

API = BASE + "/redflag/int/v1/recipient"
JOHN = json.loads(docs.REDFLAG_GET_SUCCESS)["data"]


def record(n: int, **extra) -> dict:
    return {
        "_id": f"{n:024x}",
        "email": f"person{n}@example.com",
        "firstName": f"First{n}",
        "lastName": f"Last{n}",
        **extra,
    }


def page(records: list[dict], total: int | None = None) -> dict:
    body = {"success": True, "data": records}
    if total is not None:
        body["total"] = total
    return body


# -- documented replies -------------------------------------------------------------------


def test_list_maps_the_documented_example(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "?limit=500", text=docs.REDFLAG_LIST_SUCCESS)

    recipients = list(redflag.iter_recipients())

    assert len(recipients) == 1
    john = recipients[0]
    assert isinstance(john, Recipient)
    assert john.provider == "redflag"
    assert john.remote_id == "60f4aeb09279e27183c0a9da"
    assert john.email == "john@communic8.com"
    assert (john.first_name, john.last_name) == ("John", "Smith")
    assert john.external_id == "700001"  # no orgId: the SuccessFactors user id
    assert john.modified_at is not None and john.modified_at.year == 2024
    assert john.fields["tags"] == [{"key": "z_customField", "value": "Foo"}]
    assert john.raw["_type"] == "pb_c_c8_console_user"


def test_requests_carry_the_bearer_token(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "/john@communic8.com", text=docs.REDFLAG_GET_SUCCESS)

    redflag.get_recipient("john@communic8.com")

    request = httpx_mock.get_requests()[0]
    assert request.headers["Authorization"] == f"Bearer {REDFLAG_TOKEN}"


def test_get_by_email_differing_only_in_case_is_sent_as_given(redflag, httpx_mock):
    """RedFlag matches case-insensitively; the client neither rewrites nor rejects case."""
    httpx_mock.add_response(url=API + "/JOHN@Communic8.COM", text=docs.REDFLAG_GET_SUCCESS)

    john = redflag.get_recipient("JOHN@Communic8.COM")

    assert john.email == "john@communic8.com"
    assert john.matches_email("JOHN@Communic8.COM")


def test_get_by_id(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "/60f4aeb09279e27183c0a9da", text=docs.REDFLAG_GET_SUCCESS)

    assert redflag.get_recipient("60f4aeb09279e27183c0a9da").first_name == "John"


@pytest.mark.parametrize(
    ("method", "call", "example"),
    [
        ("GET", lambda c: c.get_recipient("nobody@example.com"), docs.REDFLAG_GET_ERROR),
        ("PUT", lambda c: c.update_recipient("nobody@example.com", {}), docs.REDFLAG_UPDATE_ERROR),
        ("DELETE", lambda c: c.delete_recipient("nobody@example.com"), docs.REDFLAG_DELETE_ERROR),
    ],
)
def test_recipient_not_found_in_a_200_is_not_found(redflag, httpx_mock, method, call, example):
    httpx_mock.add_response(method=method, url=API + "/nobody@example.com", text=example)

    with pytest.raises(NotFound) as caught:
        call(redflag)

    assert caught.value.status == 200
    assert caught.value.code == "recipient_not_found"
    assert "Recipient Not Found" in caught.value.message
    assert caught.value.attempts == 1


def test_illegal_parameters_in_a_200_is_invalid(redflag, httpx_mock):
    """Refused paging falls back to the plain request; refused again, it is an error."""
    httpx_mock.add_response(url=API + "?limit=500", text=docs.REDFLAG_LIST_ERROR)
    httpx_mock.add_response(url=API, text=docs.REDFLAG_LIST_ERROR)

    with pytest.raises(Invalid, match="Illegal parameters"):
        list(redflag.iter_recipients())


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, '{"success":false,"message":"Illegal parameters"}'),
        (400, '{"success":false,"message":"Illegal parameters"}'),
        (400, "<html><body>Bad Request</body></html>"),
    ],
)
def test_a_list_that_refuses_paging_is_asked_the_plain_documented_request(
    redflag, httpx_mock, status, body
):
    httpx_mock.add_response(url=API + "?limit=500", status_code=status, text=body)
    httpx_mock.add_response(url=API, json=page([record(n) for n in range(3)], 3), is_reusable=True)

    assert len(list(redflag.iter_recipients())) == 3
    assert len(list(redflag.iter_recipients())) == 3  # no second offer of paging

    assert [str(r.url) for r in httpx_mock.get_requests()] == [API + "?limit=500", API, API]


def test_create_sends_the_payload_and_returns_the_recipient(redflag, httpx_mock):
    payload = {"firstName": "John", "lastName": "Smith", "email": "john@communic8.com"}
    httpx_mock.add_response(
        method="POST", url=API, match_json=payload, text=docs.REDFLAG_CREATE_SUCCESS
    )

    john = redflag.create_recipient(payload)

    assert john.remote_id == "60f4aeb09279e27183c0a9da"


def test_email_already_in_use_is_conflict(redflag, httpx_mock):
    httpx_mock.add_response(method="POST", url=API, text=docs.REDFLAG_CREATE_ERROR)

    with pytest.raises(Conflict, match="already in use"):
        redflag.create_recipient(
            {"firstName": "John", "lastName": "Smith", "email": "john.smith@communic8.com"}
        )


def test_update_puts_the_payload(redflag, httpx_mock):
    httpx_mock.add_response(
        method="PUT",
        url=API + "/john@communic8.com",
        match_json={"preferredName": "Johnny"},
        text=docs.REDFLAG_UPDATE_SUCCESS,
    )

    assert redflag.update_recipient("john@communic8.com", {"preferredName": "Johnny"}).email


def test_delete(redflag, httpx_mock):
    httpx_mock.add_response(
        method="DELETE", url=API + "/john@communic8.com", text=docs.REDFLAG_DELETE_SUCCESS
    )

    assert redflag.delete_recipient("john@communic8.com") is None


# -- auth and status mapping --------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 200])
def test_bad_token_is_unauthorized_as_401_or_200(redflag, httpx_mock, status):
    """CONTRACT-NOTES: a bad token may get 401 or 200 + success:false; both are Unauthorized."""
    httpx_mock.add_response(
        url=API + "/john@communic8.com",
        status_code=status,
        json={"success": False, "message": "Unauthorized"},
    )

    with pytest.raises(Unauthorized) as caught:
        redflag.get_recipient("john@communic8.com")

    assert caught.value.status == status
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, "", Unauthorized),
        (403, '{"success":false,"message":"Forbidden"}', Forbidden),
        (403, "<html><body>Forbidden</body></html>", Forbidden),
        (400, '{"success":false,"message":"Illegal parameters"}', Invalid),
        (400, "<html><body>Bad Request</body></html>", Invalid),
        (404, '{"success":false,"message":"Recipient Not Found"}', NotFound),
        (409, '{"success":false,"message":"The email address a@b.c is already in use"}', Conflict),
        (500, '{"success":false,"message":"Internal Server Error"}', Unavailable),
        (418, "teapot", ProviderError),
    ],
)
def test_http_errors_map_to_typed_errors(redflag, httpx_mock, status, body, error):
    # A read is repeated after a 500 (and gets the same answer here).
    httpx_mock.add_response(url=API + "/a@b.c", status_code=status, text=body, is_reusable=True)

    with pytest.raises(error) as caught:
        redflag.get_recipient("a@b.c")

    assert caught.value.status == status
    assert caught.value.provider == "redflag"


def test_a_plain_404_page_is_not_found_without_the_recipient_code(redflag, httpx_mock):
    httpx_mock.add_response(
        url=API + "/a@b.c",
        status_code=404,
        text="<!DOCTYPE html><pre>Cannot GET /int/v1/recipient/a@b.c</pre>",
        headers={"Content-Type": "text/html"},
    )

    with pytest.raises(NotFound) as caught:
        redflag.get_recipient("a@b.c")

    assert caught.value.code is None


# -- bad replies --------------------------------------------------------------------------


def test_reply_missing_success_is_malformed_and_not_retried(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "/a@b.c", json={"data": record(1)})

    with pytest.raises(MalformedReply, match="success flag") as caught:
        redflag.get_recipient("a@b.c")

    assert caught.value.attempts == 1


def test_list_missing_success_is_malformed(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "?limit=500", json={"data": [record(1)], "total": 1})

    with pytest.raises(MalformedReply):
        list(redflag.iter_recipients())


def test_success_without_the_recipient_is_malformed(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "/a@b.c", json={"success": True})

    with pytest.raises(MalformedReply):
        redflag.get_recipient("a@b.c")


@pytest.mark.parametrize(
    "body",
    [
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        docs.REDFLAG_GET_SUCCESS[: len(docs.REDFLAG_GET_SUCCESS) // 2],  # truncated JSON
        "",
        "\x00\xff garbage",
    ],
)
def test_a_garbled_200_is_read_again_then_malformed(redflag, httpx_mock, fake_time, body):
    httpx_mock.add_response(url=API + "/a@b.c", text=body, is_reusable=True)

    with pytest.raises(MalformedReply) as caught:
        redflag.get_recipient("a@b.c")

    assert caught.value.attempts == 5
    assert len(httpx_mock.get_requests()) == 5
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_a_list_that_never_arrives_whole_fails_after_what_it_yielded(redflag, httpx_mock):
    """Records already read are handed out; the error still says the listing is incomplete."""
    full = json.dumps(page([record(n) for n in range(50)], 50))
    httpx_mock.add_response(url=API + "?limit=500", text=full[:-40], is_reusable=True)
    seen = []

    with pytest.raises(MalformedReply) as caught:
        for recipient in redflag.iter_recipients():
            seen.append(recipient.remote_id)

    assert 0 < len(seen) < 50
    assert len(seen) == len(set(seen))  # the repeats skipped what was already yielded
    assert caught.value.attempts == 5


def test_a_truncated_list_that_recovers_yields_everything_once(redflag, httpx_mock):
    full = json.dumps(page([record(n) for n in range(50)], 50))
    httpx_mock.add_response(url=API + "?limit=500", text=full[: len(full) // 3])
    httpx_mock.add_response(url=API + "?limit=500", text=full)

    ids = [r.remote_id for r in redflag.iter_recipients()]

    assert len(ids) == len(set(ids)) == 50


def test_a_list_whose_success_comes_after_the_data_is_checked_at_the_end(redflag, httpx_mock):
    body = '{"data": [' + json.dumps(record(1)) + '], "success": false, "message": "Oops"}'
    httpx_mock.add_response(url=API + "?limit=500", text=body)

    with pytest.raises(ProviderError, match="Oops"):
        list(redflag.iter_recipients())


def test_unknown_fields_are_tolerated(redflag, httpx_mock):
    john = {**JOHN, "brandNewField": {"nested": [1, 2]}, "anotherOne": None}
    httpx_mock.add_response(
        url=API + "/a@b.c", json={"success": True, "data": john, "requestId": "r-1"}
    )

    recipient = redflag.get_recipient("a@b.c")

    assert recipient.raw["brandNewField"] == {"nested": [1, 2]}
    assert "brandNewField" not in recipient.fields


def test_a_list_over_20_mb_in_one_reply_is_read(redflag, httpx_mock):
    """The size guard applies to one record, not to the body."""
    filler = "x" * 9_000
    records = [record(n, notes=[filler]) for n in range(2_500)]
    body = json.dumps(page(records, len(records)))
    assert len(body) > 20 * 1024 * 1024
    httpx_mock.add_response(url=API + "?limit=1000", text=body)

    count = sum(1 for _ in redflag.iter_recipients(page_size=1000))

    assert count == 2_500


def test_one_record_over_the_cap_is_refused_and_not_read_again(make_redflag, httpx_mock):
    from pytest_httpx import IteratorStream

    client = make_redflag(max_record_bytes=1024 * 1024)
    chunk = b"x" * 65536
    httpx_mock.add_response(
        url=API + "?limit=500",
        stream=IteratorStream(
            [b'{"success":true,"data":[', json.dumps(record(1)).encode(), b',{"notes":"']
            + [chunk] * 40
            + [b'"}]}']
        ),
    )
    seen = []

    with pytest.raises(MalformedReply, match="record larger than 1 MB") as caught:
        seen.extend(client.iter_recipients())

    assert len(seen) == 1
    assert caught.value.retryable is False
    assert len(httpx_mock.get_requests()) == 1


# -- identifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ident",
    ["", " ", "..", ".", "../etc/passwd", "a/b@c.d", "a@b.c/../x", "x?y=1", "x#y", "%2e%2e",
     "john doe@example.com", "a\nb@c.d", "a\x00b@c.d", "a@b\x7f.c", "a\\b", "x" * 70, None, 12],
)  # fmt: skip
def test_identifiers_that_could_escape_the_path_are_refused_before_sending(
    redflag, httpx_mock, ident
):
    with pytest.raises(Invalid):
        redflag.get_recipient(ident)
    with pytest.raises(Invalid):
        redflag.delete_recipient(ident)

    assert httpx_mock.get_requests() == []


def test_identifiers_are_url_encoded(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "/o%27brien+tag@example.com", text=docs.REDFLAG_GET_SUCCESS)

    redflag.get_recipient("o'brien+tag@example.com")

    assert httpx_mock.get_requests()[0].url.raw_path.endswith(b"/o%27brien+tag@example.com")


# -- field enablement ---------------------------------------------------------------------


def test_a_disabled_field_is_never_sent(make_redflag, httpx_mock):
    client = make_redflag(enabled_fields={"email", "firstName", "lastName"})

    with pytest.raises(FieldNotEnabled) as caught:
        client.update_recipient("a@b.c", {"firstName": "A", "mobile": "555", "title": "Boss"})
    with pytest.raises(FieldNotEnabled):
        client.create_recipient(
            {"email": "a@b.c", "firstName": "A", "lastName": "B", "tags": [{"key": "z_x"}]}
        )

    assert caught.value.paths == ["mobile", "title"]
    assert "mobile, title" in str(caught.value)
    assert httpx_mock.get_requests() == []


def test_without_field_settings_every_write_is_refused_but_reads_work(make_redflag, httpx_mock):
    client = make_redflag(enabled_fields=None)
    httpx_mock.add_response(url=API + "/a@b.c", text=docs.REDFLAG_GET_SUCCESS)

    client.get_recipient("a@b.c")
    with pytest.raises(FieldNotEnabled) as caught:
        client.update_recipient("a@b.c", {"firstName": "A"})

    assert caught.value.paths == ["firstName"]
    assert len(httpx_mock.get_requests()) == 1


def test_enabled_custom_tag_may_be_written(redflag, httpx_mock):
    payload = {"tags": [{"key": "z_customField", "value": ["a", "b"]}]}
    httpx_mock.add_response(method="PUT", match_json=payload, text=docs.REDFLAG_UPDATE_SUCCESS)

    redflag.update_recipient("a@b.c", payload)


def test_an_update_carries_disabled_tags_unchanged_when_given_the_current_record(
    make_redflag, httpx_mock
):
    """PUT replaces the tag list: one enabled tag changes, the disabled ones ride along."""
    client = make_redflag(enabled_fields={"firstName", "tags.z_team"})
    current = {"tags": [{"key": "z_team", "value": "Blue"}, {"key": "z_secret", "value": "kept"}]}
    payload = {"tags": [{"key": "z_team", "value": "Green"}, {"key": "z_secret", "value": "kept"}]}
    httpx_mock.add_response(method="PUT", match_json=payload, text=docs.REDFLAG_UPDATE_SUCCESS)

    client.update_recipient("a@b.c", payload, current=current)

    with pytest.raises(FieldNotEnabled) as caught:
        client.update_recipient("a@b.c", payload)  # without current: every key must be enabled
    assert caught.value.paths == ["tags.z_secret"]
    forged = {"tags": [{"key": "z_team", "value": "Green"}, {"key": "z_secret", "value": "new"}]}
    with pytest.raises(FieldNotEnabled):
        client.update_recipient("a@b.c", forged, current=current)
    assert len(httpx_mock.get_requests()) == 1


def test_create_without_required_fields_is_invalid_before_sending(redflag, httpx_mock):
    with pytest.raises(Invalid) as caught:
        redflag.create_recipient({"email": "a@b.c", "firstName": " "})

    assert set(caught.value.field_errors) == {"firstName", "lastName"}
    assert httpx_mock.get_requests() == []


# -- create after an unknown outcome ------------------------------------------------------

NEW = {"firstName": "John", "lastName": "Smith", "email": "john@communic8.com"}


def test_create_after_a_timeout_returns_the_record_it_finds(redflag, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), method="POST", url=API)
    httpx_mock.add_response(
        method="GET", url=API + "/john@communic8.com", text=docs.REDFLAG_GET_SUCCESS
    )

    john = redflag.create_recipient(NEW)

    assert john.remote_id == "60f4aeb09279e27183c0a9da"
    assert len(httpx_mock.get_requests(method="POST")) == 1
    assert redflag.stats.recovered_creates == 1


def test_create_after_a_dropped_connection_checks_then_retries(redflag, httpx_mock, fake_time):
    httpx_mock.add_exception(
        httpx.RemoteProtocolError("peer closed connection"), method="POST", url=API
    )
    httpx_mock.add_response(
        method="GET", url=API + "/john@communic8.com", text=docs.REDFLAG_GET_ERROR
    )
    httpx_mock.add_response(method="POST", url=API, text=docs.REDFLAG_CREATE_SUCCESS)

    john = redflag.create_recipient(NEW)

    assert john.email == "john@communic8.com"
    methods = [request.method for request in httpx_mock.get_requests()]
    assert methods == ["POST", "GET", "POST"]
    assert fake_time.sleeps == [0.5]


def test_create_conflict_after_an_unknown_outcome_returns_our_record(redflag, httpx_mock):
    httpx_mock.add_response(method="POST", url=API, status_code=504, text="Gateway Timeout")
    httpx_mock.add_response(
        method="GET", url=API + "/john@communic8.com", text=docs.REDFLAG_GET_ERROR
    )
    httpx_mock.add_response(method="POST", url=API, text=docs.REDFLAG_CREATE_ERROR)
    httpx_mock.add_response(
        method="GET", url=API + "/john@communic8.com", text=docs.REDFLAG_GET_SUCCESS
    )

    john = redflag.create_recipient(NEW)

    assert john.remote_id == "60f4aeb09279e27183c0a9da"
    assert len(httpx_mock.get_requests(method="POST")) == 2


def test_create_is_not_repeated_when_the_exists_check_fails(redflag, httpx_mock):
    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), method="POST", url=API)
    httpx_mock.add_response(method="GET", url=API + "/john@communic8.com", status_code=401, text="")

    with pytest.raises(ProviderTimeout) as caught:
        redflag.create_recipient(NEW)

    assert caught.value.outcome_unknown is True
    assert len(httpx_mock.get_requests(method="POST")) == 1


def test_create_gives_up_after_max_attempts(redflag, httpx_mock, fake_time):
    httpx_mock.add_exception(
        httpx.ReadTimeout("read timed out"), method="POST", url=API, is_reusable=True
    )
    httpx_mock.add_response(
        method="GET", url=API + "/john@communic8.com", text=docs.REDFLAG_GET_ERROR, is_reusable=True
    )

    with pytest.raises(ProviderTimeout):
        redflag.create_recipient(NEW)

    assert len(httpx_mock.get_requests(method="POST")) == 5
    assert len(httpx_mock.get_requests(method="GET")) == 5


def test_create_rate_limited_is_retried_without_an_exists_check(redflag, httpx_mock, fake_time):
    httpx_mock.add_response(
        method="POST", url=API, status_code=429, headers={"Retry-After": "2"}, json={}
    )
    httpx_mock.add_response(method="POST", url=API, text=docs.REDFLAG_CREATE_SUCCESS)

    redflag.create_recipient(NEW)

    assert [r.method for r in httpx_mock.get_requests()] == ["POST", "POST"]
    assert fake_time.sleeps == [2.0]


# -- paging -------------------------------------------------------------------------------


def test_keyset_pages_are_followed_until_a_short_page(redflag, httpx_mock):
    ids = [record(n) for n in range(5, 0, -1)]  # newest first
    httpx_mock.add_response(url=API + "?limit=2", json=page(ids[0:2], 5))
    httpx_mock.add_response(
        url=API + f"?limit=2&previousLastId={ids[1]['_id']}", json=page(ids[2:4], 5)
    )
    httpx_mock.add_response(
        url=API + f"?limit=2&previousLastId={ids[3]['_id']}", json=page(ids[4:], 5)
    )

    emails = [r.email for r in redflag.iter_recipients(page_size=2)]

    assert emails == [f"person{n}@example.com" for n in range(5, 0, -1)]


def test_paging_stops_when_the_total_is_reached(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "?limit=2", json=page([record(2), record(1)], 2))

    assert len(list(redflag.iter_recipients(page_size=2))) == 2


def test_a_list_that_ignores_limit_is_read_in_one_request(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "?limit=2", json=page([record(n) for n in range(7)]))

    assert len(list(redflag.iter_recipients(page_size=2))) == 7
    assert len(httpx_mock.get_requests()) == 1


def test_a_list_that_ignores_the_cursor_never_loops(redflag, httpx_mock):
    """Same first page for every cursor: fetch the whole list once, yield each record once."""
    first = [record(9), record(8)]
    httpx_mock.add_response(url=API + "?limit=2", json=page(first))
    httpx_mock.add_response(
        url=API + f"?limit=2&previousLastId={first[1]['_id']}", json=page(first)
    )
    httpx_mock.add_response(url=API, json=page([record(n) for n in range(9, 0, -1)]))

    ids = [r.remote_id for r in redflag.iter_recipients(page_size=2)]

    assert len(ids) == len(set(ids)) == 9
    assert len(httpx_mock.get_requests()) == 3


def test_list_page_size_is_clamped_to_1000(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "?limit=1000", json=page([]))

    assert list(redflag.iter_recipients(page_size=50_000)) == []


# -- check credentials --------------------------------------------------------------------


def test_check_credentials_reads_a_probe_id(redflag, httpx_mock):
    httpx_mock.add_response(url=API + "/000000000000000000000000", text=docs.REDFLAG_GET_ERROR)

    result = redflag.check_credentials()

    assert result.provider == "redflag"
    assert result.latency >= 0
    assert "accepted" in result.message


def test_check_credentials_with_a_bad_token(redflag, httpx_mock):
    httpx_mock.add_response(status_code=401, json={"success": False, "message": "Unauthorized"})

    with pytest.raises(Unauthorized) as caught:
        redflag.check_credentials()

    assert_no_secret(str(caught.value) + repr(caught.value))


def test_check_credentials_against_a_wrong_base_url(redflag, httpx_mock):
    httpx_mock.add_response(status_code=404, text="<html>Not Found</html>")

    with pytest.raises(NotFound):
        redflag.check_credentials()


def test_a_provider_message_echoing_the_token_is_scrubbed(redflag, httpx_mock):
    httpx_mock.add_response(
        json={"success": False, "message": f"Token {REDFLAG_TOKEN} is not valid for location"}
    )

    with pytest.raises(Unauthorized) as caught:
        redflag.get_recipient("a@b.c")

    assert_no_secret(str(caught.value))
    assert_no_secret(repr(caught.value))
    assert "[redacted]" in str(caught.value)


def test_a_delete_repeated_after_a_garbled_reply_that_deleted_succeeds(redflag, httpx_mock):
    httpx_mock.add_response(method="DELETE", text="<html>oops</html>")
    httpx_mock.add_response(method="DELETE", text=docs.REDFLAG_DELETE_ERROR)

    assert redflag.delete_recipient("john@communic8.com") is None


URL_CLIENT = RedFlagClient(BASE, REDFLAG_TOKEN, enabled_fields=())


@settings(max_examples=300, deadline=None)
@given(ident=st.text(max_size=80))
def test_an_identifier_never_leaves_its_path_segment(ident):
    try:
        path = URL_CLIENT.recipient_url(ident)
    except Invalid:
        return
    url = httpx.URL(BASE + path)
    segments = url.raw_path.decode().split("/")
    assert segments[:-1] == ["", "int", "v1", "recipient"]
    assert segments[-1] not in ("", ".", "..")
    assert url.query == b"" and url.fragment == ""
