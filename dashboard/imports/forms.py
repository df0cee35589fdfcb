from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms

from dashboard.connections.models import Connection
from integrations.catalogue import FieldSpec, FieldType
from integrations.importing.cells import MAX_CELL_CHARS
from integrations.importing.reading import DELIMITER_CHOICES, ENCODING_CHOICES


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
