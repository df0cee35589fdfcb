"""The sandbox's switches between documented alternatives, its bulk seed, and its manners.

Each switch is read over real HTTP exactly as a client would meet it.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time

import httpx
import pytest

from integrations.sandbox.server import MAX_BODY_BYTES, SandboxServer


def _create_redflag(redflag: httpx.Client, address: str) -> httpx.Response:
    return redflag.post(
        "/int/v1/recipient", json={"email": address, "firstName": "Ann", "lastName": "Lee"}
    )


def test_a_strict_redflag_list_refuses_limit_and_any_unknown_parameter(sandbox, redflag):
    sandbox.configure(variants={"redflag_list": "strict"})

    for query in ({"limit": 10}, {"previousLastId": "0" * 24}, {"page": 2}):
        reply = redflag.get("/int/v1/recipient", params=query)
        assert reply.status_code == 200
        assert reply.json() == {"success": False, "message": "Illegal parameters"}

    plain = redflag.get("/int/v1/recipient").json()
    assert plain["success"] is True
    assert len(plain["data"]) == plain["total"] == sandbox.state()["redflag"]["recipients"]


def test_redflag_errors_in_the_overviews_http_form(sandbox, redflag, new_email):
    sandbox.configure(variants={"redflag_errors": "http", "redflag_list": "strict"})
    address = new_email("http-errors")
    assert _create_redflag(redflag, address).status_code == 200

    cases = [
        (redflag.get("/int/v1/recipient", params={"limit": 5}), 400, "Illegal parameters"),
        (redflag.get("/int/v1/recipient/nobody@example.com"), 404, "Recipient Not Found"),
        (_create_redflag(redflag, address), 409, "already in use"),
        (redflag.post("/int/v1/recipient", json={"email": "x"}), 400, "Illegal parameters"),
    ]
    for reply, status, message in cases:
        assert reply.status_code == status
        assert reply.json()["success"] is False
        assert message in reply.json()["message"]


def test_redflag_create_may_answer_201(sandbox, redflag, new_email):
    sandbox.configure(variants={"redflag_create": "201"})

    reply = _create_redflag(redflag, new_email("created"))

    assert reply.status_code == 201
    assert reply.json()["success"] is True


def test_a_bad_redflag_token_may_get_403(sandbox):
    sandbox.configure(variants={"redflag_auth_failure": "403"})

    reply = httpx.get(
        f"{sandbox.url}/redflag/int/v1/recipient/a@b.c", headers={"Authorization": "Bearer nope"}
    )

    assert reply.status_code == 403
    assert reply.json() == {"success": False, "message": "Unauthorized"}


def _snappy_recipient(sandbox, snappy, address):
    account = sandbox.state()["snappy"]["accounts"][0]["id"]
    reply = snappy.post(
        "/v2/recipients",
        json={
            "firstName": "Ann",
            "country": "GB",
            "accounts": [account],
            "email": address,
            "employee": {"workingSince": "2021-03-01", "department": "Sales"},
        },
    )
    assert reply.status_code == 201
    return reply.json()["id"]


def test_a_put_only_snappy_answers_405_to_patch(sandbox, snappy, new_email):
    recipient = _snappy_recipient(sandbox, snappy, new_email("put-only"))
    sandbox.configure(variants={"snappy_update": "put_only"})

    patch = snappy.patch(f"/v2/recipients/{recipient}", json={"lastName": "Lee"})
    put = snappy.put(f"/v2/recipients/{recipient}", json={"lastName": "Lee"})

    assert patch.status_code == 405
    assert patch.json()["status"] == 405
    assert put.status_code == 200
    assert put.json()["lastName"] == "Lee"


@pytest.mark.parametrize(
    ("variant", "kept"), [("merge", "2021-03-01T00:00:00.000Z"), ("replace", None)]
)
def test_snappy_merges_or_replaces_nested_objects(sandbox, snappy, new_email, variant, kept):
    recipient = _snappy_recipient(sandbox, snappy, new_email("nested"))
    sandbox.configure(variants={"snappy_nested": variant})

    reply = snappy.patch(f"/v2/recipients/{recipient}", json={"employee": {"department": "IT"}})

    assert reply.json()["employee"].get("department") == "IT"
    assert reply.json()["employee"].get("workingSince") == kept


@pytest.mark.parametrize("provider", ["redflag", "snappy", "parcelvoy"])
def test_retry_after_may_be_an_http_date(sandbox, provider):
    sandbox.configure(
        faults={"rate_429": 1.0, "retry_after_seconds": 3}, variants={"retry_after": "date"}
    )

    reply = httpx.post(f"{sandbox.url}/{provider}/anything", json={})

    assert reply.status_code == 429
    when = email.utils.parsedate_to_datetime(reply.headers["retry-after"])
    assert 2 <= when.timestamp() - time.time() <= 5


def test_any_parcelvoy_public_key_is_refused_with_403(sandbox):
    for key in (sandbox.credentials["parcelvoy"]["public_key"], "pk_not-this-project"):
        reply = httpx.post(
            f"{sandbox.url}/parcelvoy/api/client/campaigns/1/trigger",
            headers={"Authorization": f"Bearer {key}"},
            json={"user": {"external_id": "1", "email": "a@b.c"}, "event": {}},
        )
        assert reply.status_code == 403
        assert reply.json() == {"status": "error", "error": "Access denied.", "code": 1007}


def _raw_exchange(sandbox: SandboxServer, head: str, body: bytes) -> bytes:
    """Send a request whose body goes out after the head, as a slow client does."""
    with socket.create_connection((sandbox.host, sandbox.port), timeout=10) as sock:
        sock.sendall(head.encode())
        time.sleep(0.05)  # an early answer would be sent now, before the body
        sock.sendall(body)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/redflag/int/v1/recipient", "Authorization: Bearer wrong\r\n", b"401"),
        ("/snappy/v2/recipients", "X-Api-Key: wrong\r\n", b"401"),
        ("/parcelvoy/api/client/campaigns/1/trigger", "Authorization: Bearer pk_x\r\n", b"403"),
    ],
)
def test_the_body_is_read_before_an_early_answer(sandbox, path, headers, status):
    """Two requests on one connection: the second is answered, so the first body was read."""
    body = json.dumps({"email": "a@b.c", "padding": "x" * 200_000}).encode()
    one = (
        f"POST {path} HTTP/1.1\r\nHost: sandbox\r\n{headers}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )

    answer = _raw_exchange(sandbox, one, body + one.encode() + body)

    assert answer.count(b"HTTP/1.1 " + status) == 2


def test_a_body_over_the_limit_is_read_before_the_413(sandbox):
    body = b"x" * (MAX_BODY_BYTES + 1)
    head = (
        "POST /snappy/v2/recipients HTTP/1.1\r\nHost: sandbox\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )

    answer = _raw_exchange(sandbox, head, body)

    assert answer.startswith(b"HTTP/1.1 413")


def test_seed_fills_an_account_with_compact_recipients(sandbox, control, redflag, snappy):
    try:
        reply = control.post("/seed", json={"count": 3000})
        assert reply.status_code == 200
        assert reply.json()["redflag"]["recipients"] == reply.json()["snappy"]["recipients"] == 3000

        listed = redflag.get("/int/v1/recipient").json()["data"]
        assert len(listed) == 3000
        assert {"_id", "email", "firstName", "lastName"} <= set(listed[0])
        page = snappy.get("/v2/recipients", params={"skip": 2900, "limit": 200}).json()
        assert len(page["results"]) == 100
        assert page["results"][-1]["email"] == "bulk2999@example.com"

        assert control.post("/seed", json={"count": -1}).status_code == 400
        assert control.post("/seed", json={"count": 1, "providers": ["x"]}).status_code == 400
    finally:
        sandbox.reset(data=True)


def test_a_cut_short_list_is_cut_from_the_stream(sandbox, control, redflag):
    """A truncated reply of a streamed list: some records, then no end, never the whole."""
    try:
        control.post("/seed", json={"count": 5000, "providers": ["redflag"]})
        sandbox.configure(faults={"rate_truncated": 1.0})

        for _ in range(4):
            try:
                reply = redflag.get("/int/v1/recipient")
            except httpx.RemoteProtocolError:
                continue  # the hang-up form: the last chunk never came
            assert reply.status_code == 200
            assert b'"bulk0@example.com"' in reply.content
            with pytest.raises(ValueError):
                json.loads(reply.content)
    finally:
        sandbox.reset(data=True)
