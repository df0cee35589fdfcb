"""The sandbox's RedFlag Recipient API behaves as CONTRACT-NOTES "RedFlag" describes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from integrations.sandbox.server import SandboxServer

NEW = {"firstName": "Zoë", "lastName": "Łącki"}


def _create(redflag: httpx.Client, email: str, **fields: Any) -> dict[str, Any]:
    reply = redflag.post("/int/v1/recipient", json={"email": email, **NEW, **fields})
    assert reply.status_code == 200
    assert reply.json()["success"] is True, reply.json()
    return reply.json()["data"]


def test_list_returns_every_recipient_and_ignores_limit(redflag: httpx.Client) -> None:
    reply = redflag.get("/int/v1/recipient", params={"limit": 5})

    body = reply.json()
    assert reply.status_code == 200
    assert body["success"] is True
    assert body["total"] >= 50
    assert len(body["data"]) == body["total"]


def test_list_is_streamed_with_chunked_encoding(redflag: httpx.Client) -> None:
    """A list of tens of thousands of records is never built as one string."""
    reply = redflag.get("/int/v1/recipient")

    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers


def test_records_carry_the_documented_fields(redflag: httpx.Client) -> None:
    record = redflag.get("/int/v1/recipient").json()["data"][0]

    assert re.fullmatch(r"[0-9a-f]{24}", record["_id"])
    for key in ("aDate", "mDate", "email", "firstName", "lastName", "displayName", "mobile",
                "mobileCountry", "tags", "country", "department", "title", "location",
                "active", "allowEmail", "allowSms", "status", "_type"):  # fmt: skip
        assert key in record


def test_seed_data_has_accents_and_tags(redflag: httpx.Client) -> None:
    records = redflag.get("/int/v1/recipient").json()["data"]

    assert any(not (r["firstName"] + r["lastName"]).isascii() for r in records)
    assert any(r["tags"] and r["tags"][0]["key"].startswith("z_") for r in records)


def test_paged_variant_walks_newest_first_with_previous_last_id(
    sandbox: SandboxServer, redflag: httpx.Client
) -> None:
    sandbox.configure(variants={"redflag_list": "paged"})
    total = redflag.get("/int/v1/recipient", params={"limit": 1}).json()["total"]

    seen: list[str] = []
    cursor: dict[str, str] = {}
    while True:
        page = redflag.get("/int/v1/recipient", params={"limit": 7, **cursor}).json()
        assert page["success"] is True and page["total"] == total
        if not page["data"]:
            break
        assert len(page["data"]) <= 7
        seen += [record["_id"] for record in page["data"]]
        cursor = {"previousLastId": page["data"][-1]["_id"]}

    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen, reverse=True)


def test_paged_variant_defaults_to_100(sandbox: SandboxServer, redflag: httpx.Client) -> None:
    sandbox.configure(variants={"redflag_list": "paged"})

    body = redflag.get("/int/v1/recipient").json()

    assert len(body["data"]) == min(100, body["total"])


@pytest.mark.parametrize(
    "params", [{"limit": 1001}, {"limit": 0}, {"limit": "ten"}, {"previousLastId": "nope"}]
)
def test_paged_variant_refuses_bad_paging(
    sandbox: SandboxServer, redflag: httpx.Client, params: dict[str, Any]
) -> None:
    sandbox.configure(variants={"redflag_list": "paged"})

    reply = redflag.get("/int/v1/recipient", params=params)

    assert reply.status_code == 200
    assert reply.json() == {"success": False, "message": "Illegal parameters"}


def test_get_by_email_or_id_is_case_insensitive(
    redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    created = _create(redflag, new_email("Mixed.Case"))

    by_email = redflag.get(f"/int/v1/recipient/{created['email'].upper()}").json()
    by_id = redflag.get(f"/int/v1/recipient/{created['_id'].upper()}").json()

    assert by_email["data"]["_id"] == created["_id"]
    assert by_id["data"]["email"] == created["email"]


def test_plural_path_of_the_javascript_examples_works_and_is_counted_apart(
    sandbox: SandboxServer, redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    email = new_email()
    assert redflag.post("/int/v1/recipients", json={"email": email, **NEW}).json()["success"]

    reply = redflag.get(f"/int/v1/recipients/{email}")

    assert reply.json()["data"]["email"] == email
    requests = sandbox.counters()["requests"]
    assert requests["redflag POST /int/v1/recipients 200"] == 1
    assert requests["redflag GET /int/v1/recipients/{email} 200"] == 1


def test_unknown_recipient_is_an_error_inside_a_200(redflag: httpx.Client) -> None:
    reply = redflag.get("/int/v1/recipient/nobody@example.com")

    assert reply.status_code == 200
    assert reply.json() == {"success": False, "message": "Recipient Not Found"}


def test_create_answers_the_new_record(redflag: httpx.Client, new_email: Callable[..., str]):
    email = new_email()

    record = _create(redflag, email, preferredName="Zo", mobile="412345678", mobileCountry="61")

    assert record["email"] == email
    assert record["displayName"] == "Zo Łącki"
    assert record["mobileFull"] == "+61412345678"
    assert record["aDate"] == record["mDate"]
    assert record["active"] is True


@pytest.mark.parametrize("missing", ["email", "firstName", "lastName"])
def test_create_requires_email_and_names(
    redflag: httpx.Client, new_email: Callable[..., str], missing: str
) -> None:
    body = {"email": new_email(), **NEW}
    del body[missing]

    reply = redflag.post("/int/v1/recipient", json=body)

    assert reply.json() == {"success": False, "message": "Illegal parameters"}


def test_email_is_unique_ignoring_case(redflag: httpx.Client, new_email: Callable[..., str]):
    email = new_email("unique")
    _create(redflag, email)
    shouted = email.upper()

    reply = redflag.post("/int/v1/recipient", json={"email": shouted, **NEW})

    assert reply.status_code == 200
    assert reply.json() == {
        "success": False,
        "message": f"The email address {shouted} is already in use by another account",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"nickname": "Zo"},  # not a documented field
        {"tags": [{"key": "costCentre", "value": "1"}]},  # keys start with z_
        {"tags": [{"key": "z_ok", "value": 5}]},  # a string or a list of strings
        {"education": [{"school": "X", "start": "2020-01-01"}]},  # dates are YYYYMMDD
        {"employment": [{"company": "X", "end": "20201399"}]},  # no 99th of month 13
        {"sfHireDate": "2020-01-01"},
        {"mobileCountry": "12345"},  # 1-4 digits
        {"faxCountry": "+44"},
        {"active": "yes"},
        {"reportsTo": ["not-an-id"]},
        {"country": "USA"},  # two letters
    ],
)
def test_create_refuses_undocumented_or_malformed_fields(
    redflag: httpx.Client, new_email: Callable[..., str], fields: dict[str, Any]
) -> None:
    reply = redflag.post("/int/v1/recipient", json={"email": new_email(), **NEW, **fields})

    assert reply.json() == {"success": False, "message": "Illegal parameters"}


def test_create_accepts_every_documented_field_shape(
    redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    record = _create(
        redflag,
        new_email(),
        tags=[{"key": "z_costCentre", "value": "CC-1"}, {"key": "z_langs", "value": ["en", "fr"]}],
        education=[{"school": "Uni", "degree": "BSc", "start": "20100901", "end": "20130630"}],
        certification=[{"name": "PMP", "institution": "PMI", "start": "20200101"}],
        sfHireDate="20240229",
        phoneCountry="1",
        reportsTo=["60F4AEB09279E27183C0A9DA"],
        allowSms=True,
        country="gb",
    )

    assert [tag["key"] for tag in record["tags"]] == ["z_costCentre", "z_langs"]
    assert all(re.fullmatch(r"[0-9a-f]{24}", tag["_id"]) for tag in record["tags"])
    assert record["education"][0]["start"] == "20100901"
    assert record["reportsTo"] == ["60f4aeb09279e27183c0a9da"]


def test_put_merges_fields_and_replaces_arrays(
    redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    email = new_email()
    created = _create(
        redflag,
        email,
        title="Engineer",
        tags=[{"key": "z_a", "value": "1"}, {"key": "z_b", "value": "2"}],
    )

    reply = redflag.put(
        f"/int/v1/recipient/{email}",
        json={"department": "R&D", "tags": [{"key": "z_c", "value": "3"}]},
    )

    updated = reply.json()["data"]
    assert updated["title"] == "Engineer"  # untouched field kept
    assert updated["department"] == "R&D"
    assert [tag["key"] for tag in updated["tags"]] == ["z_c"]  # array replaced, not merged
    assert updated["mDate"] >= created["mDate"]
    assert updated["aDate"] == created["aDate"]


def test_patch_is_accepted_as_the_overview_says(
    redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    created = _create(redflag, new_email())

    reply = redflag.patch(f"/int/v1/recipient/{created['_id']}", json={"firstName": "José"})

    assert reply.json()["data"]["displayName"] == "José Łącki"


def test_update_cannot_change_the_email(redflag: httpx.Client, new_email: Callable[..., str]):
    """The update body documents no ``email``: the address is the record's key."""
    created = _create(redflag, new_email())

    reply = redflag.put(f"/int/v1/recipient/{created['_id']}", json={"email": new_email()})

    assert reply.json() == {"success": False, "message": "Illegal parameters"}


def test_update_of_unknown_recipient_is_not_found(redflag: httpx.Client) -> None:
    reply = redflag.put("/int/v1/recipient/ghost@example.com", json={"title": "x"})

    assert reply.json() == {"success": False, "message": "Recipient Not Found"}


def test_delete_is_hard_and_frees_the_email(
    redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    email = new_email()
    _create(redflag, email)

    first = redflag.delete(f"/int/v1/recipient/{email.upper()}")
    second = redflag.delete(f"/int/v1/recipient/{email}")

    assert first.json() == {"success": True}
    assert second.json() == {"success": False, "message": "Recipient Not Found"}
    assert redflag.get(f"/int/v1/recipient/{email}").json()["success"] is False
    _create(redflag, email)  # the address can be used again


def test_bad_token_gets_401_by_default(sandbox: SandboxServer) -> None:
    reply = httpx.get(
        f"{sandbox.url}/redflag/int/v1/recipient", headers={"Authorization": "Bearer nope"}
    )

    assert reply.status_code == 401
    assert reply.json() == {"success": False, "message": "Unauthorized"}


def test_bad_token_gets_200_in_the_other_variant(sandbox: SandboxServer) -> None:
    sandbox.configure(variants={"redflag_auth_failure": "200"})

    reply = httpx.get(f"{sandbox.url}/redflag/int/v1/recipient")

    assert reply.status_code == 200
    assert reply.json() == {"success": False, "message": "Unauthorized"}


def test_unknown_route_is_expresss_html_404_even_without_a_token(sandbox: SandboxServer):
    reply = httpx.get(f"{sandbox.url}/redflag/int/v1/groups")

    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/html")
    assert "Cannot GET /int/v1/groups" in reply.text


def test_creates_are_counted_by_lowercased_email(
    sandbox: SandboxServer, redflag: httpx.Client, new_email: Callable[..., str]
) -> None:
    email = new_email("Counted")
    _create(redflag, email)
    redflag.post("/int/v1/recipient", json={"email": email, **NEW})  # duplicate: refused

    assert sandbox.counters()["creates"]["redflag"] == {email.lower(): 1}
