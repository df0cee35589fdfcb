"""Campaign trigger client (Parcelvoy admin API, ``/api/client/campaigns/:id/trigger``).

Quirks handled here (CONTRACT-NOTES "Campaign trigger"):

* ``event`` is documented as optional but the server requires it: ``{}`` is sent when the
  caller gives none.
* Success is 204 in the documentation and 200 ``{"success": true}`` from the server: both are
  success.
* An unknown or revoked ``sk_`` key answers **404** with JSON code 6000, not 401: that is
  ``UnknownApiKey`` (an ``Unauthorized``), never confused with an unknown campaign, which is
  a plain-text 404 ``Not Found`` (``NotFound``).
* A trigger messages a real person, so it is never repeated once it may have reached the
  server: only a connection that was never made, or a 429/503 (refused before any work), is
  retried. A timeout raises ``ProviderTimeout`` with ``outcome_unknown=True``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.catalogue import Provider

from .base import BaseClient, CredentialCheck, Reply
from .errors import (
    Forbidden,
    Invalid,
    NotFound,
    ProviderError,
    Unauthorized,
    UnknownApiKey,
)

UNKNOWN_KEY_CODE = 6000
CAMPAIGN_NOT_FOUND = "campaign_not_found"
_REQUIRED_PROPERTY_RE = re.compile(r"required property '([^']+)'")
_INSTANCE_PATH_RE = re.compile(r"^\s*(?:data)?((?:/[\w$.-]+)+)")


@dataclass(frozen=True, slots=True)
class TriggerResult:
    """A trigger the server accepted: its HTTP status (200 or 204) and round-trip time."""

    campaign_id: int
    status: int
    latency: float
    attempts: int
    body: Any = None

    @property
    def latency_ms(self) -> float:
        return round(self.latency * 1000, 1)


class CampaignClient(BaseClient):
    """Trigger Parcelvoy campaigns for one project (its secret ``sk_`` key)."""

    provider = Provider.PARCELVOY.value
    label = Provider.PARCELVOY.label
    # A 503 is refused before the trigger runs, as is a 429: no message went out.
    unsent_statuses = frozenset({429, 503})
    # The admin waits on "Send test": fail fast rather than sit through long backoffs.
    total_timeout = 30.0
    read_timeout = 20.0

    def __init__(
        self,
        base_url: str,
        secret_key: str | None,
        *,
        enabled_fields: Iterable[str] | None = None,
        **options: Any,
    ) -> None:
        self._secret_key = self._check_secret(secret_key, "secret key", self.provider)
        super().__init__(base_url, enabled_fields=enabled_fields, **options)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret_key}"}

    def _secret_values(self) -> Iterable[str]:
        return (self._secret_key,)

    @staticmethod
    def trigger_path(campaign_id: int) -> str:
        return f"/api/client/campaigns/{campaign_id}/trigger"

    def _error_for(self, reply: Reply) -> ProviderError | None:
        body = reply.json_or_none()
        if reply.ok:
            if isinstance(body, dict) and body.get("success") is False:
                said = self._provider_text(body.get("error") or body.get("message"))
                return ProviderError(f"Parcelvoy refused the trigger ({said or 'no reason'}).")
            return None
        status = reply.status
        said = self._provider_text(body.get("error")) if isinstance(body, dict) else ""
        suffix = f" ({said})" if said else ""
        if status == 404:
            if isinstance(body, dict) and body.get("code") == UNKNOWN_KEY_CODE:
                return UnknownApiKey(
                    "Parcelvoy does not recognise this secret key (unknown or revoked).",
                    status=status,
                    code=UNKNOWN_KEY_CODE,
                )
            if reply.content_type == "text/html" or len(reply.content) > 200:
                # Parcelvoy's own 404 is a short plain "Not Found"; a web page means the base
                # URL points somewhere else.
                return NotFound(
                    "Parcelvoy: campaign not found (the reply was a web page: check the base URL).",
                    status=status,
                    code="unexpected_404",
                )
            return NotFound(
                "Parcelvoy: campaign not found.", status=status, code=CAMPAIGN_NOT_FOUND
            )
        if status == 401:
            return Unauthorized(
                f"Parcelvoy refused the request: the secret key is missing or malformed{suffix}.",
                status=status,
            )
        if status == 403:
            return Forbidden(
                "Parcelvoy refused this key: use a secret (sk_) key of a role of editor or "
                f"above{suffix}.",
                status=status,
            )
        if status in (400, 422):
            return Invalid(
                f"Parcelvoy refused the trigger: {said}" if said else None,
                status=status,
                field_errors=_field_errors(said),
            )
        return super()._error_for(reply)

    def trigger(
        self, campaign_id: int, *, user: Mapping[str, Any], event: Mapping[str, Any] | None = None
    ) -> TriggerResult:
        """Trigger ``campaign_id`` for ``user``; ``event`` defaults to ``{}``.

        ``user`` needs ``external_id`` and, for the channel, ``email``, ``phone`` or
        ``device_token``. Its keys are checked against the connection's enabled fields first.
        """
        if not isinstance(campaign_id, int) or isinstance(campaign_id, bool) or campaign_id < 1:
            raise Invalid(
                "A campaign id is a whole number of at least 1.",
                provider=self.provider,
                field_errors={"campaign_id": ["Enter the campaign's number."]},
            )
        if not isinstance(user, Mapping):
            raise Invalid("The user must be an object.", provider=self.provider)
        self._enforce_fields(user)
        external_id = user.get("external_id")
        if not isinstance(external_id, str) or not external_id.strip():
            raise Invalid(
                "Parcelvoy needs the user's external id.",
                provider=self.provider,
                field_errors={"user.external_id": ["This field is required."]},
            )
        if event is not None and not isinstance(event, Mapping):
            raise Invalid("The event must be an object.", provider=self.provider)
        body = {"user": dict(user), "event": dict(event or {})}
        reply = self._request("POST", self.trigger_path(campaign_id), json=body, idempotent=False)
        return TriggerResult(
            campaign_id=campaign_id,
            status=reply.status,
            latency=reply.elapsed,
            attempts=reply.attempts,
            body=reply.json_or_none(),
        )

    def check_credentials(self) -> CredentialCheck:
        """Check the secret key without sending anything.

        The admin API has no read endpoint, so this POSTs an empty body to campaign 0.
        Parcelvoy checks the key before anything else: an unknown key answers 404 code 6000
        (``UnknownApiKey``), a missing or malformed one 401, a public or under-privileged one
        403, and these are raised. A key that passes reaches the route, which can only fail:
        campaign ids start at 1 (plain 404 ``Not Found``) and an empty body has no user
        (422). Either answer proves the key works, and no message can go out. Because
        nothing can be sent, this request is safe to retry.
        """
        try:
            self._request("POST", self.trigger_path(0), json={}, idempotent=True)
        except NotFound as exc:
            if exc.code != CAMPAIGN_NOT_FOUND:
                raise
        except Invalid:
            pass
        latency = self.last_call.latency if self.last_call else 0.0
        return CredentialCheck(
            provider=self.provider, latency=latency, message="Parcelvoy accepted the secret key."
        )


def _field_errors(message: str) -> dict[str, list[str]]:
    """Name the field a validation message is about (``'external_id'``, ``/user/email``)."""
    if not message:
        return {}
    parts: list[str] = []
    path = _INSTANCE_PATH_RE.match(message)
    if path:
        parts = [part for part in path.group(1).split("/") if part]
    required = _REQUIRED_PROPERTY_RE.search(message)
    if required:
        parts.append(required.group(1))
    return {".".join(parts): [message]} if parts else {}
