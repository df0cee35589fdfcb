"""Dates by column: how a column writes its dates is decided by all its values.

``03/02/2025`` is 3 February read day first and 2 March read month first. Row by row nothing
tells which; the column does: one value that only one order reads (``31/12/2025``,
``12/31/2025``) decides the order of every other value in it. So the stored file's date
columns are read once before the preview is built (``column_evidence``), the outcome is kept
with the column's mapping entry (``entry_with_evidence``) and each cell is then read in its
column's order (``DateColumn``):

- a column with a value only one order reads is read in that order (``how`` "file");
- a column of values either order reads, and none that decides, is not read until the admin
  chooses (``how`` "chosen"), unless the admin chose for a column of that name before
  (``how`` "remembered"): its ambiguous cells are errors meanwhile, never a silent default;
- a column with values only day-first reads *and* values only month-first reads mixes both:
  it is read in the order most of its rows prove, and every cell whose reading the other
  order would change is an error that says so.

Spellings read, whatever the column's order: ISO dates (``2002-08-14``, ``2002/08/14``) and
date-times (``2002-08-14 00:00:00``, ``2002-08-14T00:00:00Z``, with an offset or fractions of
a second), ``YYYYMMDD``, English month names (``14 Aug 2002``, ``Aug 14, 2002``,
``14-Aug-2002``, ``August 14 2002``, ``14th August 2002``, with or without a weekday), and
day and month as numbers separated by ``/``, ``.`` or ``-`` (``3/2/2025``, ``03.02.25``),
optionally followed by a time (``3/2/2025 0:00``, ``3/2/2025 12:00:00 AM``). Excel serial
numbers (``45678``: days since 30 December 1899, what a date cell formatted as a number
holds) are read in a column that has serials of 1920 to 2099 and no day/month numbers;
any other number is no date.

A two-digit year is the year ending in those digits that is at most ten years from now: in
2026, ``25`` is 2025, ``36`` is 2036 and ``37`` is 1937 (birth and hire dates, the dates an
HR file holds, lie in the past or the next few years).

A time of day with a date is dropped: silently at midnight (what databases and Excel write
for a plain date), and with a warning on the cell otherwise (the date is still sent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from django.utils import dateformat

DAY_FIRST = "dmy"
MONTH_FIRST = "mdy"
ORDERS = (DAY_FIRST, MONTH_FIRST)
ORDER_NAMES = {DAY_FIRST: "day first", MONTH_FIRST: "month first"}
# How a column's order was decided (a mapping entry's "date_how").
FROM_FILE, CHOSEN, REMEMBERED = "file", "chosen", "remembered"
# A column's reading as ``BuilderSpec.date_orders`` holds it: "" (no order: a value either
# order reads is an error), an order, an order + MIXED, or SERIAL.
MIXED = " mixed"
SERIAL = "serial"
# The spellings a value may have (``Spelling.kind``).
ISO, COMPACT, NUMERIC, NAMED, SERIAL_KIND = "iso", "compact", "numeric", "named", "serial"
KIND_NAMES = {
    ISO: "YYYY-MM-DD",
    COMPACT: "YYYYMMDD",
    NUMERIC: "day and month as numbers",
    NAMED: "month names",
    SERIAL_KIND: "Excel serial numbers",
}
# Excel serials read as dates: 1 January 1920 to 31 December 2099.
SERIAL_EPOCH = date(1899, 12, 30)
SERIAL_RANGE = range(7306, 73051)
# Distinct cells remembered per column when reading (an export repeats the same dates, start
# dates and birthdays, on many rows); a column's values are classified once each when read
# for its evidence.
CACHE_SIZE = 16384

_MONTHS = {
    name: number
    for number, full in enumerate(
        (
            "january", "february", "march", "april", "may", "june", "july", "august",
            "september", "october", "november", "december",
        ),
        start=1,
    )
    for name in (full, full[:3], *(("sept",) if number == 9 else ()))
}  # fmt: skip

_WEEKDAY_RE = re.compile(
    r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+", re.ASCII | re.IGNORECASE
)
# A date followed by a time of day: ``T`` or spaces, H:MM[:SS[.fff]], AM/PM, a zone.
_TIME_RE = re.compile(
    r"(?P<date>.*?[0-9])(?:T|\s+)(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})"
    r"(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]{1,9}))?)?"
    r"\s*(?:(?P<ampm>[AaPp])\.?[Mm]\.?)?\s*(?P<zone>Z|[+-][0-9]{2}(?::?[0-9]{2})?|UTC|GMT)?",
    re.ASCII,
)
_YMD_RE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})", re.ASCII)
_COMPACT_RE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII)
_NUMERIC_RE = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})", re.ASCII)
_SEP = r"[\s\-/.,]+"
_ORDINAL = r"(?:st|nd|rd|th)?"
_NAMED_DMY_RE = re.compile(
    rf"([0-9]{{1,2}}){_ORDINAL}\.?{_SEP}([a-z]+){_SEP}([0-9]{{4}}|[0-9]{{2}})",
    re.ASCII | re.IGNORECASE,
)
_NAMED_MDY_RE = re.compile(
    rf"([a-z]+){_SEP}([0-9]{{1,2}}){_ORDINAL}{_SEP}([0-9]{{4}}|[0-9]{{2}})",
    re.ASCII | re.IGNORECASE,
)
_NAMED_YMD_RE = re.compile(
    rf"([0-9]{{4}}){_SEP}([a-z]+){_SEP}([0-9]{{1,2}})", re.ASCII | re.IGNORECASE
)
_SERIAL_RE = re.compile(r"([0-9]{4,5})(?:\.([0-9]+))?", re.ASCII)


class Spelling(NamedTuple):
    """What one cell's text says as a date.

    ``day_first`` and ``month_first`` are the day read in each order: the same for every
    spelling but day and month as numbers, where either may be None (that order reads no
    valid date). ``time`` is the time of day written with it ("" for none, or midnight).
    (A tuple: a file's every distinct date is classified, twice for a large one.)
    """

    kind: str
    day_first: date | None
    month_first: date | None
    time: str = ""

    @property
    def proves(self) -> str:
        """The order this value decides (it reads a date in that order only), "either" when
        both orders read it as different days, "" when the order does not matter."""
        if self.kind != NUMERIC or self.day_first == self.month_first:
            return ""
        if self.day_first and self.month_first:
            return "either"
        return DAY_FIRST if self.day_first else MONTH_FIRST

    def day(self, order: str) -> date | None:
        return self.month_first if order == MONTH_FIRST else self.day_first


def spoken(day: date) -> str:
    """A day as a person reads it: "3 March 2025" (the app's "6 Dec 2026", month in full)."""
    return dateformat.format(day, "j F Y")


def _year(text: str) -> int:
    """A year as written; two digits are the year ending so at most ten years from now."""
    year = int(text)
    if len(text) != 2:
        return year
    limit = date.today().year + 10
    year += limit - limit % 100
    return year if year <= limit else year - 100


def _date(year: int, month: int, day: int) -> date | None:
    if not (0 < month < 13 and 0 < day < 32):  # most impossible dates, without an exception
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _time(found: re.Match[str]) -> str | None:
    """The time of day of a ``_TIME_RE`` match as HH:MM[:SS] ("" at midnight), None when
    it is no time of day."""
    hour, minute = int(found["h"]), int(found["m"])
    second = int(found["s"] or 0)
    fraction = int(found["f"] or 0)
    if found["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if found["ampm"] in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    if not (hour or minute or second or fraction):
        return ""
    return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if found["s"] else "")


def spelling(text: str) -> Spelling | None:
    """Classify a (stripped) cell as a date; None when it is none of the spellings read."""
    time = ""
    if ":" in text and (found := _TIME_RE.fullmatch(text)) is not None:
        written = _time(found)
        if written is None:
            return None
        text, time = found["date"], written
    if (found := _YMD_RE.fullmatch(text)) is not None:
        day = _date(int(found[1]), int(found[3]), int(found[4]))
        return Spelling(ISO, day, day, time) if day else None
    if (found := _NUMERIC_RE.fullmatch(text)) is not None:
        year, first, second = _year(found[4]), int(found[1]), int(found[3])
        day_first, month_first = _date(year, second, first), _date(year, first, second)
        if day_first is None and month_first is None:
            return None
        return Spelling(NUMERIC, day_first, month_first, time)
    if (found := _COMPACT_RE.fullmatch(text)) is not None:
        day = _date(int(found[1]), int(found[2]), int(found[3]))
        return Spelling(COMPACT, day, day, time) if day else None
    if not time and (found := _SERIAL_RE.fullmatch(text)) is not None:
        return _serial(int(found[1]), found[2] or "")
    return _named(text, time)


def _named(text: str, time: str) -> Spelling | None:
    """A date with an English month name ("14 Aug 2002", "Aug 14, 2002", "2002-Aug-14")."""
    text = _WEEKDAY_RE.sub("", text, count=1) if text[:1].isalpha() else text
    day = None
    if (found := _NAMED_DMY_RE.fullmatch(text)) is not None:
        month = _MONTHS.get(found[2].casefold())
        day = _date(_year(found[3]), month, int(found[1])) if month else None
    elif (found := _NAMED_MDY_RE.fullmatch(text)) is not None:
        month = _MONTHS.get(found[1].casefold())
        day = _date(_year(found[3]), month, int(found[2])) if month else None
    elif (found := _NAMED_YMD_RE.fullmatch(text)) is not None:
        month = _MONTHS.get(found[2].casefold())
        day = _date(int(found[1]), month, int(found[3])) if month else None
    return Spelling(NAMED, day, day, time) if day else None


def _serial(number: int, fraction: str) -> Spelling | None:
    """An Excel serial number (days since 30 December 1899; a fraction is the time)."""
    if number not in SERIAL_RANGE:
        return None
    day = SERIAL_EPOCH + timedelta(days=number)
    seconds = round(float(f"0.{fraction}") * 86400) if fraction else 0
    if seconds >= 86400:  # rounds up to the next midnight
        day, seconds = day + timedelta(days=1), 0
    time = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}" if seconds else ""
    if seconds % 60:
        time += f":{seconds % 60:02d}"
    return Spelling(SERIAL_KIND, day, day, time)


# -- a column's evidence and its order ---------------------------------------------------------


@dataclass
class Evidence:
    """What one column's values say about how it writes dates.

    ``rows`` counts the rows by what their value proves (DAY_FIRST, MONTH_FIRST, "either"),
    by spelling (ISO, NUMERIC, SERIAL_KIND…) and "invalid"; ``examples`` holds the first value
    of each with its row number.
    """

    rows: dict[str, int] = field(default_factory=dict)
    examples: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add(self, value: str, row: int, count: int) -> None:
        found = spelling(value)
        keys = ("invalid",) if found is None else (found.kind, found.proves or "neutral")
        for key in keys:
            self.rows[key] = self.rows.get(key, 0) + count
            self.examples.setdefault(key, (value, row))
        if found is not None and found.time:
            self.examples.setdefault("time", (value, row))

    @property
    def mixed(self) -> bool:
        return bool(self.rows.get(DAY_FIRST) and self.rows.get(MONTH_FIRST))

    @property
    def serials(self) -> bool:
        """Numbers are read as Excel serials: the column has some and no day/month numbers."""
        return bool(self.rows.get(SERIAL_KIND)) and not self.rows.get(NUMERIC)

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "examples": {k: list(v) for k, v in self.examples.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Evidence:
        data = data or {}
        examples = {key: (str(v[0]), int(v[1])) for key, v in (data.get("examples") or {}).items()}
        return cls(dict(data.get("rows") or {}), examples)


def column_evidence(values: Iterable[tuple[str, tuple[int, int]]]) -> Evidence:
    """The evidence of a column from its distinct values, each with (rows, first row)."""
    evidence = Evidence()
    for value, (count, row) in values:
        evidence.add(value, row, count)
    return evidence


def decide(evidence: Evidence, *, chosen: str = "", remembered: str = "") -> tuple[str, str]:
    """The order to read a column in and how it was decided: (order, how).

    The admin's choice first; then the file: the order its values prove (the one most rows
    prove when it mixes both, the first proven on a tie); then, for a column of ambiguous
    values only, the order chosen for a column of that name before; else none ("", "").
    """
    if chosen in ORDERS:
        return chosen, CHOSEN
    day_first, month_first = evidence.rows.get(DAY_FIRST, 0), evidence.rows.get(MONTH_FIRST, 0)
    if day_first or month_first:
        if day_first == month_first:
            first = min(ORDERS, key=lambda order: evidence.examples[order][1])
            return first, FROM_FILE
        return (DAY_FIRST if day_first > month_first else MONTH_FIRST), FROM_FILE
    if evidence.rows.get("either") and remembered in ORDERS:
        return remembered, REMEMBERED
    return "", ""


def entry_with_evidence(
    entry: Mapping[str, Any], evidence: Evidence, *, remembered: str = ""
) -> dict[str, Any]:
    """A date column's mapping entry with what its values say and the order it is read in
    (the admin's earlier choice for this import kept)."""
    chosen = entry.get("date_order", "") if entry.get("date_how") == CHOSEN else ""
    order, how = decide(evidence, chosen=chosen, remembered=remembered)
    return {
        **entry,
        "date_order": order,
        "date_how": how,
        "date_evidence": evidence.as_json(),
    }


def entry_reading(entry: Mapping[str, Any]) -> str:
    """How the builder reads a column's cells (``BuilderSpec.date_orders``) from its entry."""
    if "date_evidence" not in entry:
        return ""
    evidence = Evidence.from_json(entry["date_evidence"])
    if evidence.serials:
        return SERIAL
    order = entry.get("date_order", "")
    if order not in ORDERS:
        return ""
    return order + (MIXED if evidence.mixed else "")


def entry_question(entry: Mapping[str, Any]) -> str:
    """The value that needs an order chosen ("" when none does): a column whose values
    either order reads, with no order decided."""
    evidence = Evidence.from_json(entry.get("date_evidence"))
    if entry.get("date_order") in ORDERS or not evidence.rows.get("either"):
        return ""
    return evidence.examples["either"][0]


# -- reading the cells of a column -------------------------------------------------------------


def format_date(value: date, fmt: str) -> str:
    """Write a date as the catalogue's format says: ``YYYYMMDD`` (RedFlag) or ISO."""
    if fmt == "YYYYMMDD":
        return value.isoformat().replace("-", "")
    return value.isoformat()


def not_a_date(value: str) -> str:
    return f"Not a date: “{value}”. Use YYYY-MM-DD, for example 2025-04-03."


class DateColumn:
    """Read the cells of one date column in its reading (see ``entry_reading``), written
    as the provider takes dates (``fmt``)."""

    def __init__(self, reading: str, fmt: str) -> None:
        order, _, flag = reading.partition(" ")
        self.order = order if order in ORDERS else ""
        self.mixed = flag == MIXED.strip()
        self.serials = reading == SERIAL
        self.fmt = fmt
        self._read: dict[str, tuple[str, str] | str] = {}

    def day(self, raw: str) -> tuple[date, str]:
        """The day a cell names and a warning about it ("" for none); raises ``ValueError``
        with the message for the admin when it names none in this column."""
        found = spelling(raw)
        if found is None or (found.kind == SERIAL_KIND and not self.serials):
            raise ValueError(not_a_date(raw))
        proves = found.proves
        order = self.order
        if proves == "either" and (self.mixed or not order):
            raise ValueError(self._either(raw, found))
        if proves in ORDERS and order and proves != order:
            raise ValueError(self._contradicts(raw, found, proves))
        day = found.day(order or proves)
        assert day is not None  # the order read it: else proves would differ
        warning = ""
        if found.time:
            warning = (
                f"“{raw}” has a time of day ({found.time}), which a date field does not hold: "
                f"{spoken(day)} is sent without it."
            )
        return day, warning

    def read(self, raw: str) -> tuple[str, str]:
        """The value to send for a cell and a warning ("" for none); raises ``ValueError``."""
        outcome = self._read.get(raw)
        if outcome is None:
            try:
                day, warning = self.day(raw)
                outcome = (format_date(day, self.fmt), warning)
            except ValueError as exc:
                outcome = str(exc)
            if len(self._read) < CACHE_SIZE:
                self._read[raw] = outcome
        if outcome.__class__ is str:
            raise ValueError(outcome)
        return outcome  # type: ignore[return-value]  # not a str: the tuple

    def _either(self, raw: str, found: Spelling) -> str:
        assert found.day_first and found.month_first
        readings = (
            f"{spoken(found.day_first)} (day first) or {spoken(found.month_first)} (month first)"
        )
        if self.mixed:
            return (
                f"“{raw}” could be {readings}, and this column mixes both orders (it is read "
                f"{ORDER_NAMES[self.order]}): write this date as YYYY-MM-DD."
            )
        return (
            f"“{raw}” could be {readings}, and no date in this column tells which: choose "
            "how the column writes its dates in the Columns table above."
        )

    def _contradicts(self, raw: str, found: Spelling, proves: str) -> str:
        day = found.day(proves)
        assert day is not None
        mixed = " (it mixes both orders)" if self.mixed else ""
        return (
            f"“{raw}” can only be {ORDER_NAMES[proves]} ({spoken(day)}), but this column is "
            f"read {ORDER_NAMES[self.order]}{mixed}: write this date as {day.isoformat()}."
        )


def clean_date(value: str, reading: str = "") -> date:
    """One date on its own, read as ``reading`` says (by default: only a spelling that
    needs no order); raises ``ValueError`` with the message for the admin."""
    return DateColumn(reading, "").day(value.strip())[0]


# -- a column as the mapping table shows it ----------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One order the admin may choose for a column, shown on a value of the file."""

    order: str
    label: str  # "Day first"
    example: str  # "03/02/2025 → 3 February 2025"
    chosen: bool


@dataclass(frozen=True)
class Description:
    """A date column's format in words, for the mapping table.

    ``read`` is False until a preview has read the column's values. ``example`` is a value
    of the file as the column reads it ("" while its order is undecided); ``question`` the
    value that needs an order chosen; ``choices`` the orders, each on a value of the file
    (none for a column without day/month numbers, where the order changes nothing).
    """

    read: bool
    spellings: str = ""
    order: str = ""
    how: str = ""
    example: str = ""
    reason: str = ""
    question: str = ""
    mixed: bool = False
    choices: tuple[Choice, ...] = ()


_EXAMPLE_KEYS = ("either", DAY_FIRST, MONTH_FIRST, NUMERIC, SERIAL_KIND, NAMED, COMPACT, ISO)


def _shown(value: str, column: DateColumn) -> str:
    try:
        day, _ = column.day(value)
    except ValueError:
        return ""
    return f"{value} → {spoken(day)}"


def describe(entry: Mapping[str, Any]) -> Description:
    """What the mapping table says about a date column's mapping entry."""
    if "date_evidence" not in entry:
        return Description(read=False)
    evidence = Evidence.from_json(entry["date_evidence"])
    rows, examples = evidence.rows, evidence.examples
    order, how = entry.get("date_order", ""), entry.get("date_how", "")
    order = order if order in ORDERS else ""
    spellings = ", ".join(name for kind, name in KIND_NAMES.items() if rows.get(kind))
    keys = [key for key in ("either", order, *_EXAMPLE_KEYS) if key and key in examples]
    column = DateColumn(entry_reading(entry), "")
    example = next((text for key in keys if (text := _shown(examples[key][0], column))), "")
    question = entry_question(entry)
    choices: tuple[Choice, ...] = ()
    if rows.get(NUMERIC):
        candidates = ("either", order or DAY_FIRST, MONTH_FIRST, DAY_FIRST, NUMERIC)
        sample = next(examples[key][0] for key in candidates if key in examples)
        choices = tuple(
            Choice(
                choice,
                ORDER_NAMES[choice].capitalize(),
                _shown(sample, DateColumn(choice, "")) or f"{sample} → not a date",
                choice == order,
            )
            for choice in ORDERS
        )
    reason = ""
    if evidence.mixed:
        (first, first_row), (second, second_row) = examples[DAY_FIRST], examples[MONTH_FIRST]
        reason = (
            f"This column mixes both orders: “{first}” (row {first_row}) can only be day "
            f"first, “{second}” (row {second_row}) only month first. It is read "
            f"{ORDER_NAMES[order]}; a row whose date the other order would read differently "
            "is invalid."
        )
    elif how == CHOSEN:
        reason = f"Read {ORDER_NAMES[order]}, as chosen for this import."
    elif how == REMEMBERED:
        reason = (
            f"Read {ORDER_NAMES[order]}, as chosen for a column of this name before: every "
            "date here reads either way."
        )
    elif how == FROM_FILE:
        value, row = examples[order]
        reason = (
            f"Read {ORDER_NAMES[order]}: “{value}” (row {row}) can only be {ORDER_NAMES[order]}."
        )
    elif question:
        found = spelling(question)
        assert found is not None and found.day_first and found.month_first
        reason = (
            f"“{question}” could be {spoken(found.day_first)} (day first) or "
            f"{spoken(found.month_first)} (month first), and no date in this column tells "
            "which: choose how the column writes its dates."
        )
    return Description(
        read=True,
        spellings=spellings,
        order=order,
        how=how,
        example=example,
        reason=reason,
        question=question,
        mixed=evidence.mixed,
        choices=choices,
    )
