"""Test sends of campaign triggers, the campaigns an admin has named, and the test allowlist."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"


# The user key that carries each channel's address in a Parcelvoy trigger.
CHANNEL_ADDRESS_FIELD = {Channel.EMAIL: "email", Channel.SMS: "phone", Channel.PUSH: "device_token"}


class Outcome(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    REFUSED = "refused", "Refused"
    UNKNOWN_CAMPAIGN = "unknown_campaign", "Unknown campaign"
    BAD_CREDENTIALS = "bad_credentials", "Bad credentials"
    FORBIDDEN = "forbidden", "Not allowed"
    TIMEOUT = "timeout", "No answer"
    ERROR = "error", "Failed"


class TestSend(models.Model):
    """One campaign trigger an admin sent (or tried to send) to one person.

    ``request_id`` is the hidden id of the submitted form: unique, so a double-clicked Send
    creates one row and triggers once. ``address_masked`` is all that is shown; the plain
    ``email_lower`` and ``external_id`` are kept so the recipient page can list a person's
    test sends.
    """

    __test__ = False  # not a pytest test class, despite the name

    request_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField(max_length=150)
    connection = models.ForeignKey(
        "integrations.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="test_sends",
    )
    connection_name = models.CharField(max_length=100)
    environment = models.CharField(max_length=20, blank=True)
    campaign_id = models.PositiveIntegerField()
    campaign_label = models.CharField(max_length=120, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address_masked = models.CharField(max_length=120)
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    email_lower = models.CharField(max_length=320, blank=True, db_index=True)
    timezone = models.CharField(max_length=64, blank=True)
    locale = models.CharField(max_length=35, blank=True)
    outside_allowlist = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.SENDING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    reply_message = models.CharField(max_length=500, blank=True)
    # The form field a 422 concerns ("phone", "external_id", "event"…), when the reply names one.
    reply_field = models.CharField(max_length=60, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"Test send {self.pk}: campaign {self.campaign_id} to {self.address_masked}"

    @property
    def campaign_display(self) -> str:
        return (
            f"{self.campaign_id} · {self.campaign_label}"
            if self.campaign_label
            else str(self.campaign_id)
        )

    @property
    def succeeded(self) -> bool:
        return self.outcome == Outcome.SENT


class RememberedCampaign(models.Model):
    """A campaign id an admin has used on a connection: its label, channel and last event."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="remembered_campaigns"
    )
    campaign_id = models.PositiveIntegerField()
    label = models.CharField(max_length=120, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    event_json = models.TextField(blank=True)
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_used_at", "campaign_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "campaign_id"], name="remembered_campaign_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} · {self.label}" if self.label else str(self.campaign_id)


class AllowlistEntry(models.Model):
    """An address (email, E.164 phone, device token) or an ``@domain`` safe for test sends."""

    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="test_allowlist"
    )
    value = models.CharField(max_length=320)
    note = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["value"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "value"], name="allowlist_entry_unique")
        ]

    def __str__(self) -> str:
        return self.value

    @property
    def is_domain(self) -> bool:
        return self.value.startswith("@")
