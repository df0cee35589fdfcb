from __future__ import annotations

from typing import Any

from django import forms

from dashboard.connections.models import Connection
from integrations.importing.dates import ORDER_NAMES
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


class DateOrderForm(forms.Form):
    """How one date column writes its dates: day first or month first."""

    column = forms.IntegerField(min_value=0)
    order = forms.ChoiceField(choices=list(ORDER_NAMES.items()))
