"""Fault and variant settings of the provider sandbox.

The providers' documents disagree with each other in places (CONTRACT-NOTES: "where they
disagree, pick one behaviour by default and offer the other as a switch"), and clients must
also survive what no document mentions: latency, 429s, 5xx, timeouts, dropped connections and
garbled bodies. Both kinds of behaviour are set here, as one immutable value that a request
reads once, so a concurrent ``configure()`` never gives one request half of each setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROVIDERS: tuple[str, ...] = ("redflag", "snappy", "parcelvoy")

# Injected failure kinds, in the order one random draw walks through their rates.
# The first six are decided before the provider sees the request (nothing is written);
# the last three let the provider handle the request first, because a real server can
# commit a write and then time out or garble its answer.
FAULT_RATES: tuple[str, ...] = (
    "rate_429",
    "rate_429_without_retry_after",
    "rate_500",
    "rate_502",
    "rate_503",
    "rate_drop",
    "rate_timeout",
    "rate_malformed",
    "rate_truncated",
)

VARIANT_CHOICES: dict[str, tuple[str, ...]] = {
    "redflag_auth_failure": ("401", "200", "403"),
    "redflag_list": ("all", "paged", "strict"),
    "redflag_errors": ("200", "http"),
    "redflag_create": ("200", "201"),
    "parcelvoy_success": ("200", "204"),
    "snappy_delete": ("200", "204"),
    "snappy_source": ("object", "string"),
    "snappy_update": ("patch_or_put", "put_only"),
    "snappy_nested": ("merge", "replace"),
    "retry_after": ("seconds", "date"),
}


class ConfigError(ValueError):
    """A fault or variant setting is unknown or out of range."""


@dataclass(frozen=True, slots=True)
class Faults:
    """Failure injection for provider endpoints (never for ``/_control``).

    Rates are probabilities per request; they are exclusive and must add up to at most 1.
    ``only`` limits faults (latency included) to the named providers; ``None`` means all.
    """

    latency_ms: float = 0
    latency_jitter_ms: float = 0
    rate_429: float = 0.0
    rate_429_without_retry_after: float = 0.0
    rate_500: float = 0.0
    rate_502: float = 0.0
    rate_503: float = 0.0
    rate_timeout: float = 0.0
    timeout_seconds: float = 30
    rate_drop: float = 0.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    retry_after_seconds: int = 1
    only: tuple[str, ...] | None = None

    def applies_to(self, provider: str) -> bool:
        return self.only is None or provider in self.only

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["only"] = list(self.only) if self.only is not None else None
        return data


@dataclass(frozen=True, slots=True)
class Variants:
    """Switches between documented behaviours that contradict each other."""

    # CONTRACT-NOTES RedFlag: unknown whether a bad token gets 401 or 200 + success:false;
    # the overview speaks of 403 for authorization issues.
    redflag_auth_failure: str = "401"
    # CONTRACT-NOTES RedFlag: the list may ignore paging ("all"), honour limit/previousLastId
    # ("paged"), or refuse any query parameter its document does not show ("strict": every
    # recipient in one reply, "Illegal parameters" to ``limit``).
    redflag_list: str = "all"
    # CONTRACT-NOTES RedFlag: errors arrive as 200 + success:false ("200"); the overview
    # speaks of 400/403 ("http": 400 illegal parameters, 404 not found, 409 email in use,
    # with the same body).
    redflag_errors: str = "200"
    # CONTRACT-NOTES RedFlag: the overview says a create answers 200 or 201.
    redflag_create: str = "200"
    # CONTRACT-NOTES Parcelvoy: the document says 204, the server's code answers 200.
    parcelvoy_success: str = "200"
    # CONTRACT-NOTES Snappy: delete answers 200 with a message or 204.
    snappy_delete: str = "200"
    # CONTRACT-NOTES Snappy: ``source`` is an object in some replies and a string in others.
    snappy_source: str = "object"
    # CONTRACT-NOTES Snappy: the update method is not published: both, or PUT only (405).
    snappy_update: str = "patch_or_put"
    # CONTRACT-NOTES Snappy: an update may merge nested objects (employee, owner) or replace
    # them with what was sent.
    snappy_nested: str = "merge"
    # RFC 9110: Retry-After is delta-seconds or an HTTP date; every provider's 429 uses this.
    retry_after: str = "seconds"
    # Requests per second per company (CONTRACT-NOTES Snappy); 0 switches the limit off.
    snappy_rate_limit: int = 100

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """The sandbox's complete behaviour settings: faults plus variants."""

    faults: Faults = field(default_factory=Faults)
    variants: Variants = field(default_factory=Variants)

    def to_dict(self) -> dict[str, Any]:
        return {"faults": self.faults.to_dict(), "variants": self.variants.to_dict()}

    def merged(
        self,
        *,
        faults: Mapping[str, Any] | None = None,
        variants: Mapping[str, Any] | None = None,
    ) -> SandboxConfig:
        """Return a copy with the given keys changed; keys not given keep their value."""
        new_faults = _merge_faults(self.faults, faults or {})
        new_variants = _merge_variants(self.variants, variants or {})
        return SandboxConfig(faults=new_faults, variants=new_variants)


def _number(name: str, value: Any, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number.")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}.")
    return value


def _merge_faults(current: Faults, update: Mapping[str, Any]) -> Faults:
    names = {f.name for f in dataclasses.fields(Faults)}
    unknown = set(update) - names
    if unknown:
        raise ConfigError(f"Unknown faults: {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for name, value in update.items():
        if name == "only":
            changes[name] = _only(value)
        elif name in FAULT_RATES:
            changes[name] = float(_number(name, value, low=0.0, high=1.0))
        elif name in ("latency_ms", "latency_jitter_ms"):
            changes[name] = _number(name, value, low=0, high=600_000)
        elif name == "timeout_seconds":
            changes[name] = _number(name, value, low=0.01, high=3600)
        elif name == "retry_after_seconds":
            changes[name] = int(_number(name, value, low=0, high=3600))
    faults = dataclasses.replace(current, **changes)
    total = sum(getattr(faults, rate) for rate in FAULT_RATES)
    if total > 1.0 + 1e-9:
        raise ConfigError(f"Fault rates add up to {total:g}; they must add up to at most 1.")
    return faults


def _only(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError("only must be null or a list of provider names.")
    unknown = set(value) - set(PROVIDERS)
    if unknown:
        raise ConfigError(f"Unknown providers in only: {', '.join(sorted(unknown))}")
    return tuple(value)


def _merge_variants(current: Variants, update: Mapping[str, Any]) -> Variants:
    names = {f.name for f in dataclasses.fields(Variants)}
    unknown = set(update) - names
    if unknown:
        raise ConfigError(f"Unknown variants: {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for name, value in update.items():
        if name == "snappy_rate_limit":
            changes[name] = int(_number(name, value, low=0, high=1_000_000))
            continue
        # Status-like switches may arrive as numbers (401, 204) from JSON or the CLI.
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if text not in VARIANT_CHOICES[name]:
            choices = ", ".join(VARIANT_CHOICES[name])
            raise ConfigError(f"{name} must be one of: {choices}.")
        changes[name] = text
    return dataclasses.replace(current, **changes)
