"""Values for every row and Snappy account names in an import, against Snappy's account list.

Snappy's ``/v2/accounts`` is faked with pytest-httpx, which fails a test on any request it was
not told to expect: the preview reads the list, and nothing else is asked of the provider.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow, ImportStatus, RememberedMapping
from dashboard.imports.selectors import import_rows
from integrations.models import Connection, FieldSetting, MirroredRecipient
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

SN = "https://snappy.test"
ACCOUNTS_URL = re.compile(rf"{re.escape(SN)}/v2/accounts\?.*")
ACCOUNTS = [
    {"id": "a1recog", "name": "Employee recognition"},
    {"id": "a2gifts", "name": "Client gifting"},
    {"id": "a3onbrd", "name": "Onboarding kits"},
]
HEADER = "Email,First name,Country,Accounts"
FAST_CLIENT = {
    "connect_timeout": 1, "read_timeout": 0.5, "max_attempts": 1, "total_timeout": 3,
    "backoff_base": 0.01, "backoff_cap": 0.01,
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.RECIPIENT_CLIENT_OPTIONS = FAST_CLIENT
    cache.clear()  # the page's copy of a provider list must not outlive a test
    yield
    cache.clear()


@pytest.fixture
def gifts(db) -> Connection:
    """Snappy, with its accounts and country enabled (as by default) and the mobile phone."""
    connection = ConnectionFactory(name="Gifts", provider="snappy", base_url=SN)
    FieldSetting.objects.create(connection=connection, path="mobilePhone", enabled=True)
    return connection


def accounts(httpx_mock, results=ACCOUNTS) -> None:
    httpx_mock.add_response(
        method="GET", url=ACCOUNTS_URL, json={"results": results}, is_reusable=True
    )


def upload(connection: Connection, user, text: str) -> Import:
    data = SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")
    return services.import_create(connection=connection, upload=data, user=user)


def rows(run: Import) -> dict[int, ImportRow]:
    return {row.number: row for row in import_rows(import_run=run)}


# -- account names in cells ------------------------------------------------------------------------


def test_account_names_are_stored_as_the_ids_snappy_takes(gifts, admin_user, httpx_mock):
    accounts(httpx_mock)
    run = upload(
        gifts,
        admin_user,
        "Email,First name,Country,Accounts\r\n"
        "kim@x.io,Kim,Germany,Client gifting\r\n"
        "ann@x.io,Ann,France,Onboarding kits; Employee recognition\r\n"
        "bo@x.io,Bo,Spain,a2gifts\r\n",
    )
    assert run.mapped_paths[3] == "accounts"
    found = rows(run)
    assert [found[n].kind for n in (2, 3, 4)] == ["create"] * 3, [r.errors for r in found.values()]
    assert found[2].payload["accounts"] == ["a2gifts"]
    assert found[3].payload["accounts"] == ["a3onbrd", "a1recog"]
    assert found[4].payload["accounts"] == ["a2gifts"]


def test_an_unknown_account_name_is_a_cell_error_listing_the_accounts(
    gifts, admin_user, httpx_mock
):
    accounts(httpx_mock)
    run = upload(gifts, admin_user, f"{HEADER}\r\nkim@x.io,Kim,DE,Sales\r\n")
    row = import_rows(import_run=run).get()
    assert row.kind == "invalid"
    assert row.errors["3"] == (
        "“Sales” is not among Snappy's accounts: “Employee recognition”, “Client gifting”, "
        "“Onboarding kits”. Write a name or an id as it lists them."
    )
    assert run.n_to_send == 0


def test_account_names_that_differ_only_in_capitals(gifts, admin_user, httpx_mock):
    accounts(httpx_mock, [*ACCOUNTS, {"id": "a4gifts", "name": "Client Gifting"}])
    run = upload(
        gifts,
        admin_user,
        "Email,First name,Country,Accounts\r\n"
        "a@x.io,A,DE,Client Gifting\r\n"
        "b@x.io,B,DE,client gifting\r\n"
        "c@x.io,C,DE,onboarding KITS\r\n",
    )
    found = rows(run)
    assert found[2].payload["accounts"] == ["a4gifts"]
    assert found[3].kind == "invalid"
    assert "“Client gifting” (a2gifts), “Client Gifting” (a4gifts)" in found[3].errors["3"]
    assert found[4].payload["accounts"] == ["a3onbrd"]


def test_an_unreadable_account_list_refuses_the_account_cells_and_nothing_else(
    gifts, admin_user, httpx_mock
):
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=ACCOUNTS_URL, is_reusable=True)
    MirroredRecipient.objects.create(
        connection=gifts, remote_id="r-kim", email="kim@x.io", email_lower="kim@x.io",
        record={"id": "r-kim", "email": "kim@x.io", "firstName": "Kimberly"},
        last_seen_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    run = upload(
        gifts,
        admin_user,
        "Email,First name,Country,Accounts\r\nkim@x.io,Kim,,\r\nann@x.io,Ann,DE,Client gifting\r\n",
    )
    found = rows(run)
    assert found[2].kind == "update"  # needs no account: checked and sent as usual
    assert found[3].kind == "invalid"
    message = found[3].errors["3"]
    assert message.startswith("Snappy's list of accounts could not be read, so no value")
    assert "unreachable" in message and "Refresh the preview" in message
    assert "accounts" not in found[3].payload


# -- values for every row ------------------------------------------------------------------------


def test_a_constant_account_and_country_turn_a_plain_hr_export_into_creates(
    gifts, admin_user, httpx_mock
):
    accounts(httpx_mock)
    run = upload(
        gifts, admin_user, "Email,First name,Country\r\nkim@x.io,Kim,\r\nann@x.io,Ann,France\r\n"
    )
    assert run.n_create == 0 and run.n_invalid == 2  # needs Country, Accounts

    services.import_set_constants(
        import_run=run, values={"accounts": "a3onbrd", "country": "Germany"}, user=admin_user
    )

    run.refresh_from_db()
    assert run.constants == {"accounts": "a3onbrd", "country": "Germany"}
    assert (run.status, run.n_create) == (ImportStatus.PREVIEWED, 2)
    found = rows(run)
    assert found[2].payload == {
        "email": "kim@x.io", "firstName": "Kim", "accounts": ["a3onbrd"], "country": "DE",
    }  # fmt: skip
    assert found[3].payload["country"] == "FR"  # the row's own cell wins
    event = AuditEvent.objects.get(action="import.constants_changed")
    assert event.changes == {
        "Accounts": {"before": None, "after": "Onboarding kits (a3onbrd)"},
        "Country": {"before": None, "after": "Germany"},
    }


def test_a_constant_country_reads_national_phone_numbers(gifts, admin_user, httpx_mock):
    accounts(httpx_mock)
    text = "Email,First name,Mobile phone\r\nkim@x.io,Kim,0151 23456789\r\n"
    run = upload(gifts, admin_user, text)
    assert "No country for this number" in import_rows(import_run=run).get().errors["2"]
    services.import_set_constants(
        import_run=run, values={"country": "DE", "accounts": "a1recog"}, user=admin_user
    )
    row = import_rows(import_run=run).get()
    assert row.kind == "create", row.errors
    assert row.payload["mobilePhone"] == "+4915123456789"
    assert row.payload["country"] == "DE"


def test_an_invalid_constant_is_refused_and_nothing_is_saved(gifts, admin_user, httpx_mock):
    accounts(httpx_mock)
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    generation = run.generation
    with pytest.raises(services.ConstantsError) as refused:
        services.import_set_constants(
            import_run=run, values={"country": "Atlantis", "accounts": "Sales"}, user=admin_user
        )
    assert set(refused.value.errors) == {"country", "accounts"}
    assert refused.value.errors["country"].startswith("Unknown country “Atlantis”")
    run.refresh_from_db()
    assert run.constants == {} and run.generation == generation
    assert not AuditEvent.objects.filter(action="import.constants_changed").exists()
    assert not RememberedMapping.objects.filter(connection=gifts, options__has_key="constants")


def test_constants_are_remembered_for_the_connections_next_import(gifts, admin_user, httpx_mock):
    accounts(httpx_mock)
    first = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    services.import_set_constants(
        import_run=first, values={"accounts": "a1recog", "country": "GB"}, user=admin_user
    )
    second = upload(gifts, admin_user, "Email,First name\r\nann@x.io,Ann\r\n")
    assert second.constants == {"accounts": "a1recog", "country": "GB"}
    assert second.n_create == 1


# -- the page ------------------------------------------------------------------------------------


def test_the_page_offers_snappys_accounts_by_name_and_shows_names_beside_ids(
    gifts, admin_user, admin_client, httpx_mock
):
    accounts(httpx_mock)
    run = upload(gifts, admin_user, f"{HEADER}\r\nkim@x.io,Kim,DE,Client gifting\r\n")
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert '<select name="constant-accounts"' in page
    assert '<option value="a2gifts">Client gifting</option>' in page
    assert "<strong>Accounts</strong> <ins>Client gifting (a2gifts)</ins>" in page
    assert "Column “Accounts” gives it; rows whose cell is empty get this." in page


def test_the_constants_form_saves_and_rebuilds_the_preview(
    gifts, admin_user, admin_client, httpx_mock
):
    accounts(httpx_mock)
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "No column gives Country, Accounts" in page and "<details" in page

    response = admin_client.post(
        f"/imports/{run.pk}/constants/",
        {"constant-accounts": "a2gifts", "constant-country": "Germany", "constant-lastName": ""},
    )

    assert response.status_code == 302 and response["Location"] == f"/imports/{run.pk}/"
    run.refresh_from_db()
    assert run.constants == {"accounts": "a2gifts", "country": "Germany"}
    assert run.n_create == 1
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert '<option value="a2gifts" selected>Client gifting</option>' in page
    assert "Accounts: Client gifting (a2gifts)" in page


def test_a_bad_value_in_the_form_is_shown_on_its_field_and_nothing_is_saved(
    gifts, admin_user, admin_client, httpx_mock
):
    accounts(httpx_mock)
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")

    response = admin_client.post(
        f"/imports/{run.pk}/constants/",
        {"constant-accounts": "a2gifts", "constant-country": "Atlantis"},
    )

    assert response.status_code == 422
    page = response.content.decode()
    assert "Nothing was saved. Correct the values marked below." in page
    assert (
        '<ul class="errorlist" id="id_constant-country_error"><li>Unknown country “Atlantis”'
    ) in page
    assert 'aria-invalid="true"' in page
    run.refresh_from_db()
    assert run.constants == {}


def test_an_account_snappy_does_not_list_is_refused_by_the_form(
    gifts, admin_user, admin_client, httpx_mock
):
    accounts(httpx_mock)
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    response = admin_client.post(f"/imports/{run.pk}/constants/", {"constant-accounts": "zzz"})
    assert response.status_code == 422
    assert "Select a valid choice." in response.content.decode()
    run.refresh_from_db()
    assert run.constants == {}


def test_a_nul_byte_in_a_value_is_refused_and_nothing_saved(gifts, admin_user, admin_client):
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    response = admin_client.post(f"/imports/{run.pk}/constants/", {"constant-lastName": "A\x00"})
    assert response.status_code == 400  # RefuseNulMiddleware, before the view
    run.refresh_from_db()
    assert run.constants == {}


@pytest.mark.parametrize("role", ["support", "manager"])
def test_only_an_admin_sets_values_for_every_row(role, role_clients, gifts, admin_user, httpx_mock):
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    response = role_clients[role].post(f"/imports/{run.pk}/constants/", {"constant-country": "DE"})
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.constants == {}


def test_when_the_account_list_cannot_be_read_the_page_says_so_and_takes_typed_text(
    gifts, admin_user, admin_client, httpx_mock
):
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=ACCOUNTS_URL)
    run = upload(gifts, admin_user, "Email,First name\r\nkim@x.io,Kim\r\n")
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert '<input type="text" name="constant-accounts"' in page
    assert "Snappy&#x27;s list of accounts could not be read" in page

    accounts(httpx_mock)  # Snappy answers again: the typed name is checked and kept
    response = admin_client.post(
        f"/imports/{run.pk}/constants/",
        {"constant-accounts": "Client gifting", "constant-country": "DE"},
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.constants == {"accounts": "Client gifting", "country": "DE"}
    assert import_rows(import_run=run).get().payload["accounts"] == ["a2gifts"]


def test_any_enabled_field_may_have_a_value_for_every_row(redflag, admin_user):
    text = "email,firstName,lastName,department\r\na@x.io,A,B,Sales\r\nb@x.io,C,D,\r\n"
    run = upload(redflag, admin_user, text)
    services.import_set_constants(import_run=run, values={"department": "Ops"}, user=admin_user)
    found = rows(run)
    assert found[2].payload["department"] == "Sales"
    assert found[3].payload["department"] == "Ops"
    with pytest.raises(services.ConstantsError, match="cannot have a value for every row"):
        services.import_set_constants(import_run=run, values={"email": "x@x.io"}, user=admin_user)
