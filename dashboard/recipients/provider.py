"""The provider client the recipient pages use: a person is waiting, so timeouts are short."""

from __future__ import annotations

from django.conf import settings

from dashboard.connections.models import Connection
from integrations.connection import ProviderClient, connection_client


def recipient_client(connection: Connection) -> ProviderClient:
    """A client for ``connection`` that obeys its field settings.

    Raises ``CredentialsMissing``/``CredentialsUnreadable`` and ``BaseURLRefused`` before any
    request. Options come from ``RECIPIENT_CLIENT_OPTIONS``.
    """
    return connection_client(connection, **settings.RECIPIENT_CLIENT_OPTIONS)
