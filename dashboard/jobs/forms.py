from __future__ import annotations

from typing import Any

from django import forms

from integrations.models import JobKind, JobStatus

SORTS = [
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("failed", "Most failed items"),
    ("longest", "Longest running"),
]


class JobFilterForm(forms.Form):
    """Filters of the sync history. An invalid field is reported and left out, never a 500."""

    connection = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Connection"
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any"), *JobStatus.choices], label="Status"
    )
    kind = forms.ChoiceField(required=False, choices=[("", "Any"), *JobKind.choices], label="Kind")
    started_by = forms.CharField(required=False, max_length=150, label="Started by")
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="From")
    until = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="To")
    sort = forms.ChoiceField(required=False, choices=SORTS, label="Sort")

    def __init__(self, data: Any, *, connections: list[tuple[int, str]]) -> None:
        super().__init__(data)
        connection = self.fields["connection"]
        assert isinstance(connection, forms.ChoiceField)
        connection.choices = [("", "Any"), *connections]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The “To” date is before the “From” date.")
        return data

    def error_messages(self) -> list[str]:
        """Each problem in plain words, naming the filter it concerns."""
        messages = []
        for name, errors in self.errors.items():
            field = self.fields.get(name)
            for error in errors:
                prefix = f"{field.label}: " if field is not None else ""
                messages.append(f"{prefix}{error} This filter was left out.")
        return messages

    def valid_filters(self) -> dict[str, Any]:
        """The filters that passed validation (call after ``is_valid``)."""
        data = getattr(self, "cleaned_data", {})
        return {
            "connection_id": data.get("connection"),
            "status": data.get("status") or "",
            "kind": data.get("kind") or "",
            "started_by": (data.get("started_by") or "").strip(),
            "since": data.get("since"),
            "until": data.get("until"),
            "sort": data.get("sort") or "newest",
        }


class AcknowledgeForm(forms.Form):
    comment = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Comment",
        help_text="What was done about it, or why no action is needed. Saved with your name.",
    )

    def clean_comment(self) -> str:
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise forms.ValidationError("Write a comment.")
        return comment
