from django.db import models

from dashboard.accounts.roles import CAPABILITY_LABELS


class Capabilities(models.Model):
    """Holds the capability permissions; no table (``managed = False``)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(cap.value, label) for cap, label in CAPABILITY_LABELS.items()]

    def __str__(self) -> str:
        return "capabilities"
