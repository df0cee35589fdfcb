from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.db.models.functions import Lower

from integrations.catalogue import Provider, custom_field_key_error
from integrations.models import Connection, Environment
from integrations.urlguard import UnsafeURL, check_base_url

SNAPPY_COMPANY_ID_RE = re.compile(r"^[A-Za-z0-9]{8,}$")
SNAPPY_API_KEY_RE = re.compile(r"^[A-Za-z0-9]{24}$")
PULL_INTERVALS = [
    ("", "Only when someone asks"),
    (15, "Every 15 minutes"),
    (60, "Every hour"),
    (360, "Every 6 hours"),
    (1440, "Every day"),
]
REQUEST_SOURCES = ["api_native", "api_zapier", "api_salesforce", "api_ftp", "api_make"]

SECRET_LABELS = {
    Provider.REDFLAG: ("Bearer token", "From More > Integrations > Recipient API in RedFlag."),
    Provider.SNAPPY: ("API key", "The 24-character key sent as X-Api-Key."),
    Provider.PARCELVOY: ("Secret key", "An sk_… admin API key (editor role or above)."),
}
DEFAULT_BASE_URLS = {
    Provider.REDFLAG: "https://",
    Provider.SNAPPY: "https://api.snappy.com/public-api",
    Provider.PARCELVOY: "https://",
}


class ConnectionForm(forms.Form):
    """Create or edit one provider's connection. The secret is write-only."""

    name = forms.CharField(max_length=100, help_text="A name your team recognises.")
    environment = forms.ChoiceField(
        choices=Environment.choices,
        widget=forms.RadioSelect,
        help_text="Test against a staging account before connecting production.",
    )
    base_url = forms.CharField(label="Base URL", max_length=500)
    secret = forms.CharField(
        required=False,
        strip=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(
        self, *args: Any, provider: Provider, instance: Connection | None = None, **kwargs: Any
    ) -> None:
        self.provider = provider
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "environment": instance.environment,
                "base_url": instance.base_url,
                **instance.options,
            }
        super().__init__(*args, **kwargs)
        if instance is None:
            self.fields["base_url"].initial = DEFAULT_BASE_URLS[provider]
            self.fields["environment"].initial = Environment.STAGING
        label, help_text = SECRET_LABELS[provider]
        self.fields["secret"].label = label
        # Required when there is nothing stored to keep (clean_secret words the message).
        self.fields["secret"].required = instance is None or instance.secret is None
        self.fields["secret"].error_messages["required"] = f"Enter the {label.lower()}."
        if instance is not None and instance.secret is not None:
            self.fields[
                "secret"
            ].help_text = (
                f"{help_text} Leave blank to keep the stored one ({instance.secret_masked})."
            )
        else:
            self.fields["secret"].help_text = help_text
        if provider in (Provider.REDFLAG, Provider.SNAPPY):
            self.fields["pull_interval_minutes"] = forms.TypedChoiceField(
                label="Refresh the recipient mirror",
                choices=PULL_INTERVALS,
                coerce=int,
                empty_value=None,
                required=False,
                initial="" if instance is None else (instance.pull_interval_minutes or ""),
                help_text="Support staff search the mirror; a fresher mirror costs more calls.",
            )
        if provider is Provider.REDFLAG:
            self.fields["location_id"] = forms.CharField(
                label="Location ID",
                max_length=100,
                required=False,
                help_text="The RedFlag location this token belongs to.",
            )
        elif provider is Provider.SNAPPY:
            self.fields["company_id"] = forms.CharField(
                label="Company ID",
                max_length=64,
                required=False,
                help_text="Only when the key cannot infer it: 8 or more letters and digits.",
            )
            self.fields["request_source"] = forms.ChoiceField(
                label="Request source",
                choices=[(s, s) for s in REQUEST_SOURCES],
                initial="api_native",
                help_text="Sent as the Request-Source header.",
            )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Enter a name.")
        taken = Connection.objects.annotate(lname=Lower("name")).filter(lname=name.lower())
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A connection with this name already exists.")
        return name

    def clean_base_url(self) -> str:
        try:
            return check_base_url(
                self.cleaned_data["base_url"],
                allow_loopback=settings.ALLOW_LOOPBACK_PROVIDER_URLS,
            )
        except UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_secret(self) -> str | None:
        """Return the new secret, or None to keep the stored one."""
        raw = self.cleaned_data.get("secret") or ""
        label = SECRET_LABELS[self.provider][0].lower()
        if raw == "":
            if self.instance is None or self.instance.secret is None:
                raise forms.ValidationError(f"Enter the {label}.")
            return None
        secret = raw.strip()
        if not secret:
            raise forms.ValidationError(f"The {label} cannot be only spaces.")
        if any(ch.isspace() for ch in secret):
            raise forms.ValidationError(f"The {label} cannot contain spaces or line breaks.")
        if self.provider is Provider.PARCELVOY:
            if secret.startswith("pk_"):
                raise forms.ValidationError(
                    "This is a public key (pk_…); triggers need a secret key (sk_…)."
                )
            if not secret.startswith("sk_"):
                raise forms.ValidationError("A Parcelvoy secret key starts with sk_.")
        if self.provider is Provider.SNAPPY and not SNAPPY_API_KEY_RE.match(secret):
            raise forms.ValidationError("A Snappy API key is 24 letters and digits.")
        return secret

    def clean_company_id(self) -> str:
        value = self.cleaned_data.get("company_id", "").strip()
        if value and not SNAPPY_COMPANY_ID_RE.match(value):
            raise forms.ValidationError(
                "A company ID is at least 8 letters and digits, with no spaces or symbols."
            )
        return value

    def clean_location_id(self) -> str:
        return self.cleaned_data.get("location_id", "").strip()

    @property
    def options(self) -> dict[str, str]:
        keys = {
            Provider.REDFLAG: ["location_id"],
            Provider.SNAPPY: ["company_id", "request_source"],
            Provider.PARCELVOY: [],
        }[self.provider]
        return {key: self.cleaned_data[key] for key in keys if self.cleaned_data.get(key)}


class CustomFieldForm(forms.Form):
    key = forms.CharField(max_length=64, strip=False)
    label = forms.CharField(max_length=120, required=False)

    def __init__(self, *args: Any, connection: Connection, **kwargs: Any) -> None:
        self.connection = connection
        super().__init__(*args, **kwargs)
        if connection.provider_enum is Provider.REDFLAG:
            self.fields["key"].help_text = 'Starts with "z_", e.g. z_costCentre.'
            self.fields["key"].widget.attrs["placeholder"] = "z_costCentre"
        else:
            self.fields["key"].help_text = "The field name, e.g. shirtSize."
            self.fields["key"].widget.attrs["placeholder"] = "shirtSize"

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        error = custom_field_key_error(self.connection.provider, key)
        if error:
            raise forms.ValidationError(error)
        return key
