"""The provider client the recipient pages use: a person is waiting, so timeouts are short."""

from __future__ import annotations

from django.conf import settings

from integrations.connection import RecipientClient, connection_recipient_client
from integrations.models import Connection


def recipient_client(connection: Connection) -> RecipientClient:
    """A client for ``connection`` that obeys its field settings.

    Raises ``CredentialsMissing``/``CredentialsUnreadable``, ``BaseURLRefused`` and, for a
    connection without a recipient directory, ``WrongProvider``, before any request. Options
    come from ``RECIPIENT_CLIENT_OPTIONS``.
    """
    return connection_recipient_client(connection, **settings.RECIPIENT_CLIENT_OPTIONS)
