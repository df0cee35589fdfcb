"""Make sandbox connections and records for the sync tests."""

from __future__ import annotations

import uuid

from integrations.models import FieldSetting
from tests.factories import ConnectionFactory


def snappy_connection(sandbox, **kwargs):
    creds = sandbox.credentials["snappy"]
    conn = ConnectionFactory(
        provider="snappy",
        base_url=f"{sandbox.url}/snappy",
        plain_secret=kwargs.pop("secret", creds["api_key"]),
        options={"company_id": creds["company_id"]},
        **kwargs,
    )
    for path in ("country", "accounts", "externalId", "employee.department"):
        FieldSetting.objects.create(connection=conn, path=path, enabled=True)
    return conn


def redflag_connection(sandbox, **kwargs):
    conn = ConnectionFactory(
        provider="redflag",
        base_url=f"{sandbox.url}/redflag",
        plain_secret=kwargs.pop("secret", sandbox.credentials["redflag"]["token"]),
        **kwargs,
    )
    FieldSetting.objects.create(connection=conn, path="department", enabled=True)
    return conn


def snappy_records(sandbox, n: int, *, tag: str | None = None):
    tag = tag or uuid.uuid4().hex[:8]
    account = sandbox.state()["snappy"]["accounts"][0]["id"]
    return [
        {
            "identifier": f"p{i}-{tag}@example.com",
            "operation": "create",
            "payload": {
                "firstName": f"Person{i}",
                "lastName": "Tester",
                "email": f"p{i}-{tag}@example.com",
                "country": "GB",
                "accounts": [account],
            },
        }
        for i in range(n)
    ]


def redflag_records(n: int, *, tag: str | None = None):
    tag = tag or uuid.uuid4().hex[:8]
    return [
        {
            "identifier": f"r{i}-{tag}@example.com",
            "operation": "create",
            "payload": {
                "email": f"r{i}-{tag}@example.com",
                "firstName": f"Rec{i}",
                "lastName": "Tester",
            },
        }
        for i in range(n)
    ]
