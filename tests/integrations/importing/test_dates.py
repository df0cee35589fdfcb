"""Dates by column: the spellings read, what a column's values prove, and each cell read in
its column's order (an ambiguous date is never guessed)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from integrations.catalogue import Provider, catalogue
from integrations.importing.cells import RowBuilder
from integrations.importing.dates import (
    CHOSEN,
    DAY_FIRST,
    FROM_FILE,
    MONTH_FIRST,
    REMEMBERED,
    SERIAL,
    DateColumn,
    column_evidence,
    decide,
    describe,
    entry_question,
    entry_reading,
    entry_with_evidence,
)


def evidence_of(*values: str):
    counts = Counter(values)
    first: dict[str, int] = {}
    for row, value in enumerate(values, start=2):
        first.setdefault(value, row)
    return column_evidence((value, (n, first[value])) for value, n in counts.items())


def read(value: str, reading: str = "") -> date:
    return DateColumn(reading, "").day(value)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2002-08-14", date(2002, 8, 14)),
        ("2002/08/14", date(2002, 8, 14)),
        ("2002-08-14 00:00:00", date(2002, 8, 14)),
        ("2002-08-14 00:00:00.000", date(2002, 8, 14)),
        ("2002-08-14T00:00:00Z", date(2002, 8, 14)),
        ("2002-08-14T00:00:00+02:00", date(2002, 8, 14)),
        ("2002-08-14T00:00:00-0500", date(2002, 8, 14)),
        ("20020814", date(2002, 8, 14)),
        ("14 Aug 2002", date(2002, 8, 14)),
        ("14 August 2002", date(2002, 8, 14)),
        ("Aug 14, 2002", date(2002, 8, 14)),
        ("August 14 2002", date(2002, 8, 14)),
        ("14-Aug-2002", date(2002, 8, 14)),
        ("14-AUG-02", date(2002, 8, 14)),
        ("14th August 2002", date(2002, 8, 14)),
        ("Sept 14, 2002", date(2002, 9, 14)),
        ("Wed, 14 Aug 2002", date(2002, 8, 14)),
        ("2002-Aug-14", date(2002, 8, 14)),
        ("31/12/2025", date(2025, 12, 31)),
        ("12/31/2025", date(2025, 12, 31)),
        ("31.12.2025 00:00", date(2025, 12, 31)),
        ("12/31/2025 12:00:00 AM", date(2025, 12, 31)),
        ("05/05/2025", date(2025, 5, 5)),  # the same day in either order
    ],
)
def test_unambiguous_spellings_are_read_in_any_column(text, expected):
    assert read(text) == expected


@pytest.mark.parametrize(
    "text",
    ["next monday", "2025-13-01", "31/02/2020", "2025", "14 Foo 2002", "25:00", "12/31/2025 25:00"],
)
def test_what_is_no_date_says_so_with_the_spelling_to_use(text):
    with pytest.raises(ValueError, match=f"Not a date: “{text}”. Use YYYY-MM-DD"):
        read(text, DAY_FIRST)


def test_two_digit_years_are_at_most_ten_years_ahead():
    """The rule: the year ending in those digits that is at most ten years from now (in
    2026, 36 is 2036 and 37 is 1937)."""
    limit = date.today().year + 10
    assert read("14/08/85") == date(1985, 8, 14)
    assert read("14-Aug-25") == date(2025, 8, 14)
    assert read(f"01/01/{limit % 100:02d}", DAY_FIRST).year == limit
    assert read(f"01/01/{(limit + 1) % 100:02d}", DAY_FIRST).year == limit + 1 - 100


def test_an_ambiguous_date_is_refused_until_the_column_has_an_order():
    with pytest.raises(ValueError, match="no date in this column tells which"):
        read("03/02/2025")
    assert read("03/02/2025", DAY_FIRST) == date(2025, 2, 3)
    assert read("03/02/2025", MONTH_FIRST) == date(2025, 3, 2)


def test_one_deciding_value_decides_the_whole_column():
    evidence = evidence_of("03/02/2025", "04/05/2025", "12/31/2025", "2025-01-01")
    assert decide(evidence) == (MONTH_FIRST, FROM_FILE)
    assert not evidence.mixed
    entry = entry_with_evidence({"path": "sfHireDate"}, evidence)
    column = DateColumn(entry_reading(entry), "YYYYMMDD")
    assert column.read("03/02/2025") == ("20250302", "")  # 2 March, as 12/31 proves
    assert column.read("12/31/2025") == ("20251231", "")
    assert entry_question(entry) == ""


def test_a_column_of_only_ambiguous_dates_asks_and_the_choice_decides():
    evidence = evidence_of("03/02/2025", "04/05/2025", "2025-01-01")
    assert decide(evidence) == ("", "")
    entry = entry_with_evidence({"path": "sfHireDate"}, evidence)
    assert entry_question(entry) == "03/02/2025"
    with pytest.raises(ValueError, match=r"could be 3 February 2025 \(day first\) or 2 March 2025"):
        DateColumn(entry_reading(entry), "YYYYMMDD").read("03/02/2025")
    chosen = entry_with_evidence({**entry, "date_order": MONTH_FIRST, "date_how": CHOSEN}, evidence)
    assert (chosen["date_order"], chosen["date_how"]) == (MONTH_FIRST, CHOSEN)
    assert entry_question(chosen) == ""
    assert DateColumn(entry_reading(chosen), "YYYYMMDD").read("03/02/2025")[0] == "20250302"
    remembered = entry_with_evidence(entry, evidence, remembered=DAY_FIRST)
    assert (remembered["date_order"], remembered["date_how"]) == (DAY_FIRST, REMEMBERED)


def test_the_file_proves_over_an_order_remembered_from_another_file():
    evidence = evidence_of("03/02/2025", "31/12/2025")
    assert decide(evidence, remembered=MONTH_FIRST) == (DAY_FIRST, FROM_FILE)


def test_a_column_that_mixes_both_orders_reads_the_majority_and_refuses_the_doubtful():
    evidence = evidence_of("31/12/2025", "13/01/2025", "12/31/2025", "03/02/2025", "05/05/2025")
    assert evidence.mixed
    assert decide(evidence) == (DAY_FIRST, FROM_FILE)
    entry = entry_with_evidence({"path": "sfHireDate"}, evidence)
    assert entry_reading(entry) == "dmy mixed"
    column = DateColumn(entry_reading(entry), "YYYYMMDD")
    assert column.read("31/12/2025")[0] == "20251231"
    assert column.read("05/05/2025")[0] == "20250505"  # the same in either order
    with pytest.raises(ValueError) as ambiguous:
        column.read("03/02/2025")
    assert "this column mixes both orders (it is read day first)" in str(ambiguous.value)
    with pytest.raises(ValueError) as other:
        column.read("12/31/2025")
    assert str(other.value) == (
        "“12/31/2025” can only be month first (31 December 2025), but this column is read day "
        "first (it mixes both orders): write this date as 2025-12-31."
    )


def test_a_tie_between_the_orders_goes_to_the_first_proven():
    assert decide(evidence_of("12/31/2025", "31/12/2025")) == (MONTH_FIRST, FROM_FILE)


def test_midnight_is_dropped_silently_and_another_time_is_a_warning():
    column = DateColumn("", "YYYY-MM-DD")
    for text in ("2002-08-14 00:00:00", "2002-08-14T00:00:00Z", "2002-08-14 00:00"):
        assert column.read(text) == ("2002-08-14", "")
    value, warning = column.read("2002-08-14 09:30:00")
    assert value == "2002-08-14"
    assert warning == (
        "“2002-08-14 09:30:00” has a time of day (09:30:00), which a date field does not "
        "hold: 14 August 2002 is sent without it."
    )
    assert column.read("2002-08-14T17:45Z")[1].startswith("“2002-08-14T17:45Z” has a time")
    assert "(13:05)" in DateColumn(MONTH_FIRST, "").read("8/14/2002 1:05 PM")[1]


def test_excel_serials_are_read_in_a_column_of_plausible_serials_only():
    serials = evidence_of("45678", "45679.5", "2025-01-01")
    assert serials.serials
    entry = entry_with_evidence({"path": "sfHireDate"}, serials)
    assert entry_reading(entry) == SERIAL
    column = DateColumn(SERIAL, "YYYY-MM-DD")
    assert column.read("45678") == ("2025-01-21", "")
    value, warning = column.read("45679.5")
    assert value == "2025-01-22" and "(12:00)" in warning
    with pytest.raises(ValueError, match="Not a date"):
        column.read("123")  # 1900: not a plausible date of an HR file
    # Beside day/month numbers, a number is not taken for a serial.
    assert not evidence_of("45678", "03/02/2025").serials
    with pytest.raises(ValueError, match="Not a date: “45678”"):
        DateColumn(DAY_FIRST, "").read("45678")


def test_a_columns_evidence_counts_rows_by_what_their_values_prove():
    evidence = column_evidence([("03/02/2025", (500, 2)), ("31/12/2025", (1, 900))])
    assert evidence.rows == {"numeric": 501, "either": 500, DAY_FIRST: 1}
    assert evidence.examples[DAY_FIRST] == ("31/12/2025", 900)
    assert decide(evidence) == (DAY_FIRST, FROM_FILE)  # one value decides, however few


def test_the_mapping_table_description_shows_a_value_of_the_file_each_way():
    evidence = evidence_of("03/02/2025", "12/31/2025")
    entry = entry_with_evidence({"path": "sfHireDate"}, evidence)
    described = describe(entry)
    assert described.example == "03/02/2025 → 2 March 2025"
    assert described.reason == "Read month first: “12/31/2025” (row 3) can only be month first."
    assert [(c.order, c.example, c.chosen) for c in described.choices] == [
        (DAY_FIRST, "03/02/2025 → 3 February 2025", False),
        (MONTH_FIRST, "03/02/2025 → 2 March 2025", True),
    ]
    undecided = describe(entry_with_evidence({"path": "sfHireDate"}, evidence_of("03/02/2025")))
    assert undecided.question == "03/02/2025" and undecided.example == ""
    assert "choose how the column writes its dates" in undecided.reason
    iso = describe(entry_with_evidence({"path": "sfHireDate"}, evidence_of("2025-03-02")))
    assert iso.example == "2025-03-02 → 2 March 2025" and iso.choices == ()
    assert not describe({"path": "sfHireDate"}).read


def _builder(paths, date_orders):
    fields = [spec for spec in catalogue(Provider.REDFLAG) if spec.path in set(paths)]
    from integrations.importing.mapping import entry_member_specs

    for spec in catalogue(Provider.REDFLAG):
        fields += [member for member in entry_member_specs(spec) if member.path in set(paths)]
    return RowBuilder(
        provider=Provider.REDFLAG,
        fields=fields,
        paths=paths,
        width=len(paths),
        date_orders=date_orders,
    )


def test_a_row_reads_each_date_column_in_its_own_order_and_keeps_time_warnings():
    builder = _builder(
        ["email", "sfHireDate", "education.school", "education.start"],
        ["", DAY_FIRST, "", MONTH_FIRST],
    )
    result = builder.build(["a@x.io", "03/02/2025 10:15", "Oxford", "03/02/2001"])
    assert result.errors == {}
    assert result.payload["sfHireDate"] == "20250203"
    assert result.payload["education"] == [{"school": "Oxford", "start": "20010302"}]
    assert result.warnings == {"1": result.warnings["1"]}
    assert "(10:15)" in result.warnings["1"]
    undecided = _builder(["email", "education.school", "education.start"], ["", "", ""])
    refused = undecided.build(["a@x.io", "Oxford", "03/02/2001"])
    assert "no date in this column tells which" in refused.errors["2"]
