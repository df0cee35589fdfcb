"""Parcelvoy's campaign trigger (``POST /api/client/campaigns/:campaignId/trigger``).

Behaviour follows CONTRACT-NOTES "Campaign trigger Admin API" and Parcelvoy's open source
(``AuthMiddleware.ts``, ``AuthError.ts``, ``CampaignController.ts``, ``core/validate.ts``):
- missing or non-Bearer authorization → 401 ``Authorization error.`` (code 1000);
- an unknown or revoked ``sk_`` key → 404 ``The requested project does not exist.``
  (code 6000), not 401;
- any public ``pk_`` key → 403 ``Access denied.`` (code 1007), before any project lookup,
  whatever its value; a secret key of a role below editor → 403 ``Minimum project role
  editor is required``;
- an unknown or non-numeric campaign → Koa's plain-text 404 ``Not Found``;
- the body is checked with Ajv and only the first problem is reported, capitalised, as
  422 ``{"status": "error", "error": ...}``; ``event`` is required although the document
  calls it optional; unknown top-level keys are refused; timezone and locale are not checked;
- success is 200 ``{"success": true}`` (the server's code) or 204 (the document) by variant.
One rule is the team's, not Parcelvoy's: the user must carry the address of the campaign's
channel (email, phone or device_token). The real server accepts the request and the send
fails later in a background job; the sandbox refuses it up front so the failure is visible.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from integrations.sandbox.base import Runtime
from integrations.sandbox.messages import (
    BadJSON,
    Request,
    Resolved,
    Response,
    Route,
    empty_response,
    iso_now,
    json_response,
    resolve,
    text_response,
)
from integrations.sandbox.messages import retry_after as retry_after_header
from integrations.sandbox.schema import validate
from integrations.sandbox.seed import Person

Handler = Callable[[Request, dict[str, str]], Response]

CAMPAIGNS: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "Welcome to the team", "channel": "email"},
    {"id": 2, "name": "Shift reminder", "channel": "sms"},
    {"id": 3, "name": "New announcement", "channel": "push"},
    {"id": 4, "name": "Benefits enrolment open", "channel": "email"},
    {"id": 5, "name": "Payslip ready", "channel": "sms"},
    {"id": 6, "name": "Pulse survey", "channel": "push"},
)
CHANNEL_ADDRESS = {"email": "email", "sms": "phone", "push": "device_token"}

_NULLABLE_STRING = {"type": "string", "nullable": True}
TRIGGER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["user", "event"],
    "properties": {
        "user": {
            "type": "object",
            "required": ["external_id"],
            "properties": {
                "external_id": {"type": "string"},
                "email": _NULLABLE_STRING,
                "phone": _NULLABLE_STRING,
                "device_token": _NULLABLE_STRING,
                "timezone": _NULLABLE_STRING,
                "locale": _NULLABLE_STRING,
            },
            "additionalProperties": True,
        },
        "event": {"type": "object", "additionalProperties": True},
    },
    "additionalProperties": False,
}


def _error(status: int, message: str, code: int | None = None) -> Response:
    body: dict[str, Any] = {"status": "error", "error": message}
    if code is not None:
        body["code"] = code
    return json_response(status, body)


def _capitalized(message: str) -> str:
    return message[:1].upper() + message[1:]


class ParcelvoyApp:
    """One Parcelvoy project with six trigger campaigns."""

    name = "parcelvoy"

    def __init__(self, runtime: Runtime, credentials: dict[str, str]) -> None:
        self._runtime = runtime
        self._credentials = credentials
        self._lock = threading.Lock()
        self._campaigns = {c["id"]: dict(c) for c in CAMPAIGNS}
        self._routes = (
            Route(
                frozenset({"POST"}),
                re.compile(r"/api/client/campaigns/(?P<campaign>[^/]+)/trigger"),
                "/api/client/campaigns/{campaignId}/trigger",
                self._trigger,
            ),
        )

    def resolve(self, request: Request) -> Resolved:
        resolved = resolve(
            self._routes, request, not_found=self._not_found, not_allowed=self._not_found
        )
        if resolved.handler == self._not_found:  # bound methods: compare, never "is"
            return resolved
        return Resolved(resolved.template, self._authenticated(resolved.handler), resolved.params)

    def _authenticated(self, handler: Handler) -> Handler:
        def run(request: Request, params: dict[str, str]) -> Response:
            header = request.header("authorization") or ""
            if not header.startswith("Bearer ") or not header[7:].strip():
                return _error(401, "Authorization error.", 1000)
            token = header[7:].strip()
            if not token.startswith(("sk_", "pk_")):
                return _error(401, "Authorization error.", 1000)  # not a valid admin JWT
            if token.startswith("pk_"):
                # A public key is refused before any project lookup, whatever its value.
                return _error(403, "Access denied.", 1007)
            if token == self._credentials["viewer_key"]:
                return _error(403, "Minimum project role editor is required")
            if token != self._credentials["secret_key"]:
                return _error(404, "The requested project does not exist.", 6000)
            return handler(request, params)

        return run

    def _not_found(self, request: Request, params: dict[str, str]) -> Response:
        return text_response(404, "Not Found")  # Koa's ctx.throw(404)

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        if status == 429:
            style = self._runtime.config().variants.retry_after
            headers = [retry_after_header(retry_after, style)] if retry_after is not None else []
            return json_response(
                429, {"status": "error", "error": "Too many requests"}, headers=headers
            )
        return text_response(status, "Internal Server Error")

    def reset(self) -> None:
        """Nothing transient to clear: triggers live in the counters."""

    def _trigger(self, request: Request, params: dict[str, str]) -> Response:
        raw_id = params["campaign"]
        campaign = (
            self._campaigns.get(int(raw_id)) if raw_id.isascii() and raw_id.isdigit() else None
        )
        if campaign is None:
            return text_response(404, "Not Found")
        try:
            body = request.json()
        except BadJSON:
            return _error(400, "Invalid JSON body.")
        body = {} if body is None else body
        problems = validate(body, TRIGGER_SCHEMA)
        if problems:
            return _error(422, _capitalized(problems[0].message))
        address = CHANNEL_ADDRESS[campaign["channel"]]
        value = body["user"].get(address)
        if not isinstance(value, str) or not value.strip():
            return _error(422, f"Must have required property '{address}'")
        self._runtime.counters.triggered(
            {
                "campaign_id": campaign["id"],
                "channel": campaign["channel"],
                "user": copy.deepcopy(body["user"]),
                "event": copy.deepcopy(body["event"]),
                "received_at": iso_now(),
            }
        )
        if self._runtime.config().variants.parcelvoy_success == "204":
            return empty_response(204)
        return json_response(200, {"success": True})

    def reseed(self, people: Sequence[Person]) -> None:
        with self._lock:
            self._campaigns = {c["id"]: dict(c) for c in CAMPAIGNS}

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {"campaigns": [dict(c) for c in self._campaigns.values()]}
