"""The sandbox's Snappy public API behaves as CONTRACT-NOTES "Snappy" describes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from integrations.sandbox.server import SandboxServer


@pytest.fixture
def create(
    snappy: httpx.Client, snappy_account_ids: list[str], new_email: Callable[..., str]
) -> Callable[..., dict[str, Any]]:
    """Create a recipient with the required fields plus ``fields``; return the reply body."""

    def make(**fields: Any) -> dict[str, Any]:
        body = {"firstName": "José", "country": "ES", "accounts": snappy_account_ids[:1],
                "email": new_email(), **fields}  # fmt: skip
        reply = snappy.post("/v2/recipients", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()

    return make


def test_bad_or_missing_key_gets_the_documented_401(sandbox: SandboxServer) -> None:
    wrong = httpx.get(f"{sandbox.url}/snappy/v2/recipients", headers={"X-Api-Key": "x" * 24})
    missing = httpx.get(f"{sandbox.url}/snappy/v2/accounts")

    expected = {"status": 401, "errorCode": 10001, "message": "Authorization key is invalid."}
    assert (wrong.status_code, wrong.json()) == (401, expected)
    assert (missing.status_code, missing.json()) == (401, expected)


def test_list_has_results_skip_limit_and_no_total(snappy: httpx.Client) -> None:
    body = snappy.get("/v2/recipients").json()

    assert set(body) == {"results", "skip", "limit"}
    assert (body["skip"], body["limit"]) == (0, 200)
    assert len(body["results"]) >= 50


def test_list_pages_with_skip_and_limit(snappy: httpx.Client) -> None:
    everyone = [r["id"] for r in snappy.get("/v2/recipients").json()["results"]]

    page = snappy.get("/v2/recipients", params={"skip": 10, "limit": 5}).json()

    assert [r["id"] for r in page["results"]] == everyone[10:15]
    assert (page["skip"], page["limit"]) == (10, 5)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 201}, "request/query/limit must be <= 200"),
        ({"limit": 0}, "request/query/limit must be >= 1"),
        ({"skip": -1}, "request/query/skip must be >= 0"),
        ({"skip": "x"}, "request/query/skip must be integer"),
        ({"email": "a@b.co"}, "request/query/email Unknown query parameter 'email'"),
    ],
)
def test_list_refuses_bad_query_parameters(
    snappy: httpx.Client, params: dict[str, Any], message: str
) -> None:
    reply = snappy.get("/v2/recipients", params=params)

    assert reply.status_code == 400
    body = reply.json()
    assert body["path"] == "/v2/recipients"
    assert body["errorCode"] == "INVALID_REQUEST"
    assert body["message"] == message


def test_filters_are_comma_separated_or_lists(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]]
) -> None:
    first, second = create(), create(externalId=f"X-{uuid.uuid4().hex[:8]}")

    emails = f"{first['email'].upper()},{second['email']}"
    by_email = snappy.get("/v2/recipients", params={"emails": emails}).json()["results"]
    by_external = snappy.get(
        "/v2/recipients", params={"externalIds": f"{second['externalId']},nobody"}
    ).json()["results"]
    both = snappy.get(
        "/v2/recipients", params={"emails": emails, "externalIds": second["externalId"]}
    ).json()["results"]

    assert {r["id"] for r in by_email} == {first["id"], second["id"]}
    assert [r["id"] for r in by_external] == [second["id"]]
    assert [r["id"] for r in both] == [second["id"]]  # different filters combine with AND


def test_filter_by_account_and_name(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]], snappy_account_ids: list[str]
) -> None:
    last_name = f"Ødegård{uuid.uuid4().hex[:6]}"
    created = create(lastName=last_name, accounts=snappy_account_ids[3:5])

    results = snappy.get(
        "/v2/recipients",
        params={"accountIds": snappy_account_ids[4], "lastNames": last_name.lower()},
    ).json()["results"]

    assert [r["id"] for r in results] == [created["id"]]


def test_fields_projects_the_reply(snappy: httpx.Client) -> None:
    results = snappy.get("/v2/recipients", params={"fields": "firstName,country"}).json()

    assert all(set(r) <= {"id", "firstName", "country"} for r in results["results"])


def test_create_answers_201_with_the_recipient(
    snappy: httpx.Client, snappy_account_ids: list[str]
) -> None:
    body = {
        "firstName": "Zoë",
        "lastName": "Nguyễn",
        "country": "VN",
        "accounts": snappy_account_ids[:2],
        "email": f"zoe.{uuid.uuid4().hex[:8]}@example.com",
        "mobilePhone": "+84 912 345 678",
        "birthday": "1990-05-01",
        "employee": {"workingSince": "2022-01-15T00:00:00.000Z", "department": "Design"},
        "owner": {"firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com"},
        "recipientCustomFields": [
            {"fieldName": "tShirtSize", "displayName": "T-shirt size", "fieldValue": "M"}
        ],
    }

    reply = snappy.post("/v2/recipients", json=body)

    assert reply.status_code == 201
    created = reply.json()
    assert re.fullmatch(r"[A-Za-z0-9]+", created["id"])
    assert created["source"] == {"type": "apiIntegration"}
    assert created["createdAt"].endswith("Z")
    assert created["birthday"] == "1990-05-01T00:00:00.000Z"
    assert created["accounts"] == snappy_account_ids[:2]
    assert created["type"] == "employee"
    assert snappy.get(f"/v2/recipients/{created['id']}").json() == created


def test_birthday_accepts_an_iso_timestamp(create: Callable[..., dict[str, Any]]) -> None:
    assert create(birthday="2022-12-06T00:00:00.000Z")["birthday"] == "2022-12-06T00:00:00.000Z"


@pytest.mark.parametrize("missing", ["firstName", "country", "accounts"])
def test_create_requires_first_name_country_and_accounts(
    snappy: httpx.Client, snappy_account_ids: list[str], missing: str
) -> None:
    body = {"firstName": "A", "country": "US", "accounts": snappy_account_ids[:1]}
    del body[missing]

    reply = snappy.post("/v2/recipients", json=body)

    assert reply.status_code == 400
    assert reply.json()["details"] == [
        {"path": "/body", "message": f"must have required property '{missing}'"}
    ]


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"email": "not-an-email"}, "/body/email", 'must match format "email"'),
        ({"email": "zoë@exämple.com"}, "/body/email", 'must match format "email"'),
        ({"country": "U5"}, "/body/country", 'must match pattern "^[A-Za-z]+$"'),
        ({"country": "US\n"}, "/body/country", 'must match pattern "^[A-Za-z]+$"'),
        ({"mobilePhone": "call me"}, "/body/mobilePhone", "must match pattern"),
        ({"mobilePhone": "+44 7700 900123x"}, "/body/mobilePhone", "must match pattern"),
        ({"firstName": 5}, "/body/firstName", "must be string"),
        ({"accounts": []}, "/body/accounts", "must NOT have fewer than 1 items"),
        ({"type": "contractor"}, "/body/type", "must be equal to one of the allowed values"),
        ({"birthday": "06/12/2022"}, "/body/birthday", 'must match format "date"'),
        ({"nickname": "Jo"}, "/body/nickname", "must NOT have additional properties"),
        ({"employee": {"team": "x"}}, "/body/employee/team", "must NOT have additional"),
    ],
)
def test_create_validation_errors_are_400_invalid_request(
    snappy: httpx.Client,
    snappy_account_ids: list[str],
    fields: dict[str, Any],
    path: str,
    message: str,
) -> None:
    body = {"firstName": "A", "country": "US", "accounts": snappy_account_ids[:1], **fields}

    reply = snappy.post("/v2/recipients", json=body)

    assert reply.status_code == 400
    error = reply.json()
    assert error["errorCode"] == "INVALID_REQUEST"
    assert "status" not in error
    assert error["details"][0]["path"] == path
    assert error["details"][0]["message"].startswith(message)


@pytest.mark.parametrize("phone", ["", "+1234567890", "+1 (415) 555-0134", "07700 900123"])
def test_mobile_phone_pattern_accepts_documented_shapes(
    create: Callable[..., dict[str, Any]], phone: str
) -> None:
    assert create(mobilePhone=phone)["mobilePhone"] == phone


def test_duplicate_email_ignoring_case_is_409(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]], snappy_account_ids: list[str]
) -> None:
    existing = create()
    body = {"firstName": "B", "country": "US", "accounts": snappy_account_ids[:1],
            "email": existing["email"].upper()}  # fmt: skip

    reply = snappy.post("/v2/recipients", json=body)

    assert reply.status_code == 409
    assert reply.json()["status"] == 409


def test_duplicate_external_id_is_409(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]], snappy_account_ids: list[str]
) -> None:
    existing = create(externalId=f"HR-{uuid.uuid4().hex[:8]}")
    body = {"firstName": "B", "country": "US", "accounts": snappy_account_ids[:1],
            "externalId": existing["externalId"]}  # fmt: skip

    assert snappy.post("/v2/recipients", json=body).status_code == 409


def test_unknown_account_is_422(snappy: httpx.Client) -> None:
    body = {"firstName": "A", "country": "US", "accounts": ["zzzz9999"]}

    reply = snappy.post("/v2/recipients", json=body)

    assert reply.status_code == 422
    assert reply.json()["status"] == 422
    assert isinstance(reply.json()["errorCode"], int)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_update_replaces_accounts_and_keeps_other_fields(
    snappy: httpx.Client,
    create: Callable[..., dict[str, Any]],
    snappy_account_ids: list[str],
    method: str,
) -> None:
    created = create(lastName="Núñez", accounts=snappy_account_ids[:2])

    reply = snappy.request(
        method,
        f"/v2/recipients/{created['id']}",
        json={"accounts": [snappy_account_ids[2]], "firstName": "Łukasz"},
    )

    assert reply.status_code == 200
    updated = reply.json()
    assert updated["accounts"] == [snappy_account_ids[2]]
    assert (updated["firstName"], updated["lastName"]) == ("Łukasz", "Núñez")
    assert updated["createdAt"] == created["createdAt"]


def test_update_merges_into_employee(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]]
) -> None:
    created = create(employee={"workingSince": "2020-02-03", "department": "Sales"})

    reply = snappy.patch(f"/v2/recipients/{created['id']}", json={"employee": {"department": "IT"}})

    assert reply.json()["employee"] == {
        "workingSince": "2020-02-03T00:00:00.000Z",
        "department": "IT",
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"accounts": ["nope1234"]}, 422),
        ({"accounts": []}, 400),
        ({"externalId": "not-updatable"}, 400),
        ({"owner": {"firstName": "x"}}, 400),
    ],
)
def test_update_refusals(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]], body: dict[str, Any], status: int
) -> None:
    created = create()

    assert snappy.patch(f"/v2/recipients/{created['id']}", json=body).status_code == status


def test_update_to_another_recipients_email_is_409(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]]
) -> None:
    first, second = create(), create()

    reply = snappy.patch(f"/v2/recipients/{second['id']}", json={"email": first["email"]})

    assert reply.status_code == 409


def test_unknown_recipient_is_404(snappy: httpx.Client) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        reply = snappy.request(method, "/v2/recipients/doesNotExist1", json={})
        assert reply.status_code == 404
        assert reply.json()["status"] == 404


def test_malformed_recipient_id_is_400(snappy: httpx.Client) -> None:
    reply = snappy.get("/v2/recipients/abc-123")

    assert reply.status_code == 400
    assert reply.json()["details"][0]["path"] == "/params/id"


def test_delete_answers_200_with_a_message_then_404(
    snappy: httpx.Client, create: Callable[..., dict[str, Any]]
) -> None:
    created = create()

    reply = snappy.delete(f"/v2/recipients/{created['id']}")

    assert reply.status_code == 200
    assert "message" in reply.json()
    assert snappy.get(f"/v2/recipients/{created['id']}").status_code == 404


def test_delete_answers_204_in_the_other_variant(
    sandbox: SandboxServer, snappy: httpx.Client, create: Callable[..., dict[str, Any]]
) -> None:
    sandbox.configure(variants={"snappy_delete": "204"})
    created = create()

    reply = snappy.delete(f"/v2/recipients/{created['id']}")

    assert reply.status_code == 204
    assert reply.content == b""


def test_source_is_a_string_in_the_other_variant(
    sandbox: SandboxServer, create: Callable[..., dict[str, Any]]
) -> None:
    sandbox.configure(variants={"snappy_source": "string"})

    assert create()["source"] == "apiIntegration"


def test_company_id_must_be_ours(sandbox: SandboxServer, snappy: httpx.Client) -> None:
    ours = sandbox.credentials["snappy"]["company_id"]

    assert snappy.get("/v2/accounts", params={"companyId": ours}).status_code == 200
    malformed = snappy.get("/v2/accounts", params={"companyId": "abc"})
    other = snappy.get("/v2/accounts", params={"companyId": "SomeOtherCompany1"})

    assert malformed.status_code == 400
    assert malformed.json()["details"] == [
        {"path": "/query/companyId", "message": 'must match pattern "^[A-Za-z0-9]{8,}$"'}
    ]
    assert other.status_code == 403
    assert other.json()["status"] == 403


def test_request_source_header_is_checked_when_present(snappy: httpx.Client) -> None:
    good = snappy.get("/v2/accounts", headers={"Request-Source": "api_salesforce"})
    bad = snappy.get("/v2/accounts", headers={"Request-Source": "api_excel"})

    assert good.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["details"][0]["path"] == "/headers/request-source"


def test_accounts_list(snappy: httpx.Client) -> None:
    body = snappy.get("/v2/accounts").json()
    too_many = snappy.get("/v2/accounts", params={"limit": 1001})

    assert (body["skip"], body["limit"]) == (0, 100)
    assert len(body["results"]) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9]+", a["id"]) and a["name"] for a in body["results"])
    assert too_many.status_code == 400


def test_rate_limit_answers_429_with_and_without_retry_after(
    sandbox: SandboxServer, snappy: httpx.Client
) -> None:
    sandbox.configure(variants={"snappy_rate_limit": 3})

    replies = [snappy.get("/v2/accounts") for _ in range(40)]

    limited = [r for r in replies if r.status_code == 429]
    assert replies[0].status_code == 200
    assert len(limited) >= 30
    assert all(r.json()["status"] == 429 for r in limited)
    with_header = [r for r in limited if "retry-after" in r.headers]
    assert 0 < len(with_header) < len(limited)
    assert all(int(r.headers["retry-after"]) >= 1 for r in with_header)


def test_default_rate_limit_is_100_per_second_across_endpoints(
    sandbox: SandboxServer, snappy: httpx.Client
) -> None:
    paths = ["/v2/accounts", "/v2/recipients?limit=1"] * 90

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda path: snappy.get(path).status_code, paths))

    assert statuses.count(200) >= 100
    assert statuses.count(429) >= 1
    assert set(statuses) == {200, 429}


def test_rate_limit_can_be_switched_off(sandbox: SandboxServer, snappy: httpx.Client) -> None:
    sandbox.configure(variants={"snappy_rate_limit": 0})

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = set(pool.map(lambda _: snappy.get("/v2/accounts").status_code, range(200)))

    assert statuses == {200}


def test_creates_are_counted_by_email_or_external_id(
    sandbox: SandboxServer,
    snappy: httpx.Client,
    snappy_account_ids: list[str],
    new_email: Callable[..., str],
) -> None:
    email, external_id = new_email("Counted"), f"HR-{uuid.uuid4().hex[:8]}"
    body = {"firstName": "A", "country": "US", "accounts": snappy_account_ids[:1]}
    snappy.post("/v2/recipients", json={**body, "email": email})
    snappy.post("/v2/recipients", json={**body, "email": email.upper()})  # duplicate: 409
    snappy.post("/v2/recipients", json={**body, "externalId": external_id})

    assert sandbox.counters()["creates"]["snappy"] == {email.lower(): 1, external_id: 1}
