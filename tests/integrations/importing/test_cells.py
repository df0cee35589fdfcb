"""Validating and normalising cells: emails, phones, countries, dates, booleans, rows."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest

from integrations.catalogue import Provider, catalogue
from integrations.importing import cells, phones
from integrations.importing.cells import (
    CellError,
    RowBuilder,
    clean_boolean,
    clean_country,
    clean_date,
    clean_phone,
    email_error,
)
from tests.helpers.environment import TESTDATA

ISEMAIL = TESTDATA / "isemail" / "tests-flat.json"
PHONES = TESTDATA / "phone-vectors" / "example_numbers.csv"
# Policy (see ``email_error``): what mail systems deliver to is accepted, including addresses
# only a DNS lookup could refute; what RFC 5322 merely tolerates or deprecates is refused.
ACCEPTED_CATEGORIES = {"ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN"}
# isemail (2010) calls ``test@io`` valid because ``io`` was not on its list of top-level
# domains, and ``test@org`` RFC5321_TLD; both are addresses at a TLD, and both are refused.
DEVIATIONS = {"test@io"}


def _isemail_cases():
    if not ISEMAIL.exists():
        return []
    return [
        pytest.param(case["address"], case["category"], id=f"{case['id']}-{case['diagnosis']}")
        for case in json.loads(ISEMAIL.read_text())
    ]


@pytest.mark.parametrize(("address", "category"), _isemail_cases())
def test_each_isemail_address_is_classified_as_its_category_says(address, category):
    # The flat file spells CR and LF as the control pictures ␍ and ␊.
    address = address.replace("␍", "\r").replace("␊", "\n")
    accepted = email_error(address) is None
    expected = category in ACCEPTED_CATEGORIES and address not in DEVIATIONS
    assert accepted == expected, (address, category, email_error(address))


def _phone_cases():
    if not PHONES.exists():
        return []
    with PHONES.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["expected_valid"] == "True"]
    return [pytest.param(row, id=f"{row['region']}-{row['type']}") for row in rows]


@pytest.mark.parametrize("row", _phone_cases())
def test_every_example_phone_normalises_to_its_e164_form(row):
    assert clean_phone(row["international"], None).e164 == row["e164"]
    region = None if row["region"] == "001" else row["region"]
    if region:
        assert clean_phone(row["national"], region).e164 == row["e164"]


def test_each_distinct_number_is_parsed_once(monkeypatch):
    calls = []
    parse = phones.parse

    def counted(value, region):
        calls.append(value)
        return parse(value, region)

    monkeypatch.setattr(phones, "parse", counted)
    cells._parse_phone.cache_clear()
    numbers = ["+44 7911 123456", "07911 123457", "+44 7911 123456", "07911 123457", "n/a", "n/a"]
    outcomes = []
    for number in numbers:
        try:
            outcomes.append(clean_phone(number, "GB").e164)
        except CellError as exc:
            outcomes.append(str(exc))
    assert outcomes == [
        "+447911123456", "+447911123457", "+447911123456", "+447911123457",
        "Not a phone number.", "Not a phone number.",
    ]  # fmt: skip
    assert calls == ["+44 7911 123456", "07911 123457", "n/a"]


def test_a_national_number_without_a_country_asks_for_one():
    with pytest.raises(CellError, match="add a Country column"):
        clean_phone("07911 123456", None)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("USA", "US"),
        ("United Kingdom", "GB"),
        ("uk", "GB"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("Côte d'Ivoire", "CI"),
        ("the Netherlands", "NL"),
    ],
)
def test_countries_become_iso_alpha_2(value, code):
    assert clean_country(value) == code


def test_an_unknown_country_is_refused():
    with pytest.raises(CellError, match="Unknown country"):
        clean_country("Atlantis")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-03", date(2025, 4, 3)),
        ("20250403", date(2025, 4, 3)),
        ("23/04/2025", date(2025, 4, 23)),
        ("04/23/2025", date(2025, 4, 23)),
        ("3 Apr 2025", date(2025, 4, 3)),
        ("2025-04-03T09:00:00Z", date(2025, 4, 3)),
    ],
)
def test_dates_in_the_usual_spellings_are_read(value, expected):
    assert clean_date(value) == expected


def test_a_date_on_its_own_that_either_order_reads_needs_the_order():
    with pytest.raises(CellError, match=r"could be 3 April 2025 \(day first\) or 4 March 2025"):
        clean_date("03/04/2025")
    assert clean_date("03/04/2025", "dmy") == date(2025, 4, 3)
    assert clean_date("03/04/2025", "mdy") == date(2025, 3, 4)


@pytest.mark.parametrize(("value", "expected"), [("Yes", True), ("n", False), ("1", True)])
def test_booleans_in_the_usual_spellings_are_read(value, expected):
    assert clean_boolean(value) is expected


def _builder(provider, paths, date_orders=()):
    fields = [spec for spec in catalogue(provider) if spec.path in set(paths)]
    return RowBuilder(
        provider=provider, fields=fields, paths=paths, width=len(paths), date_orders=date_orders
    )


def test_a_redflag_row_is_normalised_into_the_providers_form():
    builder = _builder(
        Provider.REDFLAG,
        ["email", "firstName", "mobile", "country", "sfHireDate", ""],
        date_orders=["", "", "", "", "dmy", ""],
    )
    result = builder.build(
        ["ann@x.io", " Ann ", "07911 123456", "United Kingdom", "03/04/2025", "?"]
    )
    assert result.errors == {}
    assert result.identifier == "ann@x.io"
    assert result.payload == {
        "email": "ann@x.io",
        "firstName": "Ann",
        "mobile": "7911123456",
        "mobileCountry": "44",
        "country": "GB",
        "sfHireDate": "20250403",
    }


def test_a_snappy_row_uses_e164_phones_iso_dates_and_nested_department():
    builder = _builder(
        Provider.SNAPPY,
        ["email", "mobilePhone", "country", "employee.department", "employee.workingSince"],
    )
    result = builder.build(["bo@x.io", "+1 415 555 2671", "USA", "Sales", "2025-04-03"])
    assert result.errors == {}
    assert result.payload == {
        "email": "bo@x.io",
        "mobilePhone": "+14155552671",
        "country": "US",
        "employee": {"department": "Sales", "workingSince": "2025-04-03"},
    }


def test_a_ragged_row_is_one_error_for_the_whole_row():
    result = _builder(Provider.REDFLAG, ["email", "firstName"]).build(["a@x.io"])
    assert "has 1 cell but the header has 2" in result.errors["row"]


def test_bad_cells_get_a_message_each():
    builder = _builder(Provider.REDFLAG, ["email", "country", "sfHireDate"])
    result = builder.build(["not-an-email", "Atlantis", "someday"])
    assert set(result.errors) == {"0", "1", "2"}


def test_day_and_month_numbers_are_read_as_strptime_reads_them_in_each_order():
    """The hand-written reading of ``D/M/Y`` spellings agrees with ``strptime``'s
    ``%d/%m/%Y`` and ``%m/%d/%Y`` on every day, month and separator, impossible ones
    included."""
    from datetime import datetime

    from integrations.importing.dates import DateColumn

    def strptime(text, fmt):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            return None

    orders = {"dmy": "%d{sep}%m{sep}%Y", "mdy": "%m{sep}%d{sep}%Y"}
    for first in range(34):
        for second in range(34):
            for sep in "/.-":
                for year in ("2024", "2025", "1900"):
                    text = f"{first:02d}{sep}{second:02d}{sep}{year}"
                    for order, fmt in orders.items():
                        try:
                            ours = DateColumn(order, "").day(text)[0]
                        except ValueError:
                            ours = None
                        assert ours == strptime(text, fmt.format(sep=sep)), (text, order)
