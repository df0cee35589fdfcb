"""RedFlag Recipient API client (``/int/v1/recipient``).

Quirks handled here (CONTRACT-NOTES "RedFlag"):

* Errors usually arrive as HTTP 200 with ``{"success": false, "message": "…"}``; the overview
  speaks of 400/403 instead. Both are errors, mapped by message to typed errors. A reply
  without ``success`` is malformed.
* ``:email`` in the path is an email or an ``_id``, matched case-insensitively by RedFlag.
* The list is not documented as paged and may return every recipient at once (hundreds of
  MB); the client asks for ``limit``/``previousLastId`` keyset pages, copes when they are
  ignored, falls back to the plain request when they are refused, and parses every reply as
  it streams in, holding one record at a time.
* Create answers 200 (the endpoint document) or 201 (the overview): both are success.
* Updates use PUT (the endpoint document), not the overview's PATCH.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from integrations.catalogue import Provider

from .base import BaseClient, CredentialCheck, ListRead, Reply
from .errors import (
    AmbiguousMatch,
    Conflict,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    ProviderError,
    Unauthorized,
)
from .models import Recipient, from_redflag

_EMAIL_RE = re.compile(r"^[^@\s/\\?#%\x00-\x1f\x7f]{1,64}@[^@\s/\\?#%\x00-\x1f\x7f]{1,253}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REQUIRED_ON_CREATE = ("email", "firstName", "lastName")
_AUTH_WORDS = ("unauthori", "token", "authenticat", "api key", "access key", "credential")
NOT_FOUND_CODE = "recipient_not_found"
ILLEGAL_PARAMETERS = "illegal_parameters"
logger = logging.getLogger("integrations.clients")


class RedFlagClient(BaseClient):
    """Talk to one RedFlag location.

    ``location_id`` identifies the location the token belongs to; RedFlag reads the location
    from the token, so it is kept for display and logs and sent as no header.
    ``list_paging=False`` never asks the list for pages (the documented plain request).
    """

    provider = Provider.REDFLAG.value
    label = Provider.REDFLAG.label
    recipient_path = "/int/v1/recipient"
    default_page_size = 500
    max_page_size = 1000  # other RedFlag list endpoints cap ``limit`` at 1000
    max_pages = 100_000  # a hard stop for a server that keeps paging forever
    # An ObjectId no recipient can have: looking it up is the cheapest authenticated read.
    probe_id = "000000000000000000000000"

    def __init__(
        self,
        base_url: str,
        token: str | None,
        location_id: str | None = None,
        *,
        enabled_fields: Iterable[str] | None = None,
        list_paging: bool = True,
        **options: Any,
    ) -> None:
        self._token = self._check_secret(token, "API token", self.provider)
        self.location_id = location_id or None
        # Ask the list for keyset pages until the server refuses them (then never again).
        self._paging = list_paging
        super().__init__(base_url, enabled_fields=enabled_fields, **options)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _secret_values(self) -> Iterable[str]:
        return (self._token,)

    # -- error mapping ----------------------------------------------------------------------

    def _error_for(self, reply: Reply) -> ProviderError | None:
        body = reply.json_or_none()
        if not reply.ok:
            envelope = isinstance(body, dict) and body.get("success") is False
            message = self._provider_text(body.get("message")) if envelope else ""
            if reply.status == 401:
                return Unauthorized(
                    f"{self.label} rejected the API token ({message or 'HTTP 401'}).",
                    status=401,
                    code="unauthorized",
                )
            if reply.status == 403:
                # The overview's 403 covers "authorization issues": a token refused there is
                # Unauthorized (the credentials), anything else Forbidden (the action).
                if any(word in message.lower() for word in _AUTH_WORDS):
                    return Unauthorized(
                        f"{self.label} rejected the API token ({message}).",
                        status=403,
                        code="unauthorized",
                    )
                return Forbidden(
                    f"{self.label} refused this action ({message or 'HTTP 403'}).", status=403
                )
            if envelope and reply.status in (400, 404, 409):
                error = self._error_from_message(message, reply.status)
                if type(error) is not ProviderError:
                    return error
            return super()._error_for(reply)
        if body is None:  # garbled or cut short: worth another read
            return MalformedReply(f"{self.label} sent a reply that is not valid JSON.")
        if not isinstance(body, dict):
            return MalformedReply(
                f"{self.label} sent a reply that is not a JSON object.", retryable=False
            )
        return self._error_from_envelope(body, reply.status)

    def _error_from_envelope(self, body: Mapping[str, Any], status: int) -> ProviderError | None:
        success = body.get("success")
        if success is True:
            return None
        if success is False:
            return self._error_from_message(body.get("message"), status)
        return MalformedReply(f"{self.label} sent a reply without a success flag.", retryable=False)

    def _error_from_message(self, message: Any, status: int) -> ProviderError:
        """Map a ``success: false`` message to a typed error (CONTRACT-NOTES "RedFlag")."""
        text = self._provider_text(message) or "no message"
        lowered = text.lower()
        said = f"{self.label}: {text}"
        if any(word in lowered for word in _AUTH_WORDS):
            return Unauthorized(
                f"{self.label} rejected the API token ({text}).", status=status, code="unauthorized"
            )
        if "not found" in lowered:
            return NotFound(said, status=status, code=NOT_FOUND_CODE)
        if "already in use" in lowered or "already exists" in lowered:
            return Conflict(said, status=status, code="already_in_use")
        if "illegal parameter" in lowered or "invalid" in lowered or "required" in lowered:
            return Invalid(said, status=status, code=ILLEGAL_PARAMETERS)
        if any(word in lowered for word in ("forbidden", "permission", "not allowed")):
            return Forbidden(said, status=status, code="forbidden")
        return ProviderError(said, status=status)

    def _validate_record_reply(self, reply: Reply) -> ProviderError | None:
        error = self._error_for(reply)
        if error is None and not isinstance(reply.json().get("data"), dict):
            return MalformedReply(
                f"{self.label} sent a success without the recipient.", retryable=False
            )
        return error

    def _check_list_envelope(
        self, members: Mapping[str, Any], complete: bool
    ) -> ProviderError | None:
        """Check a list reply's envelope: called before the list and once it is complete."""
        if "success" in members or complete:
            return self._error_from_envelope(members, 200)
        return None  # ``success`` may still come after the list

    # -- identifiers ------------------------------------------------------------------------

    def recipient_url(self, email_or_id: str) -> str:
        """Return the path for one recipient, refusing anything but an email or an id.

        The identifier goes into the URL path, so slashes, dot segments, ``?``, ``#``, ``%``
        and whitespace are refused before they could redirect the request elsewhere.
        """
        if not isinstance(email_or_id, str):
            raise Invalid("Give an email address or a RedFlag id.", provider=self.provider)
        ident = email_or_id.strip()
        if ident in (".", "..") or not (_EMAIL_RE.match(ident) or _ID_RE.match(ident)):
            raise Invalid(
                "That is neither an email address nor a RedFlag id.",
                provider=self.provider,
                field_errors={"email": ["Enter an email address or a RedFlag _id."]},
            )
        return f"{self.recipient_path}/{quote(ident, safe='@+')}"

    # -- operations -------------------------------------------------------------------------

    def iter_recipients(self, page_size: int | None = None) -> Iterator[Recipient]:
        """Yield every recipient of the location, one at a time, as the reply streams in.

        Asks for keyset pages (``limit``, ``previousLastId`` = last ``_id`` seen), which
        RedFlag's other lists offer but its recipient document never shows. A server that
        refuses them ("Illegal parameters") is asked the plain documented request instead,
        and this client does not ask it for pages again. A reply longer than ``limit`` means
        the server ignored paging and sent everything: that reply is the whole list. A page
        equal to ``limit`` may be followed by another; if the next page brings no new
        ``_id`` the server ignores the cursor, and the list is fetched once without paging.
        Every page must bring a new record, so the loop always ends. No record is yielded
        twice (by ``_id``).

        Replies are parsed while they stream in (``BaseClient._read_list``): a list of any
        size is read in bounded memory; a single record over ``max_record_bytes`` is refused.
        A reply cut short or garbled is read again, skipping what was already yielded; if it
        never completes, the error is raised after the records already yielded, so the
        caller knows its listing is incomplete.
        """
        limit = max(1, min(page_size or self.default_page_size, self.max_page_size))
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(self.max_pages):
            paging = self._paging
            params: dict[str, Any] = {"limit": limit} if paging else {}
            if paging and cursor:
                params["previousLastId"] = cursor
            result = ListRead(members={})
            try:
                yield from (
                    from_redflag(record)
                    for record in self._read_list(
                        self.recipient_path,
                        params=params,
                        array_key="data",
                        check=self._check_list_envelope,
                        key=_record_id,
                        seen=seen,
                        result=result,
                    )
                    if isinstance(record, dict)
                )
            except Invalid as exc:
                if not paging:
                    raise
                # CONTRACT-NOTES: paging is undocumented; fall back to the plain request.
                logger.info("%s refused list paging (%s); asking for the whole list", self, exc)
                self._paging = False
                continue
            count, total = result.count, _as_int(result.members.get("total"))
            if not paging or count != limit:
                return  # the unpaged list, a short last page, or everything in one reply
            if total is not None and len(seen) >= total:
                return
            if result.yielded == 0 or result.last_key is None or result.last_key == cursor:
                self._paging = False  # the cursor does not move: fetch the whole list once
                continue
            cursor = result.last_key
        raise MalformedReply(f"{self.label} kept sending pages; the list was cut short.")

    def get_recipient(self, email_or_id: str) -> Recipient:
        """Fetch the one recipient with this email or ``_id`` (case-insensitive at RedFlag).

        RedFlag keys a recipient by its email (unique in the location, case-insensitively)
        and by its ``_id``, and answers with one record or "Recipient Not Found": several
        records can never match. Raises ``NotFound`` (code ``recipient_not_found``) when none
        does, ``Invalid`` before any request for text that is neither an email nor an id.
        RedFlag offers no lookup by any other identifier (``orgId``, phone): only the list.
        """
        reply = self._request(
            "GET", self.recipient_url(email_or_id), validate=self._validate_record_reply
        )
        return from_redflag(reply.json()["data"])

    def find_recipient(
        self,
        *,
        email: str | None = None,
        remote_id: str | None = None,
        external_id: str | None = None,
    ) -> Recipient | None:
        """Find the one recipient these identifiers lead to; None if none does.

        The same keyword-only call as ``SnappyClient.find_recipient``. RedFlag looks a
        recipient up by email or by ``_id`` only (``get_recipient``), so ``external_id``
        alone cannot be searched and raises ``Invalid``; beside an email or an id it is
        ignored. When the email and the id lead to two different recipients,
        ``AmbiguousMatch`` is raised: nothing is guessed.
        """
        wanted = [(ident or "").strip() for ident in (remote_id, email)]
        wanted = [ident for ident in wanted if ident]
        if not wanted:
            raise Invalid(
                "RedFlag looks recipients up by email or RedFlag id only; give one of them.",
                provider=self.provider,
            )
        found: dict[str, Recipient] = {}
        for ident in wanted:
            try:
                recipient = self.get_recipient(ident)
            except NotFound:
                continue
            found.setdefault(recipient.remote_id, recipient)
        if len(found) > 1:
            raise AmbiguousMatch(
                f"The email and the id name {len(found)} different RedFlag recipients; "
                "none was chosen.",
                provider=self.provider,
                candidates=sorted(found),
            )
        return next(iter(found.values()), None)

    def create_recipient(self, payload: Mapping[str, Any]) -> Recipient:
        """Create a recipient; ``email``, ``firstName`` and ``lastName`` are required.

        After a timeout or a dropped connection the recipient is looked up by email before
        the POST is repeated, so a retry never creates a second recipient.
        """
        self._enforce_fields(payload)
        missing = [key for key in _REQUIRED_ON_CREATE if not _filled(payload.get(key))]
        if missing:
            raise Invalid(
                "RedFlag needs an email, a first name and a last name to create a recipient.",
                provider=self.provider,
                field_errors={key: ["This field is required."] for key in missing},
            )
        email = str(payload["email"]).strip()
        self.recipient_url(email)  # refuse an email that could not be looked up afterwards

        def find_existing() -> Recipient | None:
            found = self.get_recipient(email)
            return found if found.matches_email(email) else None

        return self._create(
            self.recipient_path,
            dict(payload),
            parse=self._parse_record,
            find_existing=find_existing,
            validate=self._validate_record_reply,
        )

    def update_recipient(
        self,
        email_or_id: str,
        payload: Mapping[str, Any],
        *,
        current: Mapping[str, Any] | None = None,
    ) -> Recipient:
        """Update a recipient with PUT; arrays (``tags``, ``education``…) replace stored ones.

        Changing one tag therefore means sending every tag. ``current`` is the record as it is
        now (``Recipient.fields``): a tag whose key is disabled may be carried in the list when
        its value is unchanged from ``current``; without it every tag key sent must be enabled.
        """
        self._enforce_fields(payload, current=current)
        url = self.recipient_url(email_or_id)
        reply = self._request("PUT", url, json=dict(payload), validate=self._validate_record_reply)
        return self._parse_record(reply)

    def delete_recipient(self, email_or_id: str) -> None:
        """Delete a recipient by email or ``_id``.

        "Recipient Not Found" after an attempt that may have acted (a timeout, a garbled
        reply) means that attempt deleted it: the delete has succeeded.
        """
        try:
            self._request("DELETE", self.recipient_url(email_or_id))
        except NotFound as exc:
            if not (exc.after_unknown_outcome and exc.code == NOT_FOUND_CODE):
                raise

    def check_credentials(self) -> CredentialCheck:
        """Check the token with the cheapest authenticated read.

        Looks up an ``_id`` no recipient can have: "Recipient Not Found" proves the token
        works without listing the location (the list may return every recipient at once).
        A plain 404 without RedFlag's body means a wrong base URL and is raised.
        """
        try:
            self._request("GET", self.recipient_url(self.probe_id))
        except NotFound as exc:
            if exc.code != NOT_FOUND_CODE:
                raise
        latency = self.last_call.latency if self.last_call else 0.0
        return CredentialCheck(
            provider=self.provider, latency=latency, message="RedFlag accepted the API token."
        )

    def _parse_record(self, reply: Reply) -> Recipient:
        body = reply.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise MalformedReply(
                f"{self.label} sent a success without the recipient.", provider=self.provider
            )
        return from_redflag(data)


def _record_id(record: Any) -> str | None:
    return str(record.get("_id") or "") or None if isinstance(record, dict) else None


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))
