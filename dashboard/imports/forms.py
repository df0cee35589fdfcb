from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from integrations.catalogue import FieldSpec, FieldType
from integrations.importing.cells import MAX_CELL_CHARS
from integrations.importing.dates import ORDER_NAMES
from integrations.importing.layout import MAX_HEADER_ROW
from integrations.importing.reading import DELIMITER_CHOICES, ENCODING_CHOICES
from integrations.models import Connection


class UploadForm(forms.Form):
    connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(),
        empty_label="Choose a connection",
        help_text="The provider account the rows will be sent to.",
    )
    file = forms.FileField(
        label="CSV or Excel file",
        help_text="A CSV export from your HR system or Excel (any encoding; comma, semicolon, "
        "tab or pipe separated) or an Excel workbook (.xlsx: its first sheet is read).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["connection"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Connection.objects.filter(
            is_active=True, provider__in=["redflag", "snappy"]
        )


class ReadingForm(forms.Form):
    encoding = forms.ChoiceField(choices=ENCODING_CHOICES)
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES)


class ConstantsForm(forms.Form):
    """A value for every row, one per field that may have one: a list to pick from where
    the value is one of a list (the provider's accounts, a choice, yes or no), text
    otherwise. The text is cleaned as a cell of the field would be when it is saved."""

    prefix = "constant"

    def __init__(
        self,
        *args: Any,
        fields: Sequence[FieldSpec],
        lists: Mapping[str, Sequence[tuple[str, str]]],
        provider: str,
        helps: Mapping[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for spec in fields:
            current = str(self.initial.get(spec.path) or "")
            field: forms.Field
            if spec.path in lists:
                choices = [("", "(none)")] + [(value, name) for name, value in lists[spec.path]]
                if current and current not in {value for value, _ in choices}:
                    choices.append((current, f"{current} (not listed by {provider})"))
                field = forms.ChoiceField(choices=choices)
            elif spec.type is FieldType.CHOICE:
                field = forms.ChoiceField(
                    choices=[("", "(none)")] + [(choice, choice) for choice in spec.choices]
                )
            elif spec.type is FieldType.BOOLEAN:
                field = forms.ChoiceField(choices=[("", "(none)"), ("yes", "Yes"), ("no", "No")])
            else:
                field = forms.CharField(max_length=MAX_CELL_CHARS)
            field.required = False
            field.label = spec.label
            field.help_text = helps.get(spec.path, "")
            self.fields[spec.path] = field


class LayoutForm(forms.Form):
    """Where the rows are: the sheet of a workbook, and the row that names the columns."""

    sheet = forms.ChoiceField(
        required=False,
        help_text="Choosing another sheet finds its header row again, unless you set one too.",
    )
    header_row = forms.IntegerField(
        label="Header row",
        required=False,
        min_value=1,
        max_value=MAX_HEADER_ROW,
        help_text="The row number your spreadsheet shows for the column names; the rows above "
        "it are skipped. Leave it empty to find it again.",
        error_messages={
            "invalid": "Enter the header's row number, such as 1 or 3.",
            "min_value": "Row numbers start at 1. For a file without column names, tick "
            "“The file has no header row”.",
            "max_value": f"The header must be on one of the first {MAX_HEADER_ROW:,} rows.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    no_header = forms.BooleanField(
        label="The file has no header row",
        required=False,
        help_text="Every row is data; the columns are named Column 1, Column 2….",
    )

    def __init__(self, *args: Any, sheets: list[dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["sheet"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [_sheet_choice(sheet) for sheet in sheets or []]

    def layout(self) -> tuple[str, int | None]:
        """The sheet chosen and the header row: 0 for none; None to find it (left empty, or
        left as it was while another sheet was chosen)."""
        sheet = self.cleaned_data.get("sheet") or ""
        if self.cleaned_data.get("no_header"):
            return sheet, 0
        if "sheet" in self.changed_data and "header_row" not in self.changed_data:
            return sheet, None
        header_row: int | None = self.cleaned_data.get("header_row")
        return sheet, header_row


def _sheet_choice(sheet: dict[str, Any] | str) -> tuple[str, str]:
    """A sheet of ``Import.sheets`` ({"name", "empty"}, or a bare name) as a choice."""
    if isinstance(sheet, str):
        return sheet, sheet
    name = str(sheet["name"])
    return name, f"{name} (empty)" if sheet.get("empty") else name


class FixCellForm(forms.Form):
    """A new value for one cell of an invalid preview row (the service checks the value)."""

    column = forms.IntegerField()
    value = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A NUL byte is refused by the service, in the words it uses for every bad value.
        self.fields["value"].validators = [
            validator
            for validator in self.fields["value"].validators
            if not isinstance(validator, ProhibitNullCharactersValidator)
        ]


class DateOrderForm(forms.Form):
    """How one date column writes its dates: day first or month first."""

    column = forms.IntegerField(min_value=0)
    order = forms.ChoiceField(choices=list(ORDER_NAMES.items()))
