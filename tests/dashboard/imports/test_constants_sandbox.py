"""Snappy imports of a plain HR export, confirmed and sent to the sandbox over HTTP: one account
for every row, and accounts named as people know them. The sandbox answers 422 "Invalid account
ids" for anything but an account id, so a name that reached it unresolved would fail the job.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports import services
from dashboard.imports.models import Import
from dashboard.imports.selectors import import_rows
from integrations.catalogue import catalogue
from integrations.clients import SnappyClient, client_for
from integrations.models import Connection, JobStatus, SyncItem
from integrations.sync.engine import job_execute
from tests.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.SYNC_CLIENT_OPTIONS = {"read_timeout": 2.0, "backoff_base": 0.02, "total_timeout": 15}
    settings.RECIPIENT_CLIENT_OPTIONS = {
        "read_timeout": 2.0, "max_attempts": 1, "backoff_base": 0.02, "total_timeout": 5,
    }  # fmt: skip
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def gifts(sandbox) -> Connection:
    creds = sandbox.credentials["snappy"]
    return ConnectionFactory(
        name="Gifts",
        provider="snappy",
        base_url=f"{sandbox.url}/snappy",
        plain_secret=creds["api_key"],
        options={"company_id": creds["company_id"]},
    )


@pytest.fixture
def account_ids(sandbox) -> dict[str, str]:
    """The sandbox's accounts: name → id."""
    return {a["name"]: a["id"] for a in sandbox.state()["snappy"]["accounts"]}


def emails(n: int) -> list[str]:
    tag = uuid.uuid4().hex[:10]
    return [f"p{i}.{tag}@example.com" for i in range(n)]


def upload(conn: Connection, user, text: str) -> Import:
    data = SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")
    return services.import_create(connection=conn, upload=data, user=user)


def send(run: Import, user) -> dict[str, dict]:
    """Confirm, run the job, and read back each created recipient (by email) from Snappy."""
    job = services.import_confirm(import_run=run, user=user)
    job_execute(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    reader = client_for(
        "snappy",
        base_url=run.connection.base_url,
        credentials={"api_key": _secret(run.connection)},
        settings=run.connection.options,
        enabled_fields={spec.path for spec in catalogue("snappy")},
        rate_limit=None,
    )
    assert isinstance(reader, SnappyClient)
    try:
        return {
            item.identifier: dict(reader.get_recipient(item.remote_id).fields)
            for item in SyncItem.objects.filter(job=job)
        }
    finally:
        reader.close()


def _secret(conn: Connection) -> str:
    assert conn.secret is not None
    return conn.secret.reveal()


def test_a_constant_account_and_country_create_everyone_at_snappy(
    sandbox, gifts, account_ids, admin_user
):
    people = emails(3)
    text = "Email,First name,Last name\r\n" + "".join(
        f"{email},Name{i},Family{i}\r\n" for i, email in enumerate(people)
    )
    run = upload(gifts, admin_user, text)
    assert run.n_create == 0 and run.n_invalid == 3  # Snappy needs Country, Accounts

    onboarding = account_ids["Onboarding kits"]
    services.import_set_constants(
        import_run=run, values={"accounts": onboarding, "country": "Germany"}, user=admin_user
    )
    run.refresh_from_db()
    assert run.n_create == 3, [row.errors for row in import_rows(import_run=run)]

    created = send(run, admin_user)

    assert set(created) == set(people)
    for fields in created.values():
        assert fields["accounts"] == [onboarding]
        assert fields["country"] == "DE"


def test_account_names_are_sent_as_ids_snappy_accepts(sandbox, gifts, account_ids, admin_user):
    people = emails(3)
    run = upload(
        gifts,
        admin_user,
        "Email,First name,Country,Accounts\r\n"
        f"{people[0]},Kim,Germany,Client gifting\r\n"
        f"{people[1]},Ann,France,Sales incentives; Employee recognition\r\n"
        f"{people[2]},Bo,Spain,holiday GIFTS 2026\r\n",
    )
    found = {row.identifier: row for row in import_rows(import_run=run)}
    assert [row.kind for row in found.values()] == ["create"] * 3, [
        row.errors for row in found.values()
    ]
    expected = {
        people[0]: [account_ids["Client gifting"]],
        people[1]: [account_ids["Sales incentives"], account_ids["Employee recognition"]],
        people[2]: [account_ids["Holiday gifts 2026"]],
    }
    assert {email: row.payload["accounts"] for email, row in found.items()} == expected

    created = send(run, admin_user)

    assert {email: fields["accounts"] for email, fields in created.items()} == expected


def test_an_unreachable_account_list_sends_no_account_unchecked(sandbox, gifts, admin_user):
    sandbox.configure(faults={"rate_503": 1.0, "only": ["snappy"]})
    [email] = emails(1)
    text = f"Email,First name,Country,Accounts\r\n{email},Kim,DE,Client gifting\r\n"
    run = upload(gifts, admin_user, text)
    row = import_rows(import_run=run).get()
    assert row.kind == "invalid"
    assert row.errors["3"].startswith("Snappy's list of accounts could not be read")
    assert run.n_to_send == 0
