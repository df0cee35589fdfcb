from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from dashboard.core.crypto import EncryptedSecretField
from integrations.catalogue import PROVIDER_LABELS, Provider


class Environment(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class TestOutcome(models.TextChoices):
    OK = "ok", "Connected"
    BAD_CREDENTIALS = "bad_credentials", "Bad credentials"
    FORBIDDEN = "forbidden", "Not allowed"
    UNREACHABLE = "unreachable", "Unreachable"
    ERROR = "error", "Provider error"


PROVIDER_CHOICES = [(p.value, PROVIDER_LABELS[p]) for p in Provider]


class Connection(models.Model):
    """A provider account. The secret is encrypted at rest and never rendered."""

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=PROVIDER_CHOICES)
    environment = models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.STAGING
    )
    base_url = models.CharField(max_length=500)
    # The one credential each provider needs: RedFlag bearer token, Snappy API key,
    # Parcelvoy secret key. See ``secret_hint`` for what may be shown.
    secret = EncryptedSecretField(null=True, blank=True)
    secret_hint = models.CharField(max_length=4, blank=True)
    secret_set_at = models.DateTimeField(null=True, blank=True)
    secret_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Provider extras: RedFlag location_id; Snappy company_id, request_source.
    options = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    # Refresh the recipient mirror every N minutes (None: only on demand).
    pull_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    mirror_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Snappy does not publish its update method (CONTRACT-NOTES): the one its server
    # accepted, learned by a client after a 405 and stored so every later client of this
    # connection sends it at once. Blank: not known yet.
    snappy_update_method = models.CharField(
        max_length=5, blank=True, choices=[("PATCH", "PATCH"), ("PUT", "PUT")]
    )

    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_outcome = models.CharField(max_length=20, choices=TestOutcome.choices, blank=True)
    last_test_message = models.CharField(max_length=500, blank=True)
    last_test_latency_ms = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="connection_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def provider_enum(self) -> Provider:
        return Provider(self.provider)

    @property
    def is_production(self) -> bool:
        return self.environment == Environment.PRODUCTION

    @property
    def secret_masked(self) -> str:
        return f"••••{self.secret_hint}" if self.secret is not None else "not set"

    @property
    def secret_readable(self) -> bool:
        return self.secret is not None and self.secret.readable

    @property
    def status(self) -> str:
        """One word for lists: disabled, unreadable, missing, untested, or the last outcome."""
        if not self.is_active:
            return "disabled"
        if self.secret is None:
            return "missing"
        if not self.secret_readable:
            return "unreadable"
        return self.last_test_outcome or "untested"


class FieldSetting(models.Model):
    """Whether one catalogue field (or custom field) of a connection may be synced.

    A catalogue field without a row uses its catalogue default; custom fields always have a row.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="fields")
    path = models.CharField(max_length=200)
    enabled = models.BooleanField(default=False)
    custom = models.BooleanField(default=False)
    label = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "path"], name="field_setting_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connection}: {self.path} ({'on' if self.enabled else 'off'})"
