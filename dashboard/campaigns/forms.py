from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.db.models import QuerySet
from django_countries import countries

from dashboard.campaigns import validation
from dashboard.campaigns.models import CHANNEL_ADDRESS_FIELD, Channel
from dashboard.campaigns.services import TestSendData
from integrations.catalogue import Provider
from integrations.models import Connection

CAMPAIGN_ID_RE = re.compile(r"^[0-9]{1,9}$")
DOMAIN_RE = re.compile(r"^@(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
DEVICE_TOKEN_RE = re.compile(r"^[A-Za-z0-9:_\-.]{8,300}$")


class ChannelAddressField(forms.CharField):
    """Shown as required (it is, for its channel); ``TestSendForm.clean`` checks it."""

    def validate(self, value: Any) -> None:
        pass


class ConnectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Connection) -> str:
        return f"{obj.name} ({obj.get_environment_display()})"


def campaign_connections() -> QuerySet[Connection]:
    return Connection.objects.filter(provider=Provider.PARCELVOY.value, is_active=True)


class TestSendForm(forms.Form):
    """One campaign trigger for one person. Only the chosen channel's address is required."""

    __test__ = False

    connection = ConnectionChoiceField(
        queryset=Connection.objects.none(),
        empty_label="Choose a campaign connection",
        error_messages={"required": "Choose the campaign connection to send through."},
    )
    campaign_id = forms.CharField(
        label="Campaign id",
        max_length=20,
        help_text="The number in the campaign's address in Parcelvoy.",
        error_messages={"required": "Enter the campaign's number."},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "list": "remembered-campaign-ids", "autocomplete": "off"}
        ),
    )
    campaign_label = forms.CharField(
        label="Campaign name",
        max_length=120,
        required=False,
        help_text="Remembered with the id, so the next test is one pick away.",
    )
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.RadioSelect)
    external_id = forms.CharField(
        label="External id",
        max_length=200,
        help_text="The person's id in Parcelvoy (usually the HR system's employee id).",
        error_messages={"required": "Enter the person's external id."},
    )
    email = ChannelAddressField(max_length=320, label="Email address")
    phone_country = forms.ChoiceField(label="Country", required=False)
    phone = ChannelAddressField(
        label="Mobile number",
        max_length=40,
        help_text="International form (+44 7911 123456), or pick the country.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    device_token = ChannelAddressField(label="Device token", max_length=300)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,
        help_text="Parcelvoy schedules by it and does not check it. Type to search.",
        widget=forms.TextInput(attrs={"list": "timezone-names", "autocomplete": "off"}),
    )
    locale = forms.CharField(
        max_length=35,
        required=False,
        help_text="A language tag such as en, en-GB or pt-BR. Parcelvoy does not check it.",
    )
    event = forms.CharField(
        label="Event data (JSON)",
        required=False,
        strip=False,
        help_text='An object the campaign\'s template can use, e.g. {"shift": "Monday 9:00"}.',
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
    )
    request_id = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connection = self.fields["connection"]
        phone_country = self.fields["phone_country"]
        assert isinstance(connection, ConnectionChoiceField)
        assert isinstance(phone_country, forms.ChoiceField)
        connection.queryset = campaign_connections()
        phone_country.choices = [("", "International"), *countries]
        if not self.is_bound:
            self.initial.setdefault("request_id", uuid.uuid4())
            self.initial.setdefault("channel", Channel.EMAIL)

    # Bad input gets one clear message per field (see validation.py for the rules).
    def clean_campaign_id(self) -> int:
        raw = self.cleaned_data["campaign_id"].strip()
        if raw.startswith("#"):
            raw = raw[1:]
        if not CAMPAIGN_ID_RE.match(raw) or int(raw) < 1:
            raise forms.ValidationError(
                "A campaign id is a whole number, like 44: the number in the campaign's address."
            )
        return int(raw)

    def clean_email(self) -> str:
        return self._checked(validation.clean_email, "email")

    def clean_device_token(self) -> str:
        value = self.cleaned_data["device_token"].strip()
        if value and not DEVICE_TOKEN_RE.match(value):
            raise forms.ValidationError(
                "A device token is 8 or more letters, digits and : _ - . without spaces."
            )
        return value

    def clean_timezone(self) -> str:
        return self._checked(validation.clean_timezone, "timezone")

    def clean_locale(self) -> str:
        return self._checked(validation.clean_locale, "locale")

    def clean_event(self) -> dict[str, Any]:
        try:
            return validation.clean_event(self.cleaned_data["event"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def _checked(self, check: Callable[[str], str], name: str) -> str:
        value = self.cleaned_data[name].strip()
        if not value:
            return ""
        try:
            return check(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        phone = cleaned.get("phone", "")
        if phone:
            try:
                cleaned["phone"] = validation.clean_phone(phone, cleaned.get("phone_country", ""))
            except ValueError as exc:
                self.add_error("phone", str(exc))
        channel = cleaned.get("channel")
        if channel:
            field = CHANNEL_ADDRESS_FIELD[Channel(channel)]
            if not self.data.get(field, "").strip() and field not in self.errors:
                what = {"email": "email address", "phone": "mobile number"}.get(
                    field, "device token"
                )
                self.add_error(field, f"Enter the {what}: a {Channel(channel).label} goes there.")
        return cleaned

    def send_data(self) -> TestSendData:
        data = self.cleaned_data
        channel = Channel(data["channel"])
        return TestSendData(
            connection=data["connection"],
            campaign_id=data["campaign_id"],
            campaign_label=data["campaign_label"].strip(),
            channel=channel,
            external_id=data["external_id"].strip(),
            address=data[CHANNEL_ADDRESS_FIELD[channel]],
            timezone=data["timezone"],
            locale=data["locale"],
            event=data["event"],
            event_text=self.data.get("event", ""),
        )


class AllowlistEntryForm(forms.Form):
    value = forms.CharField(
        label="Address or domain",
        max_length=320,
        help_text="An email address, @domain (every address there), a +phone or a device token.",
    )
    note = forms.CharField(
        max_length=120, required=False, help_text="Whose it is, e.g. “Ada's phone”."
    )

    def clean_value(self) -> str:
        value = self.cleaned_data["value"].strip()
        if value.startswith("@"):
            value = value.lower()
            if not DOMAIN_RE.match(value):
                raise forms.ValidationError("A domain looks like @example.com.")
            return value
        try:
            if "@" in value:
                return validation.clean_email(value).lower()
            if value.startswith("+"):
                return validation.clean_phone(value, "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        if DEVICE_TOKEN_RE.match(value) and not value.isdigit():
            return value
        raise forms.ValidationError(
            "Enter an email address, an @domain, a phone number starting with +, or a device token."
        )
