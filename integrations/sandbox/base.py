"""What every provider app of the sandbox offers the server."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from integrations.sandbox.config import SandboxConfig
from integrations.sandbox.counters import Counters
from integrations.sandbox.messages import Request, Resolved, Response
from integrations.sandbox.seed import Person


@dataclass(frozen=True, slots=True)
class Runtime:
    """Shared services handed to each provider app by the server."""

    config: Callable[[], SandboxConfig]
    counters: Counters
    random_seed: int


class ProviderApp(Protocol):
    """A provider's documented HTTP behaviour, mounted at ``/<name>`` by the server."""

    name: str

    def resolve(self, request: Request) -> Resolved:
        """Route a request; the template is known before anything runs (fault counting)."""
        ...

    def reseed(self, people: Sequence[Person]) -> None:
        """Replace all data with the seed data built from ``people``."""
        ...

    def reset(self) -> None:
        """Clear transient state (rate-limit windows), never data."""
        ...

    def summary(self) -> dict[str, Any]:
        """Describe the app's data for ``/_control/state`` (counts, fixed ids)."""
        ...

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        """Return an injected 429 or 500 in this provider's own error shape."""
        ...


def id_rng(random_seed: int, purpose: str) -> random.Random:
    """Return a generator for ids and seed details, independent per provider and purpose."""
    return random.Random(f"{purpose}:{random_seed}")
