"""Builders shared by the client tests that run against the real sandbox over HTTP."""

from __future__ import annotations

import threading
import time
import uuid

from integrations.catalogue import PARCELVOY_FIELDS, REDFLAG_FIELDS, SNAPPY_FIELDS
from integrations.clients import CampaignClient, RedFlagClient, SnappyClient

# Every fault the sandbox can inject, except latency (tested on its own).
RETRIED_FAULTS = (
    "rate_429",
    "rate_429_without_retry_after",
    "rate_502",
    "rate_503",
    "rate_drop",
    "rate_malformed",
    "rate_truncated",
)
ALL_FAULTS = (*RETRIED_FAULTS, "rate_500", "rate_timeout")
# How the sandbox's request counters name each fault's outcome.
FAULT_OUTCOME = {
    "rate_429": "429",
    "rate_429_without_retry_after": "429",
    "rate_500": "500",
    "rate_502": "502",
    "rate_503": "503",
    "rate_drop": "drop",
    "rate_timeout": "timeout",
    "rate_malformed": "malformed",
    "rate_truncated": "truncated",
}
# The sandbox holds a timed-out request this long; the clients give up well before.
SANDBOX_TIMEOUT_SECONDS = 0.6
CLIENT_READ_TIMEOUT = 0.25


class QuickSleep:
    """Record every wait the client asks for, but sleep at most ``cap`` seconds of it.

    Retry-After and backoff are honoured in what the client asks for; the test does not
    spend real seconds on them.
    """

    def __init__(self, cap: float = 0.01) -> None:
        self.cap = cap
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        time.sleep(min(seconds, self.cap))


def unique_email(tag: str = "client") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def client_options(sleep: QuickSleep | None = None, **overrides):
    options = {
        "sleep": sleep or QuickSleep(),
        "read_timeout": CLIENT_READ_TIMEOUT,
        "connect_timeout": 2.0,
        "total_timeout": 30.0,
        "max_attempts": 6,
    }
    options.update(overrides)
    return options


def redflag_client(sandbox, *, token: str | None = None, **overrides) -> RedFlagClient:
    creds = sandbox.credentials["redflag"]
    options = client_options(**overrides)
    options.setdefault("enabled_fields", {spec.path for spec in REDFLAG_FIELDS} | {"tags.z_team"})
    return RedFlagClient(
        sandbox.url + "/redflag", token or creds["token"], creds["location_id"], **options
    )


def snappy_client(sandbox, *, api_key: str | None = None, **overrides) -> SnappyClient:
    creds = sandbox.credentials["snappy"]
    options = client_options(**overrides)
    options.setdefault("enabled_fields", {spec.path for spec in SNAPPY_FIELDS})
    options.setdefault("rate_limit", None)
    return SnappyClient(
        sandbox.url + "/snappy", api_key or creds["api_key"], creds["company_id"], **options
    )


def parcelvoy_client(sandbox, *, key: str | None = None, **overrides) -> CampaignClient:
    creds = sandbox.credentials["parcelvoy"]
    options = client_options(**overrides)
    options.setdefault("enabled_fields", {spec.path for spec in PARCELVOY_FIELDS})
    return CampaignClient(sandbox.url + "/parcelvoy", key or creds["secret_key"], **options)


def fault(kind: str, rate: float = 0.3, **extra) -> dict:
    faults = {kind: rate, "retry_after_seconds": 1, **extra}
    if kind == "rate_timeout":
        faults["timeout_seconds"] = SANDBOX_TIMEOUT_SECONDS
    return faults


def outcomes(sandbox, provider: str) -> dict[str, int]:
    """Sum the sandbox's request counters by outcome (status or fault) for ``provider``."""
    totals: dict[str, int] = {}
    for key, count in sandbox.counters()["requests"].items():
        if key.startswith(provider + " "):
            outcome = key.rsplit(" ", 1)[1]
            totals[outcome] = totals.get(outcome, 0) + count
    return totals
