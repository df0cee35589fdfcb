"""Values for every row and values the provider defines by name, as a row is built.

A Snappy create needs accounts by id; an HR export names them (or names none). These tests
build rows as the preview does and check the payload that would be sent.
"""

from __future__ import annotations

import pytest

from integrations.catalogue import Provider, catalogue
from integrations.importing.building import BuilderSpec, RowPreviewer
from integrations.importing.cells import RowBuilder
from integrations.importing.compare import CREATE, INVALID
from integrations.importing.lookups import SHOWN_NAMES, Lookup

ACCOUNTS = (
    ("Employee recognition", "a1recog"),
    ("Client gifting", "a2gifts"),
    ("Onboarding kits", "a3onbrd"),
)
SNAPPY = tuple(catalogue(Provider.SNAPPY))


def snappy(paths, *, constants=(), accounts=ACCOUNTS, unreadable=()) -> RowBuilder:
    return BuilderSpec(
        provider=Provider.SNAPPY,
        fields=SNAPPY,
        paths=tuple(paths),
        width=len(paths),
        default_region=None,
        constants=tuple(constants),
        lookups=(("accounts", tuple(accounts)),) if accounts is not None else (),
        unreadable=tuple(unreadable),
    ).builder()


def previewed(builder_spec: BuilderSpec, cells: list[str]):
    kind, payload, errors, *_ = RowPreviewer(builder_spec).preview([cells], {})[0]
    return kind, payload, errors


# -- account names -----------------------------------------------------------------------------


def test_account_names_in_a_cell_are_sent_as_the_ids_snappy_takes():
    builder = snappy(["email", "firstName", "country", "accounts"])
    result = builder.build(["kim@x.io", "Kim", "DE", "Client gifting; Onboarding kits"])
    assert result.errors == {}
    assert result.payload["accounts"] == ["a2gifts", "a3onbrd"]


def test_an_account_id_written_as_such_is_sent_as_it_is_and_each_account_once():
    builder = snappy(["email", "accounts"])
    result = builder.build(["kim@x.io", "a1recog, Employee recognition | a2gifts"])
    assert result.errors == {}
    assert result.payload["accounts"] == ["a1recog", "a2gifts"]


def test_an_unknown_account_name_is_a_cell_error_that_lists_the_accounts_that_exist():
    builder = snappy(["email", "accounts"])
    result = builder.build(["kim@x.io", "Client gifting; Sales"])
    assert "accounts" not in result.payload
    message = result.errors["1"]
    assert message.startswith("“Sales” is not among Snappy's accounts:")
    for name, _ in ACCOUNTS:
        assert f"“{name}”" in message


def test_every_unknown_name_of_a_cell_is_named_once():
    result = snappy(["email", "accounts"]).build(["kim@x.io", "Sales; Marketing; Sales"])
    assert result.errors["1"].startswith("“Sales” and “Marketing” are not among")


def test_a_long_list_of_accounts_is_cut_short_in_the_message():
    many = tuple((f"Account {n:02d}", f"id{n:02d}") for n in range(40))
    result = snappy(["email", "accounts"], accounts=many).build(["kim@x.io", "Nope"])
    message = result.errors["1"]
    assert "“Account 09”" in message and "“Account 10”" not in message
    assert f"and {40 - SHOWN_NAMES} more" in message


def test_a_name_in_other_capitals_resolves_when_it_fits_one_account():
    result = snappy(["email", "accounts"]).build(["kim@x.io", "client  GIFTING"])
    assert result.errors == {}
    assert result.payload["accounts"] == ["a2gifts"]


def test_names_that_differ_only_in_capitals_resolve_only_when_written_exactly():
    accounts = (*ACCOUNTS, ("Client Gifting", "a4gifts"))
    builder = snappy(["email", "accounts"], accounts=accounts)

    assert builder.build(["a@x.io", "Client Gifting"]).payload["accounts"] == ["a4gifts"]
    assert builder.build(["b@x.io", "Client gifting"]).payload["accounts"] == ["a2gifts"]
    ambiguous = builder.build(["c@x.io", "client gifting"])
    assert "accounts" not in ambiguous.payload
    message = ambiguous.errors["1"]
    assert "“Client gifting” (a2gifts)" in message and "“Client Gifting” (a4gifts)" in message
    assert "differ only in capitals" in message


def test_two_accounts_of_the_same_name_need_the_id():
    lookup = Lookup((("Gifts", "g1"), ("Gifts", "g2")), label="Accounts", provider=Provider.SNAPPY)
    with pytest.raises(ValueError, match=r"2 accounts named “Gifts” \(ids g1, g2\)"):
        lookup.resolve("Gifts")
    assert lookup.resolve("g2") == "g2"


def test_an_unreadable_list_refuses_every_account_cell_with_its_reason():
    reason = "Snappy's accounts could not be read (Snappy is unreachable): refresh the preview."
    builder = snappy(["email", "accounts"], accounts=None, unreadable=(("accounts", reason),))
    for cell in ("Client gifting", "a1recog"):
        result = builder.build(["kim@x.io", cell])
        assert result.errors == {"1": reason}
        assert "accounts" not in result.payload


# -- values for every row ------------------------------------------------------------------------


def test_a_constant_account_and_country_make_a_plain_hr_row_a_snappy_create():
    spec = BuilderSpec(
        provider=Provider.SNAPPY,
        fields=SNAPPY,
        paths=("email", "firstName"),
        width=2,
        default_region=None,
        constants=(("accounts", "a3onbrd"), ("country", "Germany")),
        lookups=(("accounts", ACCOUNTS),),
    )
    kind, payload, errors = previewed(spec, ["kim@x.io", "Kim"])
    assert (kind, errors) == (CREATE, "{}")
    assert '"accounts":["a3onbrd"]' in payload and '"country":"DE"' in payload


def test_without_the_constants_the_same_row_is_refused():
    spec = BuilderSpec(
        provider=Provider.SNAPPY, fields=SNAPPY, paths=("email", "firstName"), width=2,
        default_region=None,
    )  # fmt: skip
    kind, _, errors = previewed(spec, ["kim@x.io", "Kim"])
    assert kind == INVALID and "needs Country, Accounts" in errors


def test_a_rows_own_cell_wins_over_the_constant_and_an_empty_cell_takes_it():
    builder = snappy(
        ["email", "country", "accounts"],
        constants=[("country", "FR"), ("accounts", "Onboarding kits")],
    )
    own = builder.build(["a@x.io", "Spain", "Client gifting"])
    empty = builder.build(["b@x.io", " ", ""])
    assert (own.payload["country"], own.payload["accounts"]) == ("ES", ["a2gifts"])
    assert (empty.payload["country"], empty.payload["accounts"]) == ("FR", ["a3onbrd"])


def test_a_rows_invalid_cell_is_not_replaced_by_the_constant():
    builder = snappy(["email", "country"], constants=[("country", "FR")])
    result = builder.build(["a@x.io", "Atlantis"])
    assert "1" in result.errors and "country" not in result.payload


def test_the_constant_country_is_where_national_phone_numbers_are_read():
    builder = snappy(["email", "mobilePhone"], constants=[("country", "Germany")])
    result = builder.build(["a@x.io", "0151 23456789"])
    assert result.errors == {}
    assert result.payload["mobilePhone"] == "+4915123456789"


def test_an_invalid_constant_is_named_by_constant_errors_and_on_every_row_that_takes_it():
    builder = snappy(
        ["email", "country"], constants=[("country", "Atlantis"), ("accounts", "Sales")]
    )
    assert set(builder.constant_errors()) == {"country", "accounts"}
    assert "Unknown country “Atlantis”" in builder.constant_errors()["country"]
    assert "“Sales” is not among Snappy's accounts" in builder.constant_errors()["accounts"]
    result = builder.build(["a@x.io", ""])
    assert result.errors["row"].startswith("Country for every row (“Atlantis”): Unknown country")
    assert "Accounts for every row (“Sales”)" in result.errors["row"]


def test_a_constant_for_an_identifying_field_is_ignored():
    builder = snappy(["firstName", "email"], constants=[("email", "all@x.io")])
    result = builder.build(["Kim", ""])
    assert "email" not in result.payload
    assert result.errors == {"row": "No identifier: fill in the email (or id) column."}
