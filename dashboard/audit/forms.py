from typing import Any

from django import forms


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=60)
    actor = forms.CharField(required=False, max_length=150)
    target = forms.CharField(required=False, max_length=300)
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The “From” date is after the “To” date.")
        return data
