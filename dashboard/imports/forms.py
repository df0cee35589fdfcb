from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from dashboard.connections.models import Connection
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
