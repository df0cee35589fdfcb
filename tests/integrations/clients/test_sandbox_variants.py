"""The clients against each documented alternative the sandbox can switch to, over HTTP."""

from __future__ import annotations

import tracemalloc
import uuid

import pytest

from integrations.clients import (
    AmbiguousMatch,
    Conflict,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    Recipient,
    Unauthorized,
    Unavailable,
)
from tests.integrations.clients.sandbox_helpers import (
    QuickSleep,
    outcomes,
    parcelvoy_client,
    redflag_client,
    snappy_client,
    unique_email,
)


def found_id(recipient: Recipient | None) -> str | None:
    return recipient.remote_id if recipient is not None else None


def request_count(sandbox, key: str) -> int:
    return sum(n for name, n in sandbox.counters()["requests"].items() if name.startswith(key))


# -- RedFlag ----------------------------------------------------------------------------------


def test_redflag_list_that_refuses_limit_is_read_with_the_plain_request(sandbox):
    sandbox.configure(variants={"redflag_list": "strict"})
    client = redflag_client(sandbox)

    listed = [r.remote_id for r in client.iter_recipients()]
    again = [r.remote_id for r in client.iter_recipients()]

    total = sandbox.state()["redflag"]["recipients"]
    assert len(listed) == len(set(listed)) == total
    assert again == listed
    # One refused paged request, then the plain one each time: paging is not offered again.
    assert request_count(sandbox, "redflag GET /int/v1/recipient ") == 3


@pytest.mark.parametrize("variant", ["all", "paged", "strict"])
def test_redflag_list_in_every_form_yields_everyone_once(sandbox, variant):
    sandbox.configure(variants={"redflag_list": variant})

    ids = [r.remote_id for r in redflag_client(sandbox).iter_recipients(page_size=7)]

    assert len(ids) == len(set(ids)) == sandbox.state()["redflag"]["recipients"]


@pytest.mark.parametrize("errors", ["200", "http"])
def test_redflag_errors_in_either_form_map_to_the_same_typed_errors(sandbox, errors):
    sandbox.configure(variants={"redflag_errors": errors})
    client = redflag_client(sandbox)
    email = unique_email("rf-errors")
    client.create_recipient({"email": email, "firstName": "Ann", "lastName": "Lee"})

    with pytest.raises(NotFound):
        client.get_recipient(unique_email("nobody"))
    with pytest.raises(Conflict):
        client.create_recipient({"email": email, "firstName": "Ann", "lastName": "Lee"})
    with pytest.raises(Invalid):
        client.update_recipient(email, {"sfHireDate": "not a date"})
    client.delete_recipient(email)
    with pytest.raises(NotFound):
        client.get_recipient(email)


def test_redflag_create_answered_201_is_a_success(sandbox):
    sandbox.configure(variants={"redflag_create": "201"})
    email = unique_email("rf-201")

    created = redflag_client(sandbox).create_recipient(
        {"email": email, "firstName": "Ann", "lastName": "Lee"}
    )

    assert created.email == email
    assert outcomes(sandbox, "redflag").get("201") == 1


@pytest.mark.parametrize("status", ["401", "200", "403"])
def test_a_bad_redflag_token_is_unauthorized_in_every_form(sandbox, status):
    sandbox.configure(variants={"redflag_auth_failure": status})

    with pytest.raises(Unauthorized):
        redflag_client(sandbox, token="wrong-token-123456").check_credentials()
    with pytest.raises(Unauthorized):
        list(redflag_client(sandbox, token="wrong-token-123456").iter_recipients())


def test_redflag_find_recipient_by_email_or_id_and_never_guesses(sandbox):
    client = redflag_client(sandbox)
    one = client.create_recipient(
        {"email": unique_email("find-a"), "firstName": "Ann", "lastName": "Lee"}
    )
    two = client.create_recipient(
        {"email": unique_email("find-b"), "firstName": "Bo", "lastName": "Lee"}
    )

    assert found_id(client.find_recipient(email=one.email.upper())) == one.remote_id
    assert found_id(client.find_recipient(remote_id=two.remote_id)) == two.remote_id
    assert client.find_recipient(email=unique_email("none")) is None
    with pytest.raises(AmbiguousMatch) as caught:
        client.find_recipient(email=one.email, remote_id=two.remote_id)
    assert sorted(caught.value.candidates) == sorted([one.remote_id, two.remote_id])
    with pytest.raises(Invalid):
        client.find_recipient(external_id="E1")


# -- Snappy -----------------------------------------------------------------------------------


def _account(sandbox) -> str:
    return sandbox.state()["snappy"]["accounts"][0]["id"]


def _new_snappy(client, sandbox, **extra):
    return client.create_recipient(
        {
            "firstName": "Ann",
            "country": "GB",
            "accounts": [_account(sandbox)],
            "email": unique_email("sn"),
            "employee": {"workingSince": "2021-03-01", "department": "Sales"},
            **extra,
        }
    )


@pytest.mark.parametrize("nested", ["merge", "replace"])
def test_an_edit_of_the_department_keeps_working_since(sandbox, nested):
    sandbox.configure(variants={"snappy_nested": nested})
    client = snappy_client(sandbox)
    created = _new_snappy(client, sandbox)

    updated = client.update_recipient(created.remote_id, {"employee": {"department": "IT"}})

    assert updated.raw["employee"] == {
        "workingSince": "2021-03-01T00:00:00.000Z",
        "department": "IT",
    }
    assert (
        client.get_recipient(created.remote_id)
        .raw["employee"]["workingSince"]
        .startswith("2021-03-01")
    )


def test_a_whole_nested_object_is_sent_without_reading_the_live_record(sandbox):
    sandbox.configure(variants={"snappy_nested": "replace"})
    client = snappy_client(sandbox)
    created = _new_snappy(client, sandbox)
    before = request_count(sandbox, "snappy GET /v2/recipients/{id}")

    client.update_recipient(
        created.remote_id,
        {"employee": {"department": "IT", "workingSince": "2022-01-01"}},
    )

    assert request_count(sandbox, "snappy GET /v2/recipients/{id}") == before


def test_put_only_server_the_answer_is_learned_once_and_handed_on(sandbox):
    sandbox.configure(variants={"snappy_update": "put_only"})
    learned: list[str] = []
    first = snappy_client(sandbox, on_update_method=learned.append)
    created = _new_snappy(first, sandbox)

    first.update_recipient(created.remote_id, {"lastName": "One"})
    first.update_recipient(created.remote_id, {"lastName": "Two"})
    second = snappy_client(sandbox, update_method=learned[-1], on_update_method=learned.append)
    second.update_recipient(created.remote_id, {"lastName": "Three"})

    assert learned == ["PUT"]
    assert outcomes(sandbox, "snappy").get("405") == 1  # only the first client's first PATCH
    assert second.get_recipient(created.remote_id).last_name == "Three"


def test_a_stored_put_is_sent_at_once(sandbox):
    learned: list[str] = []
    client = snappy_client(sandbox, update_method="PUT", on_update_method=learned.append)
    created = _new_snappy(client, sandbox)

    client.update_recipient(created.remote_id, {"lastName": "Put"})

    assert learned == []  # PUT works here too: nothing new to store
    assert outcomes(sandbox, "snappy").get("405") is None
    assert request_count(sandbox, "snappy PUT") == 1


def test_snappy_find_recipient_by_every_identifier(sandbox):
    client = snappy_client(sandbox)
    external = f"X{uuid.uuid4().hex[:10]}"
    one = _new_snappy(client, sandbox, externalId=external)
    two = _new_snappy(client, sandbox)

    assert found_id(client.find_recipient(email=one.email.upper())) == one.remote_id
    assert found_id(client.find_recipient(external_id=external)) == one.remote_id
    assert found_id(client.find_recipient(remote_id=two.remote_id)) == two.remote_id
    assert found_id(client.find_recipient(email=one.email, external_id=external)) == (one.remote_id)
    assert client.find_recipient(email=unique_email("none"), external_id="nobody") is None
    with pytest.raises(AmbiguousMatch):
        client.find_recipient(email=two.email, external_id=external)
    # Today's call still works.
    assert found_id(client.find_recipient(email=one.email, external_id=None)) == one.remote_id


@pytest.mark.parametrize("provider", ["redflag", "snappy"])
def test_retry_after_as_an_http_date_is_honoured(sandbox, provider):
    sleep = QuickSleep()
    sandbox.configure(
        faults={"rate_429": 0.5, "retry_after_seconds": 2, "only": [provider]},
        variants={"retry_after": "date"},
    )
    client = (redflag_client if provider == "redflag" else snappy_client)(
        sandbox, sleep=sleep, max_attempts=12
    )

    for _ in range(8):
        client.check_credentials()

    assert sleep.waits
    assert all(1.0 <= wait <= 3.0 for wait in sleep.waits)  # the date, not the fallback backoff


def test_a_parcelvoy_public_key_is_forbidden(sandbox):
    with pytest.raises(Forbidden):
        parcelvoy_client(sandbox, key="pk_another-project-key").check_credentials()


# -- lists read as a stream -------------------------------------------------------------------


def test_a_redflag_list_reply_over_20_mb_is_read(sandbox, bulk_seed):
    """One reply of 20,000 documented-shape records (over 20 MB), read as it streams in."""
    bulk_seed(20_000, providers=("redflag",), compact=False)
    client = redflag_client(sandbox, read_timeout=30)

    count = sum(1 for _ in client.iter_recipients())

    assert count == 20_000
    assert client.stats.as_dict()["requests"] == 1  # the server ignored limit: one reply


def test_a_list_cut_short_every_time_fails_after_what_it_read(sandbox, bulk_seed):
    bulk_seed(2_000, providers=("redflag",))
    sandbox.configure(faults={"rate_truncated": 1.0, "only": ["redflag"]})
    seen: list[str] = []

    # Cut inside a record and hung up, or cut with a clean end: unreadable either way.
    with pytest.raises((MalformedReply, Unavailable)) as caught:
        seen.extend(r.remote_id for r in redflag_client(sandbox).iter_recipients())

    assert 0 < len(seen) < 2_000
    assert len(seen) == len(set(seen))
    assert caught.value.attempts == 6


def test_a_list_reply_is_parsed_in_bounded_memory(sandbox, bulk_seed):
    """The reply (over 10 MB) is never held: what the client allocates stays far smaller."""
    bulk_seed(8_000, providers=("redflag",), compact=False)
    client = redflag_client(sandbox, read_timeout=30)
    records = client.iter_recipients()
    next(records)  # connections and the first chunk: not part of what is measured

    tracemalloc.start()
    try:
        count = 1 + sum(1 for _ in records)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 8_000
    assert outcomes(sandbox, "redflag")["200"] == 1  # one reply of every recipient
    assert peak < 6 * 1024 * 1024  # the reply is about 12 MB; its whole text would be more
