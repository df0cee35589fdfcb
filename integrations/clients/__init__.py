"""Provider clients: one per provider on a shared base (``base.BaseClient``).

Pure Python and httpx, no Django: usable from views (through services), Celery tasks,
management commands and benchmarks. Build one from a connection's decrypted values with
``client_for``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from integrations.catalogue import Provider

from .base import BaseClient, CallRecord, ClientStats, CredentialCheck, RequestEvent
from .errors import (
    AmbiguousMatch,
    Conflict,
    CredentialsMissing,
    FieldNotEnabled,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Unauthorized,
    Unavailable,
    UnknownApiKey,
)
from .models import Recipient
from .parcelvoy import CampaignClient, TriggerResult
from .ratelimit import TokenBucket, forget_rate_limiter, shared_rate_limiter
from .redflag import RedFlagClient
from .snappy import SnappyClient

__all__ = [
    "AmbiguousMatch",
    "BaseClient",
    "CallRecord",
    "CampaignClient",
    "ClientStats",
    "Conflict",
    "CredentialCheck",
    "CredentialsMissing",
    "FieldNotEnabled",
    "Forbidden",
    "Invalid",
    "MalformedReply",
    "NotFound",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "Recipient",
    "RedFlagClient",
    "RequestEvent",
    "SnappyClient",
    "TokenBucket",
    "TriggerResult",
    "Unauthorized",
    "Unavailable",
    "UnknownApiKey",
    "client_for",
    "forget_rate_limiter",
    "shared_rate_limiter",
]

# Which credential each provider needs, by the key the connection stores it under.
CREDENTIAL_KEYS = {
    Provider.REDFLAG: "token",
    Provider.SNAPPY: "api_key",
    Provider.PARCELVOY: "secret_key",
}


def client_for(
    provider: Provider | str,
    *,
    base_url: str,
    credentials: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    enabled_fields: Iterable[str] | None,
    **options: Any,
) -> RedFlagClient | SnappyClient | CampaignClient:
    """Build the client for a connection from its decrypted credentials and settings.

    ``credentials``: RedFlag ``token``; Snappy ``api_key``; Parcelvoy ``secret_key``.
    ``settings``: RedFlag ``location_id``; Snappy ``company_id``, ``request_source``.
    ``enabled_fields``: the connection's enabled catalogue paths; ``None`` builds a read-only
    client (every write raises ``FieldNotEnabled``). ``options`` go to the client unchanged
    (timeouts, ``rate_limit_key`` such as ``f"connection:{pk}"``, ``transport``…).
    Raises ``CredentialsMissing`` when the credential is absent or empty.
    """
    provider = Provider(provider)
    settings = settings or {}
    secret = (credentials or {}).get(CREDENTIAL_KEYS[provider])
    if provider is Provider.REDFLAG:
        return RedFlagClient(
            base_url,
            secret,
            settings.get("location_id"),
            enabled_fields=enabled_fields,
            **options,
        )
    if provider is Provider.SNAPPY:
        return SnappyClient(
            base_url,
            secret,
            settings.get("company_id"),
            settings.get("request_source") or "api_native",
            enabled_fields=enabled_fields,
            **options,
        )
    return CampaignClient(base_url, secret, enabled_fields=enabled_fields, **options)
