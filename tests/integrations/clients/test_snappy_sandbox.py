"""Snappy client against the real sandbox: variants, rate limit and every fault kind."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.clients import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    forget_rate_limiter,
)
from tests.integrations.clients.sandbox_helpers import (
    ALL_FAULTS,
    FAULT_OUTCOME,
    RETRIED_FAULTS,
    QuickSleep,
    fault,
    outcomes,
    snappy_client,
    unique_email,
)

pytestmark = pytest.mark.sandbox


@pytest.fixture
def account_id(sandbox) -> str:
    return snappy_client(sandbox).list_accounts()[0]["id"]


def new_person(account_id: str, tag: str = "sn") -> dict:
    return {
        "firstName": "Grace",
        "lastName": "Hopper",
        "country": "US",
        "accounts": [account_id],
        "email": unique_email(tag),
    }


# -- variants and round trip --------------------------------------------------------------


@pytest.mark.parametrize("source", ["object", "string"])
@pytest.mark.parametrize("delete", ["200", "204"])
def test_round_trip_under_every_variant(sandbox, account_id, source, delete):
    sandbox.configure(variants={"snappy_source": source, "snappy_delete": delete})
    client = snappy_client(sandbox)
    person = new_person(account_id)

    created = client.create_recipient({**person, "employee": {"department": "Navy"}})
    found = client.find_recipient(email=person["email"].upper())
    updated = client.update_recipient(created.remote_id, {"lastName": "Murray"})
    client.delete_recipient(created.remote_id)

    expected_source = {"type": "apiIntegration"} if source == "object" else "apiIntegration"
    assert created.raw["source"] == expected_source
    assert found is not None and found.remote_id == created.remote_id
    assert updated.last_name == "Murray"
    assert updated.fields["employee"]["department"] == "Navy"
    with pytest.raises(NotFound):
        client.get_recipient(created.remote_id)


def test_iter_recipients_reads_every_page(sandbox):
    client = snappy_client(sandbox)

    ids = [r.remote_id for r in client.iter_recipients(page_size=7)]

    assert len(ids) == len(set(ids)) >= 50


def test_check_credentials_and_its_failures(sandbox):
    assert snappy_client(sandbox).check_credentials().latency > 0
    with pytest.raises(Unauthorized) as caught:
        snappy_client(sandbox, api_key="x" * 24).check_credentials()
    assert caught.value.code == 10001

    creds = sandbox.credentials["snappy"]
    other_company = snappy_client(sandbox)
    other_company.company_id = "SomeoneElse1"
    with pytest.raises(Forbidden):
        other_company.check_credentials()
    assert creds["company_id"] != "SomeoneElse1"


def test_duplicates_unknown_accounts_and_bad_fields(sandbox, account_id):
    client = snappy_client(sandbox)
    person = new_person(account_id)
    client.create_recipient(person)

    with pytest.raises(Conflict):
        client.create_recipient(person)
    with pytest.raises(Invalid) as unknown_account:
        client.create_recipient({**new_person("nope1234"), "accounts": ["nope1234"]})
    with pytest.raises(Invalid) as bad_phone:
        client.create_recipient({**new_person(account_id), "mobilePhone": "12"})

    assert unknown_account.value.status == 422
    assert bad_phone.value.status == 400
    assert "mobilePhone" in bad_phone.value.field_errors


# -- rate limit ---------------------------------------------------------------------------


def test_the_client_side_limiter_keeps_under_the_company_limit(sandbox):
    """Sandbox limit 20/s; eight threads share one client paced at 20/s: no 429."""
    sandbox.configure(variants={"snappy_rate_limit": 20})
    key = f"snappy-test:{sandbox.url}"
    # The limiter paces with real sleeps; only retry waits may be shortened in tests.
    client = snappy_client(sandbox, rate_limit=20, rate_limit_key=key, sleep=time.sleep)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.list_recipients(limit=1), range(30)))

    assert "429" not in outcomes(sandbox, "snappy")
    assert client.stats.rate_limit_wait > 0
    forget_rate_limiter(key)


def test_without_the_limiter_429s_are_absorbed_by_retries(sandbox):
    sandbox.configure(variants={"snappy_rate_limit": 10})
    sleep = QuickSleep(cap=0.25)
    client = snappy_client(sandbox, sleep=sleep, max_attempts=20)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client.list_recipients(limit=1), range(15)))

    assert len(results) == 15
    assert outcomes(sandbox, "snappy")["429"] > 0
    assert client.stats.retries > 0


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*RETRIED_FAULTS, "rate_timeout"])
def test_reads_survive_30_percent_faults(sandbox, kind):
    sandbox.configure(faults=fault(kind))
    client = snappy_client(sandbox)

    ids = [r.remote_id for r in client.iter_recipients(page_size=10)]
    for remote_id in ids[:10]:
        assert client.get_recipient(remote_id).remote_id == remote_id
    assert client.list_accounts()

    assert len(ids) == len(set(ids)) >= 50
    assert outcomes(sandbox, "snappy").get(FAULT_OUTCOME[kind], 0) > 0


@pytest.mark.parametrize("kind", ALL_FAULTS)
def test_creates_survive_faults_without_duplicates(sandbox, account_id, kind):
    sandbox.configure(faults=fault(kind))
    client = snappy_client(sandbox)
    people = [new_person(account_id, kind.replace("_", "")) for _ in range(12)]

    created = [client.create_recipient(person) for person in people]

    assert [r.email for r in created] == [p["email"] for p in people]
    creates = sandbox.counters()["creates"]["snappy"]
    assert all(creates[p["email"].lower()] == 1 for p in people)
    assert outcomes(sandbox, "snappy").get(FAULT_OUTCOME[kind], 0) > 0
    if kind in ("rate_timeout", "rate_malformed"):
        assert client.stats.recovered_creates > 0


@pytest.mark.parametrize("kind", ["rate_timeout", "rate_malformed", "rate_truncated", "rate_drop"])
def test_updates_and_deletes_survive_faults(sandbox, account_id, kind):
    client = snappy_client(sandbox)
    people = [client.create_recipient(new_person(account_id, "upd")) for _ in range(8)]
    sandbox.configure(faults=fault(kind))

    for person in people:
        assert client.update_recipient(person.remote_id, {"lastName": "Updated"}).last_name == (
            "Updated"
        )
        client.delete_recipient(person.remote_id)

    sandbox.reset()
    for person in people:
        with pytest.raises(NotFound):
            client.get_recipient(person.remote_id)


def test_reads_are_retried_after_a_500(sandbox):
    """A GET changed nothing: a passing 500 is read again, and the call succeeds."""
    sandbox.configure(faults=fault("rate_500", 0.3))
    client = snappy_client(sandbox, max_attempts=12)

    for _ in range(20):
        client.list_recipients(limit=1)

    assert outcomes(sandbox, "snappy").get("500", 0) > 0


def test_latency_is_recorded(sandbox):
    sandbox.configure(faults={"latency_ms": 40, "only": ["snappy"]})
    client = snappy_client(sandbox)

    client.list_recipients(limit=1)

    assert client.last_call is not None
    assert client.last_call.latency >= 0.04
