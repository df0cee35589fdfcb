"""Demo data: one connection per provider pointing at the local sandbox."""

from __future__ import annotations

from typing import Any

from dashboard.connections import services
from dashboard.connections.models import Connection, Environment
from integrations.catalogue import Provider

DEMO_CONNECTIONS = [
    # name, provider, path under the sandbox, secret key in its credentials, options
    ("Demo RedFlag", Provider.REDFLAG, "redflag", "token", {"location_id": "location_id"}),
    ("Demo Snappy", Provider.SNAPPY, "snappy", "api_key", {"company_id": "company_id"}),
    ("Demo campaigns", Provider.PARCELVOY, "parcelvoy", "secret_key", {}),
]


def demo_connections_ensure(*, base: str, credentials: dict[str, Any]) -> list[Connection]:
    """Create the demo connections, or point them at this sandbox run's fresh credentials."""
    connections = []
    for name, provider, path, secret_key, option_keys in DEMO_CONNECTIONS:
        creds = credentials.get(provider.value) or {}
        secret = creds.get(secret_key)
        if not secret:
            continue
        options = {opt: creds[src] for opt, src in option_keys.items() if creds.get(src)}
        if provider is Provider.SNAPPY:
            options["request_source"] = "api_native"
        existing = Connection.objects.filter(name=name).first()
        if existing is None:
            connection = services.connection_create(
                name=name,
                provider=provider,
                environment=Environment.STAGING,
                base_url=f"{base}/{path}",
                secret=secret,
                options=options,
                user=None,
            )
        elif (
            existing.base_url == f"{base}/{path}"
            and existing.options == options
            and existing.secret_readable
            and existing.secret.reveal() == secret
        ):
            connection = existing
        else:
            connection = services.connection_update(
                connection=existing,
                user=None,
                name=name,
                environment=existing.environment,
                base_url=f"{base}/{path}",
                options=options,
                secret=secret,
            )
        connections.append(connection)
    return connections
