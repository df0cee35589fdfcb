"""Seed the demo: one connection per provider pointing at the local sandbox, and jobs."""

from __future__ import annotations

from typing import Any

from dashboard.connections import services
from integrations.catalogue import Provider
from integrations.models import Connection, Environment, FieldSetting, JobSource, SyncJob
from integrations.sync.services import job_create_pull, job_create_push

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
            and existing.secret is not None
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
        if provider is Provider.SNAPPY:
            demo_fields = (
                "country", "accounts", "externalId", "employee.department", "birthday",
                "employee.workingSince",
            )  # fmt: skip
            for path in demo_fields:
                FieldSetting.objects.get_or_create(
                    connection=connection, path=path, defaults={"enabled": True}
                )
        connections.append(connection)
    return connections


def demo_jobs_start(connections: list[Connection]) -> None:
    """Fill the mirrors and leave a push in the history, so every page has something to show."""
    for connection in connections:
        if connection.provider == Provider.PARCELVOY:
            continue
        if connection.pull_interval_minutes is None:
            Connection.objects.filter(pk=connection.pk).update(pull_interval_minutes=60)
        job_create_pull(connection=connection, source=JobSource.SCHEDULE, source_label="Demo start")
    redflag = next((c for c in connections if c.provider == Provider.REDFLAG), None)
    if redflag is None or SyncJob.objects.filter(connection=redflag, kind="push").exists():
        return
    records = [
        {
            "identifier": f"new.hire{i}@demo.example",
            "operation": "create",
            "payload": {
                "email": f"new.hire{i}@demo.example",
                "firstName": first,
                "lastName": "Newhire",
            },
        }
        for i, first in enumerate(["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana"])
    ]
    # Two records the provider refuses, so the history shows a partial failure.
    records.append(
        {
            "identifier": "no-name@demo.example",
            "operation": "create",
            "payload": {"email": "no-name@demo.example", "firstName": "", "lastName": ""},
        }
    )
    records.append(
        {
            "identifier": "not-an-email",
            "operation": "create",
            "payload": {"email": "not-an-email", "firstName": "X", "lastName": "Y"},
        }
    )
    job_create_push(
        connection=redflag,
        records=records,
        source=JobSource.COMMAND,
        source_label="Demo: new hires",
    )
