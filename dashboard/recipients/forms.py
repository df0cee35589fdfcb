"""Forms of the recipient pages: the edit/create form built from the field catalogue, and the
delete confirmation."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe
from django_countries import countries

from dashboard.recipients.fields import (
    Mode,
    RecipientField,
    display_field_value,
    name_to_path,
    parse_provider_date,
    path_to_name,
)
from integrations.catalogue import (
    CUSTOM_FIELD_PREFIX,
    FieldType,
    Provider,
    custom_field_key_error,
)
from integrations.models import Connection
from integrations.recipients import field_value

# Field names a POST may carry besides the form's own fields.
CONTROL_NAMES = frozenset({"csrfmiddlewaretoken", "version", "decision"})
TEXT_MAX_LENGTH = 500
# RedFlag ``skills``, ``reportsTo``… hold ``_id`` values (24 hex digits); the sandbox checks.
OBJECT_ID_RE = re.compile(r"^[0-9a-fA-F]{24}$")
OBJECT_ID_LISTS = frozenset({"skills", "reportsTo", "supports", "supportedBy"})
# The members of RedFlag's history entries (endpoint document, "Update a recipient").
HISTORY_MEMBERS = {
    "education": frozenset({"school", "degree", "major", "country", "start", "end", "_id"}),
    "employment": frozenset({"company", "employer", "title", "country", "start", "end", "_id"}),
    "certification": frozenset({"name", "institution", "start", "end", "_id"}),
}
DATE_FORMATS = {Provider.REDFLAG: "%Y%m%d", Provider.SNAPPY: "%Y-%m-%d"}
DATE_FORMAT_LABELS = {Provider.REDFLAG: "YYYYMMDD", Provider.SNAPPY: "YYYY-MM-DD"}
# A RedFlag number field and the calling-code field that goes with it.
REDFLAG_PHONE_PAIRS = {"mobile": "mobileCountry", "phone": "phoneCountry", "fax": "faxCountry"}
PHONE_CHARS_RE = re.compile(r"^[0-9\s\-+().]*$")
NO_VALUE = [("", "—")]


# -- choices --------------------------------------------------------------------------------


@cache
def calling_code_choices() -> tuple[tuple[str, str], ...]:
    """Every calling code once, labelled by its main country: "United Kingdom (+44)"."""
    names = dict(countries)
    choices = []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        main = regions[0]
        name = "International" if main == "001" else names.get(main, main)
        choices.append((str(code), f"{name} (+{code})"))
    return tuple(sorted(choices, key=lambda choice: choice[1]))


def _with_current(choices: list[tuple[str, str]], current: Any) -> list[tuple[str, str]]:
    """Keep a stored value the list does not know selectable, so an untouched form is valid."""
    if isinstance(current, str) and current and current not in {value for value, _ in choices}:
        return [*choices, (current, f"{current} (as stored)")]
    return choices


# -- fields -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A submitted value as stripped text ("" when empty), as ``CharField`` reads it."""
    return "" if value in forms.Field.empty_values else str(value).strip()


class LinesField(forms.Field):
    """A list of text values, one per line."""

    widget = forms.Textarea

    def __init__(self, *, item_re: re.Pattern[str] | None = None, **kwargs: Any) -> None:
        self.item_re = item_re
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(item).strip() for item in value if str(item).strip()]
        text = _text(value)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(str(item) for item in value) if isinstance(value, list | tuple) else value

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        if self.item_re is not None:
            bad = [item for item in value if not self.item_re.match(item)]
            if bad:
                raise ValidationError(
                    "Not an id (24 hexadecimal digits): %(bad)s",
                    code="invalid",
                    params={"bad": ", ".join(bad[:3])},
                )

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True


class TagValueField(LinesField):
    """A RedFlag tag value: one line is text, several lines (or a stored list) a list."""

    def __init__(self, *, as_list: bool = False, **kwargs: Any) -> None:
        self.as_list = as_list
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str | list[str]:
        lines = super().clean(value)
        if self.as_list or len(lines) > 1:
            return lines
        return lines[0] if lines else ""


class JSONListField(forms.Field):
    """A list of objects as JSON (RedFlag ``education``, ``employment``, ``certification``)."""

    def __init__(
        self, *, members: frozenset[str], date_members: frozenset[str], **kwargs: Any
    ) -> None:
        self.members = members
        self.date_members = date_members
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "class": "mono"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, list):
            return value
        text = _text(value)
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ValidationError("Enter a JSON list of entries, e.g. [{…}, {…}].") from None
        if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
            raise ValidationError("Enter a JSON list of entries, e.g. [{…}, {…}].")
        return parsed

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return json.dumps(value, ensure_ascii=False, indent=1) if value else ""
        return value

    def validate(self, value: list[dict[str, Any]]) -> None:
        for number, item in enumerate(value, start=1):
            unknown = sorted(set(item) - self.members)
            if unknown:
                raise ValidationError(
                    f"Entry {number}: unknown member(s) {', '.join(unknown)}. Allowed: "
                    + ", ".join(sorted(self.members - {"_id"}))
                    + "."
                )
            for name, member in item.items():
                if not isinstance(member, str):
                    raise ValidationError(f"Entry {number}: {name} must be text.")
                if name in self.date_members and member and not _is_yyyymmdd(member):
                    raise ValidationError(f"Entry {number}: {name} must be a date as YYYYMMDD.")

    def run_validators(self, value: Any) -> None:
        return None

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True


def _is_yyyymmdd(value: str) -> bool:
    try:
        dt.datetime.strptime(value, "%Y%m%d")
    except ValueError:
        return False
    return len(value) == 8


BOOLEAN_CHOICES = [("true", "Yes"), ("false", "No")]


def _as_bool(value: Any) -> bool:
    return value is True or value == "true"


# -- the recipient form -------------------------------------------------------------------------


class RecipientForm(forms.Form):
    """Edit (or create) one recipient, with a field per enabled catalogue field.

    ``fields_info`` lists every field of the connection; the editable ones become form fields
    with a widget that fits their type, the others are shown read-only with the reason. In
    edit mode every field remembers its value when the form was opened (Django's hidden
    initial), so only what the user changed is sent, and ``version`` remembers the provider's
    modification time to notice a change made elsewhere meanwhile.
    """

    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        connection: Connection,
        fields_info: list[RecipientField],
        mode: Mode,
        current: Mapping[str, Any] | None = None,
        accounts: list[tuple[str, str]] | None = None,
        version: str = "",
    ) -> None:
        super().__init__(data)
        self.connection = connection
        self.provider = connection.provider_enum
        self.mode = mode
        self.current = dict(current or {})
        self.fields_info = fields_info
        self.editable = [f for f in fields_info if f.editable]
        self.readonly = [f for f in fields_info if not f.editable]
        self.forged: dict[str, str] = {}
        self.accounts = accounts
        self.account_names = dict(accounts or [])
        self.initial["version"] = version
        for info in self.editable:
            value = field_value(self.provider, self.current, info.path)
            field = self._field_for(info, value, accounts)
            field.show_hidden_initial = mode == "edit"
            self.fields[info.name] = field
            if mode == "edit":
                self.initial[info.name] = self._initial_for(info, value)

    # -- building ---------------------------------------------------------------------------

    def _field_for(
        self, info: RecipientField, value: Any, accounts: list[tuple[str, str]] | None
    ) -> forms.Field:
        spec = info.spec
        required = spec.required_on_create
        common: dict[str, Any] = {"label": spec.label, "required": required}
        help_parts = [spec.help] if spec.help else []
        kind = spec.type
        field: forms.Field
        if kind is FieldType.EMAIL:
            field = forms.EmailField(max_length=254, **common)
        elif kind is FieldType.URL:
            field = forms.URLField(max_length=TEXT_MAX_LENGTH, assume_scheme="https", **common)
        elif kind is FieldType.PHONE:
            field = forms.CharField(max_length=40, **common)
            field.widget.input_type = "tel"
            field.widget.attrs["autocomplete"] = "off"
            if self.provider is Provider.SNAPPY:
                help_parts.append("With the country code, e.g. +44 7911 123456.")
            else:
                help_parts.append("Without the country code, which is chosen beside it.")
        elif kind is FieldType.CALLING_CODE:
            choices = _with_current([*NO_VALUE, *calling_code_choices()], value)
            field = forms.ChoiceField(choices=choices, **common)
        elif kind is FieldType.COUNTRY:
            current = value.upper() if isinstance(value, str) else value
            field = forms.ChoiceField(
                choices=_with_current([*NO_VALUE, *countries], current), **common
            )
        elif kind is FieldType.DATE:
            field = forms.DateField(
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                input_formats=["%Y-%m-%d"],
                **common,
            )
            help_parts.append(f"Sent as {DATE_FORMAT_LABELS[self.provider]}.")
        elif kind is FieldType.BOOLEAN:
            if self.mode == "edit":
                choices, common["required"] = BOOLEAN_CHOICES, True
            else:
                choices = [("", "Provider default"), *BOOLEAN_CHOICES]
            field = forms.TypedChoiceField(
                choices=choices, coerce=_as_bool, empty_value=None, **common
            )
        elif kind is FieldType.CHOICE:
            field = forms.ChoiceField(
                choices=[*NO_VALUE, *((c, c) for c in spec.choices)], **common
            )
        elif kind is FieldType.ID_LIST:
            item_re = OBJECT_ID_RE if spec.path in OBJECT_ID_LISTS else None
            field = LinesField(item_re=item_re, **common)
            help_parts.append("One per line.")
        elif kind is FieldType.OBJECT_LIST:
            field = JSONListField(
                members=HISTORY_MEMBERS.get(spec.path, frozenset()),
                date_members=frozenset({"start", "end"}),
                **common,
            )
            help_parts.append("A JSON list; start and end as YYYYMMDD. The list replaces.")
        elif kind is FieldType.ACCOUNTS:
            known = list(accounts or [])
            known_ids = {account_id for account_id, _ in known}
            for account_id in value if isinstance(value, list) else []:
                if str(account_id) not in known_ids:
                    known.append((str(account_id), f"{account_id} (not listed by Snappy)"))
            field = forms.MultipleChoiceField(
                choices=known, widget=forms.CheckboxSelectMultiple, **common
            )
            field.required = True  # Snappy: at least one account, on create and on update
            # The catalogue's help is about the API (fetch, change, send the full list); the
            # form does that itself, so the person only needs the rule's consequence.
            help_parts = [
                "Replaces the whole list: the recipient will belong to exactly the accounts "
                "ticked here (at least one)."
            ]
        elif kind is FieldType.CUSTOM and self.provider is Provider.REDFLAG:
            field = TagValueField(as_list=isinstance(value, list), **common)
            help_parts.append("One value per line; several lines make a list. Empty removes it.")
        elif kind is FieldType.CUSTOM:
            field = forms.CharField(max_length=TEXT_MAX_LENGTH, **common)
            help_parts.append("Empty removes it.")
        else:
            field = forms.CharField(max_length=TEXT_MAX_LENGTH, **common)
        field.help_text = " ".join(help_parts)
        return field

    def _initial_for(self, info: RecipientField, value: Any) -> Any:
        kind = info.spec.type
        if kind is FieldType.DATE:
            return parse_provider_date(value)
        if kind is FieldType.BOOLEAN:
            return "true" if value is True else "false"
        if kind is FieldType.COUNTRY:
            return value.upper() if isinstance(value, str) else ""
        if kind is FieldType.ACCOUNTS:
            return [str(item) for item in value] if isinstance(value, list) else []
        if kind in (FieldType.ID_LIST, FieldType.OBJECT_LIST):
            return value if isinstance(value, list) else []
        if kind is FieldType.CUSTOM and isinstance(value, list):
            return [str(item) for item in value]
        if value is None or isinstance(value, dict | list):
            return ""
        return str(value)

    # -- validation -------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.mode == "edit":
            # A value the user did not change is not sent, so it is not judged either: a
            # record the provider holds in a shape our widgets would refuse stays editable.
            changed = set(self.changed_data)
            for name in list(self.errors):
                if name in self.fields and name not in changed:
                    del self.errors[name]
        self._refuse_forged_fields()
        self._check_phones(cleaned)
        return cleaned

    def _refuse_forged_fields(self) -> None:
        """Refuse values for fields the form does not offer (read-only or unknown)."""
        readonly = {info.name: info for info in self.readonly}
        prefix = CUSTOM_FIELD_PREFIX.get(self.provider)
        for name in self.data:
            if name in self.fields or name in CONTROL_NAMES or name.startswith("initial-"):
                continue
            if name in readonly:
                info = readonly[name]
                message = f"{info.spec.label} is {info.reason}: it cannot be changed here."
            elif prefix and name.startswith(prefix + "__"):
                key = name.split("__", 1)[1]
                error = custom_field_key_error(self.provider, key)
                message = (
                    f"Invalid custom field key “{key}”: {error}"
                    if error
                    else f"“{key}” is not a custom field of this connection."
                )
            elif name_to_path(name) != name:
                message = f"{name_to_path(name)} is not a field you can change here."
            else:
                continue  # an unrelated parameter, e.g. from a browser extension
            self.forged[name] = message
            self.add_error(None, message + " Nothing was sent.")

    def _check_phones(self, cleaned: dict[str, Any]) -> None:
        changed = set(self.changed_data) if self.mode == "edit" else set(self.fields)
        if self.provider is Provider.REDFLAG:
            for number_name, code_name in REDFLAG_PHONE_PAIRS.items():
                if number_name not in changed and code_name not in changed:
                    continue
                if number_name in self.errors or code_name in self.errors:
                    continue
                self._check_redflag_phone(cleaned, number_name, code_name)
        elif "mobilePhone" in changed and "mobilePhone" not in self.errors:
            value = cleaned.get("mobilePhone") or ""
            if value:
                cleaned["mobilePhone"] = self._international_phone(value, "mobilePhone")

    def _check_redflag_phone(
        self, cleaned: dict[str, Any], number_name: str, code_name: str
    ) -> None:
        def current_or_cleaned(name: str) -> str:
            if name in self.fields:
                return cleaned.get(name) or ""
            stored = self.current.get(name)
            return stored if isinstance(stored, str) else ""

        number = current_or_cleaned(number_name)
        code = current_or_cleaned(code_name)
        if not number:
            return
        if not PHONE_CHARS_RE.match(number):
            self.add_error(number_name, "Use digits only (spaces and dashes are fine).")
            return
        national = re.sub(r"\D", "", number)
        if not code:
            target = code_name if code_name in self.fields else number_name
            self.add_error(target, "Choose the country code of this number.")
            return
        try:
            parsed = phonenumbers.parse(f"+{code}{national}", None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            self.add_error(number_name, f"This is not a valid number for +{code}.")
            return
        if number_name in self.fields:
            # RedFlag keeps the number without its country code (CONTRACT-NOTES).
            cleaned[number_name] = phonenumbers.national_significant_number(parsed)

    def _international_phone(self, value: str, name: str) -> str:
        if not value.strip().startswith("+"):
            self.add_error(name, "Start with + and the country code, e.g. +44 7911 123456.")
            return value
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            self.add_error(name, "This is not a valid phone number.")
            return value
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    # -- results ----------------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """The fields to send, by catalogue path, as the provider takes them.

        Edit: only the fields the user changed. Create: every field given a value.
        """
        names = self.changed_data if self.mode == "edit" else list(self.fields)
        changes: dict[str, Any] = {}
        for info in self.editable:
            if info.name not in names or info.name not in self.cleaned_data:
                continue
            value = self._provider_value(info, self.cleaned_data[info.name])
            if self.mode == "create" and value in (None, "", []):
                continue
            changes[info.path] = value
        return changes

    def _provider_value(self, info: RecipientField, value: Any) -> Any:
        kind = info.spec.type
        if kind is FieldType.DATE:
            return value.strftime(DATE_FORMATS[self.provider]) if value else ""
        if kind in (FieldType.STRING, FieldType.EMAIL, FieldType.URL, FieldType.PHONE):
            return value or ""
        if kind in (FieldType.COUNTRY, FieldType.CALLING_CODE, FieldType.CHOICE):
            return value or ""
        if kind is FieldType.ACCOUNTS:
            return list(value)
        return value

    def _opened(self, info: RecipientField) -> Any:
        """The form value this field had when the form was opened (its hidden initial)."""
        field = self.fields[info.name]
        raw = field.hidden_widget().value_from_datadict(
            self.data, self.files, self[info.name].html_initial_name
        )
        try:
            return field.clean(raw)
        except ValidationError:
            try:
                return field.to_python(raw)
            except ValidationError:
                return None

    def opened_value(self, info: RecipientField) -> Any:
        """The provider's value of this field when the form was opened (edit mode)."""
        return self._provider_value(info, self._opened(info))

    def changed_since_opened(self, info: RecipientField, fresh: Mapping[str, Any]) -> bool:
        """Whether the provider's value differs now from when the form was opened."""
        theirs = self._initial_for(info, field_value(self.provider, fresh, info.path))
        return self.fields[info.name].has_changed(self._opened(info), theirs)

    def rebased(self, fresh: Mapping[str, Any]) -> QueryDict:
        """This form's data moved onto the provider's current record (after a conflict).

        Fields the user changed keep their value and the value they were opened with, so they
        are still sent; every other field shows, and now starts from, the current value.
        """
        data = self.data.copy() if isinstance(self.data, QueryDict) else QueryDict(mutable=True)
        if not isinstance(self.data, QueryDict):
            for key, value in self.data.items():
                data.setlist(key, value if isinstance(value, list) else [value])
        changed = set(self.changed_data)
        for info in self.editable:
            if info.name in changed:
                continue
            value = self._widget_value(info, field_value(self.provider, fresh, info.path))
            for key in (info.name, self[info.name].html_initial_name):
                data.setlist(key, value if isinstance(value, list) else [value])
        return data

    def _widget_value(self, info: RecipientField, raw: Any) -> str | list[str]:
        """A stored value as a browser would submit it for this field."""
        prepared = self.fields[info.name].prepare_value(self._initial_for(info, raw))
        if isinstance(prepared, dt.date):
            return prepared.isoformat()
        if isinstance(prepared, list):
            return [str(item) for item in prepared]
        return "" if prepared is None else str(prepared)

    def apply_provider_errors(self, field_errors: Mapping[str, list[str]], fallback: str) -> None:
        """Show the provider's per-field messages next to the fields they name."""
        placed = False
        for path, messages in field_errors.items():
            name = self._name_for_path(path)
            for message in messages:
                if name:
                    self.add_error(name, message)
                    placed = True
                else:
                    where = "" if path in ("", "__all__") else f"{path}: "
                    self.add_error(None, where + message)
        if not placed and fallback:
            self.add_error(None, fallback)

    def _name_for_path(self, path: str) -> str | None:
        """The form field a provider's path names, or its closest parent that is a field."""
        parts = path.split(".")
        while parts:
            name = path_to_name(".".join(parts))
            if name in self.fields:
                return name
            parts = parts[:-1]
        return None

    # -- presentation -----------------------------------------------------------------------

    def hidden_initials(self) -> SafeString:
        """The values each field had when the form was opened, as hidden inputs (edit mode)."""
        return mark_safe(  # noqa: S308 - widgets render escaped HTML
            "".join(
                str(bound.as_hidden(only_initial=True))
                for bound in self
                if bound.field.show_hidden_initial
            )
        )

    def groups(self) -> list[dict[str, Any]]:
        """Fields by catalogue group: the editable ones (bound fields) first, then the
        read-only ones (value and reason) as a compact list.

        A RedFlag number and its calling code, both editable, make one entry (``pair``) so
        the page shows them side by side: a phone with its country.
        """
        paired = {
            code: number
            for number, code in REDFLAG_PHONE_PAIRS.items()
            if self.provider is Provider.REDFLAG and number in self.fields and code in self.fields
        }
        groups: dict[str, dict[str, Any]] = {}
        for info in self.fields_info:
            group = groups.setdefault(
                info.spec.group, {"name": info.spec.group, "fields": [], "readonly": []}
            )
            if info.name in paired:
                continue
            entry = self._entry(info)
            if entry["readonly"]:
                group["readonly"].append(entry)
                continue
            code = next((c for c, n in paired.items() if n == info.name), None)
            if code is not None:
                entry = {
                    "pair": True,
                    "code": self._entry(self._info(code)),
                    "number": entry,
                }
            group["fields"].append(entry)
        return list(groups.values())

    def _info(self, name: str) -> RecipientField:
        return next(info for info in self.fields_info if info.name == name)

    def _entry(self, info: RecipientField) -> dict[str, Any]:
        entry: dict[str, Any]
        if self.mode == "create" and not info.editable:
            entry = {"info": info, "readonly": True, "value": ""}
        elif info.editable:
            entry = {"info": info, "readonly": False, "bound": self[info.name]}
        else:
            value = field_value(self.provider, self.current, info.path)
            entry = {
                "info": info,
                "readonly": True,
                "value": display_field_value(info.spec, value, self.account_names),
            }
        entry["forged"] = self.forged.get(info.name, "")
        return entry


class DeleteForm(forms.Form):
    confirm = forms.CharField(max_length=400, strip=True)

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        self.expected = expected
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value.casefold() != self.expected.casefold():
            raise ValidationError("Type the recipient's email exactly to confirm.")
        return value
