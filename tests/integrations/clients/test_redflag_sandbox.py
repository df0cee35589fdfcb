"""RedFlag client against the real sandbox: every variant switch and every fault kind."""

from __future__ import annotations

import logging

import pytest

from integrations.clients import Conflict, Invalid, NotFound, Unauthorized
from tests.integrations.clients.sandbox_helpers import (
    ALL_FAULTS,
    FAULT_OUTCOME,
    RETRIED_FAULTS,
    QuickSleep,
    fault,
    outcomes,
    redflag_client,
    unique_email,
)

pytestmark = pytest.mark.sandbox


def new_person(tag: str = "rf") -> dict:
    return {"email": unique_email(tag), "firstName": "Ada", "lastName": "Lovelace"}


# -- variants -----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["401", "200"])
def test_a_bad_token_is_unauthorized_under_both_variants(sandbox, variant):
    sandbox.configure(variants={"redflag_auth_failure": variant})
    client = redflag_client(sandbox, token="not-the-token")

    with pytest.raises(Unauthorized) as caught:
        client.check_credentials()

    assert caught.value.status == int(variant)


@pytest.mark.parametrize("variant", ["all", "paged"])
def test_the_whole_list_is_read_once_under_both_variants(sandbox, variant):
    sandbox.configure(variants={"redflag_list": variant})
    client = redflag_client(sandbox)

    recipients = list(client.iter_recipients(page_size=7))

    ids = [r.remote_id for r in recipients]
    assert len(ids) == len(set(ids)) >= 50
    requests = outcomes(sandbox, "redflag")["200"]
    assert requests == (1 if variant == "all" else -(-len(ids) // 7))


def test_check_credentials_reports_latency(sandbox):
    sandbox.configure(faults={"latency_ms": 30})

    result = redflag_client(sandbox).check_credentials()

    assert result.latency >= 0.03  # the record holds the real round trip


# -- round trip ---------------------------------------------------------------------------


def test_create_get_update_delete(sandbox):
    client = redflag_client(sandbox)
    person = new_person()

    created = client.create_recipient(
        {**person, "tags": [{"key": "z_team", "value": ["blue", "green"]}]}
    )
    fetched = client.get_recipient(person["email"].upper())  # case-insensitive at RedFlag
    updated = client.update_recipient(created.remote_id, {"title": "Analyst"})
    client.delete_recipient(person["email"])

    assert fetched.remote_id == created.remote_id
    assert fetched.fields["tags"] == [{"key": "z_team", "value": ["blue", "green"]}]
    assert updated.fields["title"] == "Analyst"
    with pytest.raises(NotFound):
        client.get_recipient(created.remote_id)


def test_duplicate_email_is_conflict(sandbox):
    client = redflag_client(sandbox)
    person = new_person()
    client.create_recipient(person)

    with pytest.raises(Conflict):
        client.create_recipient({**person, "email": person["email"].upper()})


def test_illegal_parameters_is_invalid(sandbox):
    client = redflag_client(sandbox)
    someone = next(client.iter_recipients())

    with pytest.raises(Invalid, match="Illegal parameters"):
        client.update_recipient(someone.remote_id, {"mobileCountry": "12345"})


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*RETRIED_FAULTS, "rate_timeout"])
@pytest.mark.parametrize("variant", ["all", "paged"])
def test_reads_survive_30_percent_faults(sandbox, kind, variant):
    sandbox.configure(faults=fault(kind), variants={"redflag_list": variant})
    client = redflag_client(sandbox)

    ids = [r.remote_id for r in client.iter_recipients(page_size=20)]
    for remote_id in ids[:15]:
        assert client.get_recipient(remote_id).remote_id == remote_id

    assert len(ids) == len(set(ids)) >= 50
    assert client.stats.retries > 0  # the faults happened and were absorbed


@pytest.mark.parametrize("kind", ALL_FAULTS)
def test_creates_survive_faults_without_duplicates(sandbox, kind):
    sandbox.configure(faults=fault(kind))
    client = redflag_client(sandbox)
    people = [new_person(kind.replace("_", "")) for _ in range(12)]

    created = [client.create_recipient(person) for person in people]

    assert [r.email for r in created] == [p["email"] for p in people]
    creates = sandbox.counters()["creates"]["redflag"]
    assert all(creates[p["email"].lower()] == 1 for p in people)
    assert outcomes(sandbox, "redflag").get(FAULT_OUTCOME[kind], 0) > 0  # the fault did happen
    if kind in ("rate_timeout", "rate_malformed"):
        # The write landed but its reply was lost: the exists-check found it.
        assert client.stats.recovered_creates > 0


@pytest.mark.parametrize("kind", ["rate_timeout", "rate_malformed", "rate_truncated", "rate_drop"])
def test_updates_and_deletes_survive_faults(sandbox, kind):
    client = redflag_client(sandbox)
    people = [client.create_recipient(new_person("upd")) for _ in range(8)]
    sandbox.configure(faults=fault(kind))

    for person in people:
        assert (
            client.update_recipient(person.email, {"department": "R&D"}).fields["department"]
            == "R&D"
        )
        client.delete_recipient(person.remote_id)

    sandbox.reset()
    for person in people:
        with pytest.raises(NotFound):
            client.get_recipient(person.remote_id)


def test_reads_are_retried_after_a_500(sandbox):
    """A GET changed nothing: a passing 500 is read again, and the call succeeds."""
    sandbox.configure(faults=fault("rate_500", 0.3))
    client = redflag_client(sandbox, max_attempts=12)

    for _ in range(20):
        client.check_credentials()

    assert outcomes(sandbox, "redflag").get("500", 0) > 0


def test_429_waits_honour_retry_after(sandbox):
    sleep = QuickSleep()
    sandbox.configure(faults=fault("rate_429", 0.5))
    client = redflag_client(sandbox, sleep=sleep)

    for _ in range(10):
        client.check_credentials()

    assert sleep.waits and all(wait == 1.0 for wait in sleep.waits)


def test_no_secret_reaches_any_log_over_real_http(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.configure(faults=fault("rate_503"))
    client = redflag_client(sandbox)
    token = sandbox.credentials["redflag"]["token"]

    list(client.iter_recipients())
    with pytest.raises(Unauthorized) as caught:
        redflag_client(sandbox, token="wrong-token-value").check_credentials()

    assert "[redacted]" in caplog.text
    assert token not in caplog.text
    assert "wrong-token-value" not in caplog.text
    assert "wrong-token-value" not in repr(caught.value)
