"""Validating and normalising the cells of one CSV row into a provider-native payload.

Each function takes the cell's text and returns the value to send or raises ``CellError``
with a message for the admin. ``RowBuilder`` applies them to a whole row using the mapping.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import phonenumbers
from django.utils import translation

from integrations.catalogue import (
    CUSTOM_FIELD_KEY_NAME,
    CUSTOM_FIELD_PREFIX,
    CUSTOM_VALUE_NAME,
    FieldSpec,
    FieldType,
    Provider,
)
from integrations.importing import dates, phones
from integrations.importing.dates import format_date
from integrations.importing.mapping import (
    ENTRY_LABELS,
    ENTRY_MEMBERS,
    ENTRY_REQUIRED,
    EntryMember,
    custom_key,
    entry_member,
)

MAX_CELL_CHARS = 1000
# One custom-field value, or one member of a history entry: the recipient form's limit for
# text (``dashboard.recipients.forms.TEXT_MAX_LENGTH``).
MAX_VALUE_CHARS = 500


class CellError(ValueError):
    """A cell's value cannot be sent; the message says why and what would work."""


# -- email ---------------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_RE = re.compile(rf"^{_ATEXT}(\.{_ATEXT})*$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def email_error(value: str) -> str | None:
    """Why ``value`` is not an address a recipient can use, or None.

    Policy (checked against the isemail test set): plain dot-atom addresses with a host name are
    accepted, including ones only DNS could refute (isemail's "DNSWARN"). Refused: anything
    isemail calls an error, and also what RFC 5322 merely tolerates or deprecates (comments,
    folding white space, quoted local parts, address literals such as ``[1.2.3.4]``, numeric
    top-level domains, domains without a dot, over-long parts): providers and mail systems
    reject them in practice.
    """
    if "@" not in value:
        return "An email address needs an @."
    local, _, domain = value.rpartition("@")
    if not local:
        return "Nothing before the @."
    if not domain:
        return "Nothing after the @."
    if len(value) > 254:
        return "Longer than the 254 characters an address may have."
    if len(local) > 64:
        return "The part before the @ is longer than 64 characters."
    if not _LOCAL_RE.fullmatch(local):
        return "The part before the @ has characters or dots an address cannot use."
    labels = domain.split(".")
    if not all(_LABEL_RE.fullmatch(label) for label in labels):
        return "The part after the @ is not a valid domain name."
    if len(labels) < 2:
        return "The domain has no dot: an address at a top-level domain cannot receive mail."
    if labels[-1].isdigit():
        return "The domain ends in a number; use a domain name."
    return None


def clean_email(value: str) -> str:
    error = email_error(value)
    if error:
        raise CellError(error)
    return value


# -- phones, countries, dates, booleans, lists -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Phone:
    calling_code: str
    national: str
    e164: str


def clean_phone(value: str, region: str | None) -> Phone:
    """Parse a phone number (international, or national with a region) and check it.

    ``region`` is ignored for a number that starts with "+".
    """
    outcome = _parse_phone(value, region if region and not value.startswith("+") else None)
    if isinstance(outcome, str):
        raise CellError(outcome)
    return outcome


@functools.lru_cache(maxsize=16384)
def _parse_phone(value: str, region: str | None) -> Phone | str:
    """Return the ``Phone`` for ``value``, or the message saying why it is not one.

    Once per distinct (value, region): an export repeats numbers (shared desk lines, the
    same mobile on several rows). The last 16,384 are remembered, a few MB in each process
    that builds rows, where a cache as large as a big file's distinct numbers would hold
    tens of MB for numbers seen once. ``phones.parse`` and ``phones.is_valid_number`` are
    ``phonenumbers.parse`` and ``phonenumbers.is_valid_number``, faster (see ``phones``).
    """
    try:
        number = phones.parse(value, region)
    except phonenumbers.NumberParseException:
        if not value.startswith("+") and not region:
            return (
                "No country for this number: start it with + and the country code, or add a "
                "Country column."
            )
        return "Not a phone number."
    if not phones.is_valid_number(number):
        region_name = phonenumbers.region_code_for_number(number) or region or "its country"
        return f"Not a valid phone number for {region_name}."
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(str(number.country_code), str(number.national_number), e164)


# Names people write that django-countries' official names do not match.
COUNTRY_ALIASES: Mapping[str, str] = {
    "usa": "US", "us": "US", "unitedstates": "US", "unitedstatesofamerica": "US", "america": "US",
    "uk": "GB", "unitedkingdom": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northernireland": "GB",
    "holland": "NL", "thenetherlands": "NL", "netherlands": "NL",
    "southkorea": "KR", "korea": "KR", "northkorea": "KP",
    "russia": "RU", "czechia": "CZ", "czechrepublic": "CZ", "turkey": "TR", "turkiye": "TR",
    "vietnam": "VN", "iran": "IR", "syria": "SY", "laos": "LA", "bolivia": "BO",
    "venezuela": "VE", "tanzania": "TZ", "moldova": "MD", "ivorycoast": "CI",
    "uae": "AE", "emirates": "AE", "deutschland": "DE", "espana": "ES", "brasil": "BR",
    "schweiz": "CH", "suisse": "CH", "osterreich": "AT", "italia": "IT", "eire": "IE",
    "hongkong": "HK", "taiwan": "TW", "macedonia": "MK", "swaziland": "SZ", "burma": "MM",
}  # fmt: skip


_ACTIVE = object()  # clean_country's default: the active language


def _fold(text: str) -> str:
    from integrations.importing.mapping import normalise_header

    return normalise_header(text)


def clean_country(value: str, language: str | object | None = _ACTIVE) -> str:
    """A country name, alias or ISO code (alpha-2, alpha-3 or numeric) to ISO alpha-2.

    Names are read in ``language`` (by default the active one; a ``RowBuilder`` passes the
    one it was made in rather than asking Django twice a row)."""
    if language is _ACTIVE:
        language = translation.get_language()
    code = _country_code(value.strip(), cast(str | None, language))
    if not code:
        raise CellError(f"Unknown country “{value}”: use a name (Germany) or a code (DE).")
    return code


@functools.lru_cache(maxsize=4096)
def _country_code(value: str, language: str | None) -> str:
    """The lookup behind ``clean_country``, cached per language: django-countries translates
    every country name on each ``by_name`` call, which dominated a 100,000-row preview."""
    from django_countries import countries

    folded = _fold(value)
    if folded in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[folded]
    if len(value) <= 3:
        code = countries.alpha2(value.upper())
        if code:
            return code
    code = countries.by_name(value, insensitive=True)
    if code:
        return code
    for code, name in countries:
        if _fold(name) == folded:
            return code
    return ""


def clean_date(value: str, reading: str = "") -> date:
    """Parse one date on its own (see ``dates``): a spelling either order reads
    (``03/04/2025``) is refused unless ``reading`` gives the order (``dates.DAY_FIRST``…).

    In a file, dates are read by column (``RowBuilder``'s ``date_orders``), in the order the
    column's values decide.
    """
    try:
        return dates.clean_date(value, reading)
    except ValueError as exc:
        raise CellError(str(exc)) from None


_TRUE = frozenset({"true", "yes", "y", "1", "on", "x", "t", "ja", "oui", "si", "active"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f", "nein", "non", "inactive", "-"})


def clean_boolean(value: str) -> bool:
    folded = value.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError(f"Not yes or no: “{value}”. Use yes/no, true/false or 1/0.")


def clean_list(value: str) -> list[str]:
    """Split a list cell on semicolons, commas or pipes (the cell delimiter is already gone)."""
    parts = re.split(r"[;,|]", value)
    return [part.strip() for part in parts if part.strip()]


def clean_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise CellError("Not a web address: start it with https://.")
    return value


# -- custom fields and history entries ---------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _one_line(value: str, what: str) -> str:
    if _CONTROL_RE.search(value):
        raise CellError(
            f"{what} is one line of text: this cell has a line break, tab or other control "
            "character."
        )
    if len(value) > MAX_VALUE_CHARS:
        raise CellError(
            f"{what} may have up to {MAX_VALUE_CHARS} characters; this has {len(value)}."
        )
    return value


def clean_custom_value(value: str, provider: Provider | str) -> str | list[str]:
    """A custom field's cell as the provider takes it.

    RedFlag tag values are a string or a list of strings (CONTRACT-NOTES "RedFlag"):
    semicolons separate the values of a list ("en; fr"). Snappy's ``fieldValue`` is sent as
    text; a semicolon there is just a character.
    """
    if Provider(provider) is Provider.REDFLAG and ";" in value:
        items = [item.strip() for item in value.split(";")]
        if not any(items):
            raise CellError("Only semicolons: write the values between them, e.g. en; fr.")
        return [_one_line(item, "Each value of a list tag") for item in items if item]
    return _one_line(value, "A custom field")


def clean_entry_member(member: EntryMember, value: str) -> str:
    """One member of a history entry: text, a country (ISO alpha-2) or a date as YYYYMMDD
    (on its own: a spelling either order reads is refused; in a file, ``RowBuilder`` reads
    it in its column's order)."""
    if member.type is FieldType.DATE:
        return format_date(clean_date(value), "YYYYMMDD")
    if member.type is FieldType.COUNTRY:
        return clean_country(value)
    return _one_line(value, f"The {member.label}")


# -- one row -------------------------------------------------------------------------------

# RedFlag keeps a phone as two fields: the number without the country code and the calling
# code (CONTRACT-NOTES "RedFlag"); the catalogue names them ``mobile`` + ``mobileCountry``.
CALLING_CODE_FIELD = {"mobile": "mobileCountry", "phone": "phoneCountry", "fax": "faxCountry"}


@dataclass
class RowResult:
    payload: dict[str, Any] = field(default_factory=dict)
    # Column index (as text, JSON keys) → message; "row" for errors about the whole row.
    errors: dict[str, str] = field(default_factory=dict)
    identifier: str = ""
    identifier_path: str = ""
    # Column index (as text) → a message about a value sent all the same (a time on a date);
    # None for none (most rows: no dictionary made for each).
    warnings: dict[str, str] | None = None


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    """Set ``employee.department`` as ``{"employee": {"department": …}}``."""
    parent, dot, child = path.partition(".")
    if dot:
        payload.setdefault(parent, {})[child] = value
    else:
        payload[path] = value


def _read_date(column: dates.DateColumn, raw: str) -> tuple[str, str]:
    """A date cell's value in the provider's format and its warning ("" for none)."""
    try:
        return column.read(raw)
    except ValueError as exc:
        raise CellError(str(exc)) from None


# Cleans one cell and sets its value in a row's payload: (payload, cell text, phone region);
# returns a warning about the value, if any.
Cleaner = Callable[[dict[str, Any], str, str | None], str | None]


def _as_is(raw: str) -> str:
    return raw


def _country_or_none(value: str, language: str | None) -> str | None:
    """The country code of ``value``, or None when it names none."""
    try:
        return clean_country(value, language)
    except CellError:
        return None


def takes_constant(spec: FieldSpec) -> bool:
    """Whether a field may have a value for every row: not an identifying field (every row
    would name the same person) nor a history member (an entry is made from a row's own
    cells)."""
    return not spec.identifies and entry_member(spec.path) is None


class RowBuilder:
    """Turn rows of cells into payloads for one connection and one column mapping."""

    def __init__(
        self,
        *,
        provider: Provider | str,
        fields: Sequence[FieldSpec],
        paths: Sequence[str],
        width: int,
        default_region: str | None = None,
        constants: Sequence[tuple[str, str]] = (),
        lookups: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (),
        unreadable: Sequence[tuple[str, str]] = (),
        date_orders: Sequence[str] = (),
    ) -> None:
        from integrations.importing.lookups import Lookup

        self.provider = Provider(provider)
        self.specs = {spec.path: spec for spec in fields}
        self.paths = list(paths)
        self.width = width
        self.default_region = default_region
        self.language = translation.get_language()  # country names are read in it
        # Values the provider defines, by name (``lookups``), and the fields whose list could
        # not be read: each of their values is refused rather than sent unchecked.
        self.lookups = {
            path: Lookup(pairs, label=self.specs[path].label, provider=self.provider)
            for path, pairs in lookups
            if path in self.specs
        }
        self.unreadable = dict(unreadable)
        self.identifier_order = [spec.path for spec in fields if spec.identifies]
        self.country_column = next(
            (i for i, path in enumerate(self.paths) if path == "country"), None
        )
        # The offered paths: what this connection may send through an import.
        self.enabled_paths = frozenset(self.specs)
        # Per column, the history list and member it fills (None for other fields), and per
        # history list, its members' columns.
        self.members = [entry_member(path) if path else None for path in self.paths]
        self.entry_columns: dict[str, dict[str, int]] = {}
        for column, found in enumerate(self.members):
            if found is not None:
                self.entry_columns.setdefault(found[0], {})[found[1].name] = column
        # Per date column, its cells read in the column's order (``dates``); history entry
        # dates are YYYYMMDD.
        self.dates = {
            column: dates.DateColumn(
                date_orders[column] if column < len(date_orders) else "",
                "YYYYMMDD" if self.members[column] else self.specs[path].format,
            )
            for column, path in enumerate(self.paths)
            if path in self.specs and self.specs[path].type is FieldType.DATE
        }
        # Per mapped column, its history member (or None) and the function that cleans and
        # sets its value, chosen once rather than by the field's type in every cell.
        self.columns = [
            (
                column,
                self.members[column] if path in self.specs else None,
                self._cleaner(path, self.dates.get(column)),
            )
            for column, path in enumerate(self.paths)
            if path
        ]
        self.identifier_columns = [
            (self.paths.index(path), path) for path in self.identifier_order if path in self.paths
        ]
        # Values for every row (``constants``), each with its cleaner and the columns whose
        # non-empty cell wins over it (see ``takes_constant``).
        self.constants = [
            (path, value, self._cleaner(path), [c for c, p in enumerate(self.paths) if p == path])
            for path, value in constants
            if value.strip() and path in self.specs and takes_constant(self.specs[path])
        ]
        self.constant_region = next(
            (_country_or_none(value, self.language) for path, value, *_ in self.constants
             if path == "country"),
            None,
        )  # fmt: skip

    def identify(self, cells: Sequence[str]) -> tuple[str, str]:
        """The row's identifier and its path: the first identifying column filled in, as
        written (("", "") for none, or a row of the wrong width). Needs no cleaning, so the
        mirror can be asked before the row is built."""
        if len(cells) == self.width:
            for column, path in self.identifier_columns:
                value = cells[column].strip()
                if value:
                    return value, path
        return "", ""

    def build(self, cells: Sequence[str]) -> RowResult:
        result = RowResult()
        if len(cells) != self.width:
            result.errors["row"] = (
                f"This row has {len(cells)} cell{'s' if len(cells) != 1 else ''} but the header "
                f"has {self.width}: a delimiter or quote is probably missing."
            )
            return result
        region = self.constant_region or self.default_region
        if self.country_column is not None:
            with contextlib.suppress(CellError):
                region = clean_country(cells[self.country_column], self.language) or region
        entries: dict[str, dict[str, str]] = {}
        payload, errors = result.payload, result.errors
        for column, member, clean in self.columns:
            raw = cells[column].strip()
            if not raw:
                continue  # an empty cell leaves the field as it is
            try:
                if member is not None:
                    if member[1].type is FieldType.DATE:
                        value, day_warning = _read_date(self.dates[column], raw)
                        if day_warning:
                            result.warnings = {**(result.warnings or {}), str(column): day_warning}
                    else:
                        value = clean_entry_member(member[1], raw)
                    entries.setdefault(member[0], {})[member[1].name] = value
                else:
                    if len(raw) > MAX_CELL_CHARS:
                        raise CellError(f"Longer than {MAX_CELL_CHARS} characters.")
                    if warning := clean(payload, raw, region):
                        result.warnings = {**(result.warnings or {}), str(column): warning}
            except CellError as exc:
                errors[str(column)] = str(exc)
        for path, value, clean, own in self.constants:
            if any(cells[column].strip() for column in own):
                continue  # the row's own cell wins over the value for every row
            try:
                clean(payload, value.strip(), region)
            except CellError as exc:
                message = f"{self._constant_message(path, value)} {exc}"
                errors["row"] = f"{errors['row']} {message}" if "row" in errors else message
        for list_path, columns in self.entry_columns.items():
            self._add_entry(result, cells, list_path, columns, entries.get(list_path, {}))
        result.identifier, result.identifier_path = self.identify(cells)
        if not result.identifier and not errors:
            errors["row"] = "No identifier: fill in the email (or id) column."
        return result

    def constant_errors(self) -> dict[str, str]:
        """Why each value for every row cannot be sent, by path (empty when all can): the
        same cleaning as a cell, phone numbers read in the country for every row (or the
        connection's)."""
        errors = {}
        region = self.constant_region or self.default_region
        for path, value, clean, _ in self.constants:
            try:
                if len(value.strip()) > MAX_CELL_CHARS:
                    raise CellError(f"Longer than {MAX_CELL_CHARS} characters.")
                clean({}, value.strip(), region)
            except CellError as exc:
                errors[path] = str(exc)
        return errors

    def _constant_message(self, path: str, value: str) -> str:
        label = self.specs[path].label
        shown = value if len(value) <= 60 else value[:59] + "…"
        return f"{label} for every row (“{shown}”):"

    def _cleaner(self, path: str, date_column: dates.DateColumn | None = None) -> Cleaner:
        """The function that cleans a cell of ``path`` and sets it in a payload (a date
        column's cells read by ``date_column``)."""
        spec = self.specs.get(path)
        if spec is None:

            def unknown(payload: dict[str, Any], raw: str, region: str | None) -> None:
                raise KeyError(path)  # the mapping names a field this connection does not offer

            return unknown
        kind, provider = spec.type, self.provider
        if kind is FieldType.CUSTOM and provider in CUSTOM_FIELD_PREFIX:
            prefix, key_name = CUSTOM_FIELD_PREFIX[provider], CUSTOM_FIELD_KEY_NAME[provider]
            key, value_name = custom_key(path), CUSTOM_VALUE_NAME[provider]

            def custom(payload: dict[str, Any], raw: str, region: str | None) -> None:
                payload.setdefault(prefix, []).append(
                    {key_name: key, value_name: clean_custom_value(raw, provider)}
                )

            return custom
        if kind is FieldType.PHONE:
            if provider is Provider.REDFLAG and path in CALLING_CODE_FIELD:
                code_path = CALLING_CODE_FIELD[path]

                def phone_parts(payload: dict[str, Any], raw: str, region: str | None) -> None:
                    phone = clean_phone(raw, region)
                    payload[path] = phone.national
                    payload[code_path] = phone.calling_code

                return phone_parts

            def phone(payload: dict[str, Any], raw: str, region: str | None) -> None:
                set_path(payload, path, clean_phone(raw, region).e164)

            return phone
        if kind is FieldType.DATE and date_column is not None:
            read = date_column.read
            parent, dot, child = path.partition(".")

            def day(payload: dict[str, Any], raw: str, region: str | None) -> str:
                try:
                    value, warning = read(raw)
                except ValueError as exc:
                    raise CellError(str(exc)) from None
                if dot:
                    payload.setdefault(parent, {})[child] = value
                else:
                    payload[path] = value
                return warning

            return day
        if kind is FieldType.CALLING_CODE:

            def calling_code(payload: dict[str, Any], raw: str, region: str | None) -> None:
                digits = raw.lstrip("+").strip()
                if not (digits.isdigit() and 1 <= len(digits) <= 4):
                    raise CellError("A calling code is 1 to 4 digits, e.g. 44.")
                payload.setdefault(path, digits)

            return calling_code
        convert = self._resolving(spec, self._converter(spec, self.language))
        parent, dot, child = path.partition(".")
        if dot:
            to_value = convert or _as_is

            def nested(payload: dict[str, Any], raw: str, region: str | None) -> None:
                payload.setdefault(parent, {})[child] = to_value(raw)

            return nested
        if convert is None:

            def text(payload: dict[str, Any], raw: str, region: str | None) -> None:
                payload[path] = raw

            return text

        def value(payload: dict[str, Any], raw: str, region: str | None) -> None:
            payload[path] = convert(raw)

        return value

    def _resolving(
        self, spec: FieldSpec, convert: Callable[[str], Any] | None
    ) -> Callable[[str], Any] | None:
        """``convert``, or for a field whose values the provider defines, the function that
        resolves each of a cell's values through the provider's list (all of them refused
        when the list could not be read)."""
        if spec.path in self.unreadable:
            message = self.unreadable[spec.path]

            def unreadable(raw: str) -> Any:
                raise CellError(message)

            return unreadable
        lookup = self.lookups.get(spec.path)
        if lookup is None:
            return convert
        if spec.type in (FieldType.ID_LIST, FieldType.ACCOUNTS):
            return lambda raw: lookup.resolve_list(clean_list(raw))
        return lookup.resolve

    @staticmethod
    def _converter(spec: FieldSpec, language: str | None) -> Callable[[str], Any] | None:
        """The cell → value function of a field set as it is (None: the text as it is)."""
        kind = spec.type
        if kind is FieldType.EMAIL:
            return clean_email
        if kind is FieldType.COUNTRY:
            return functools.partial(clean_country, language=language)
        if kind is FieldType.DATE:
            fmt = spec.format
            return lambda raw: format_date(clean_date(raw), fmt)
        if kind is FieldType.BOOLEAN:
            return clean_boolean
        if kind is FieldType.URL:
            return clean_url
        if kind in (FieldType.ID_LIST, FieldType.ACCOUNTS):
            return clean_list
        if kind is FieldType.CHOICE:
            allowed = {choice.casefold() for choice in spec.choices}
            message = f"Use one of: {', '.join(spec.choices)}."

            def choice(raw: str) -> str:
                if raw.casefold() not in allowed:
                    raise CellError(message)
                return raw.casefold()

            return choice
        return None

    def _add_entry(
        self,
        result: RowResult,
        cells: Sequence[str],
        list_path: str,
        columns: Mapping[str, int],
        entry: dict[str, str],
    ) -> None:
        """Make the row's cells of one history list into one entry (``[entry]``).

        Nothing when every cell of the list is empty (the list is left as it is) or one of
        them is already wrong; an error on the naming column when the row fills other
        members but not the one that names the entry.
        """
        filled = [column for column in columns.values() if cells[column].strip()]
        if not filled or any(str(column) in result.errors for column in filled):
            return
        label = ENTRY_LABELS[list_path]
        required = ENTRY_REQUIRED[list_path]
        if not any(entry.get(name) for name in required):
            column = next((columns[name] for name in required if name in columns), filled[0])
            result.errors[str(column)] = (
                f"This row fills other {label.lower()} columns but not the "
                f"{' or '.join(required)}: each {label.lower()} entry needs one."
            )
            return
        start, end = entry.get("start"), entry.get("end")
        if start and end and end < start and "end" in columns:
            result.errors[str(columns["end"])] = (
                f"The {label.lower()} ends before it starts ({start[:4]}-{start[4:6]}-{start[6:]})."
            )
            return
        ordered = {m.name: entry[m.name] for m in ENTRY_MEMBERS[list_path] if m.name in entry}
        result.payload[list_path] = [ordered]
