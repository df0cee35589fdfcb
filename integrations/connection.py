"""Build a provider client from a stored ``Connection``.

The client gets the connection's base URL (checked against the address rules), its
credential, its options and its enabled fields. The secret is decrypted here, where the
client is built, and nowhere earlier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypedDict, Unpack

import httpx
from django.conf import settings
from django.db import connection as db_connection

from integrations.catalogue import enabled_paths
from integrations.clients import CampaignClient, RedFlagClient, SnappyClient, client_for
from integrations.clients.base import RequestEvent
from integrations.clients.errors import CredentialsMissing, ProviderError
from integrations.clients.ratelimit import RateLimiter, account_rate_limit_key
from integrations.crypto import UnreadableSecret
from integrations.models import Connection
from integrations.urlguard import AddressRules, UnsafeURL, check_base_url

ProviderClient = RedFlagClient | SnappyClient | CampaignClient
# The providers that keep a recipient directory (Parcelvoy only triggers campaigns).
RecipientClient = RedFlagClient | SnappyClient
CREDENTIAL_FIELD = {"redflag": "token", "snappy": "api_key", "parcelvoy": "secret_key"}


class ClientOptions(TypedDict, total=False):
    """What a caller may set on the client it gets (``BaseClient`` and Snappy's extras)."""

    connect_timeout: float | None
    read_timeout: float | None
    write_timeout: float | None
    pool_timeout: float | None
    max_attempts: int | None
    total_timeout: float | None
    backoff_base: float | None
    backoff_cap: float | None
    max_reply_bytes: int | None
    max_record_bytes: int | None
    rate_limit: float | None
    rate_limit_key: str | None
    rate_limiter: RateLimiter | None
    rate_limit_redis_url: str | None
    transport: httpx.BaseTransport | None
    address_rules: AddressRules | None
    limits: httpx.Limits | None
    trust_env: bool
    sleep: Callable[[float], object] | None
    clock: Callable[[], float] | None
    wall_clock: Callable[[], float] | None
    jitter: Callable[[], float] | None
    on_request: Callable[[RequestEvent], object] | None
    update_method: str | None
    on_update_method: Callable[[str], object] | None


class CredentialsUnreadable(CredentialsMissing):
    default_message = (
        "The stored credentials cannot be decrypted with the configured keys: re-enter them."
    )


class BaseURLRefused(ProviderError):
    default_message = "The connection's base URL is not allowed."


class WrongProvider(ProviderError):
    default_message = "The connection's provider does not offer this."


def connection_enabled_paths(connection: Connection) -> frozenset[str]:
    return enabled_paths(
        connection.provider, connection.fields.values_list("path", "enabled", "custom")
    )


def connection_client(connection: Connection, **options: Unpack[ClientOptions]) -> ProviderClient:
    """A client for ``connection`` that obeys its field settings.

    Raises ``CredentialsMissing`` (or ``CredentialsUnreadable``) and ``BaseURLRefused``
    before any request is made. A Snappy client gets the update method stored for the
    connection and stores the one it learns (``Connection.snappy_update_method``).
    """
    try:
        check_base_url(connection.base_url, allow_loopback=settings.ALLOW_LOOPBACK_PROVIDER_URLS)
    except UnsafeURL as exc:
        raise BaseURLRefused(str(exc), provider=connection.provider) from None
    if connection.secret is None:
        raise CredentialsMissing(provider=connection.provider)
    try:
        secret = connection.secret.reveal()
    except UnreadableSecret:
        raise CredentialsUnreadable(provider=connection.provider) from None
    # One bucket per provider account (shared by its connections), in Redis when configured.
    options.setdefault(
        "rate_limit_key",
        account_rate_limit_key(
            connection.provider,
            connection.base_url,
            secret,
            scope=str((connection.options or {}).get("company_id") or ""),
            pepper=settings.SECRET_KEY,
        ),
    )
    options.setdefault("rate_limit_redis_url", settings.RATE_LIMIT_REDIS_URL or None)
    # The same address rules again on every new connection (DNS rebinding).
    options.setdefault(
        "address_rules", AddressRules(allow_loopback=settings.ALLOW_LOOPBACK_PROVIDER_URLS)
    )
    if connection.provider == "snappy":
        options.setdefault("update_method", connection.snappy_update_method or None)
        options.setdefault("on_update_method", _update_method_saver(connection))
    return client_for(
        connection.provider,
        base_url=connection.base_url,
        credentials={CREDENTIAL_FIELD[connection.provider]: secret},
        settings=connection.options,
        enabled_fields=connection_enabled_paths(connection),
        **options,
    )


def _update_method_saver(connection: Connection) -> Callable[[str], None]:
    """Store the update method a Snappy client learned on the connection's row.

    A plain ``update()`` of one column: no ``save()`` that could write back stale fields of a
    connection an admin edits meanwhile, and the in-memory object follows so a client built
    from it later in the same process starts with the answer too.
    """

    def save(method: str) -> None:
        Connection.objects.filter(pk=connection.pk).update(snappy_update_method=method)
        connection.snappy_update_method = method
        # A push job's client runs in pool threads that otherwise never touch the database:
        # the connection this opened there would outlive the job. Outside a transaction,
        # closing it costs at most a reconnect for the thread's next query.
        if threading.current_thread() is not threading.main_thread() and not (
            db_connection.in_atomic_block
        ):
            db_connection.close()

    return save


def connection_recipient_client(
    connection: Connection, **options: Unpack[ClientOptions]
) -> RecipientClient:
    """``connection_client`` for a provider with a recipient directory (RedFlag, Snappy).

    Raises ``WrongProvider`` for a Parcelvoy connection, and what ``connection_client`` raises.
    """
    client = connection_client(connection, **options)
    if isinstance(client, CampaignClient):
        client.close()
        raise WrongProvider(
            f"{client.label} keeps no recipient directory.", provider=connection.provider
        )
    return client


def connection_campaign_client(
    connection: Connection, **options: Unpack[ClientOptions]
) -> CampaignClient:
    """``connection_client`` for a provider that triggers campaigns (Parcelvoy).

    Raises ``WrongProvider`` for another provider, and what ``connection_client`` raises.
    """
    client = connection_client(connection, **options)
    if not isinstance(client, CampaignClient):
        client.close()
        raise WrongProvider(
            f"{client.label} does not send campaigns.", provider=connection.provider
        )
    return client
