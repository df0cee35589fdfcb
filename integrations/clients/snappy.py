"""Snappy public API client (``/v2/recipients``, ``/v2/accounts``).

Quirks handled here (CONTRACT-NOTES "Snappy"):

* Auth is ``X-Api-Key``; ``companyId`` is an optional query parameter and ``Request-Source``
  an optional header, both sent on every request when set.
* Errors are branched on HTTP status and ``errorCode``, never on message text. 400 validation
  errors carry ``path`` (and maybe ``details``) instead of ``status``.
* Lists page with ``skip``/``limit`` (limit at most 200) and carry no total: the end is the
  first short page.
* 100 requests/second per company, shared by all endpoints: a token bucket shared by every
  client of the same company keeps under it; a 429 is retried after ``Retry-After`` or
  backoff 1, 2, 4, 8, 16 s with jitter, at most 5 attempts.
* The update method is not published: PATCH first, PUT after a 405; the answer is handed to
  ``on_update_method`` so the connection stores it, and given back as ``update_method``.
  ``accounts`` in an update **replaces** the recipient's whole account list.
* Whether nested objects (``employee``, ``owner``) are merged or replaced on update is not
  published: they are sent whole, completed from the live record.
* ``source`` is an object in some replies and a string in others; both are accepted.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from integrations.catalogue import Provider

from .base import _DEFAULT, BaseClient, CredentialCheck, ListRead, Reply
from .errors import (
    AmbiguousMatch,
    Conflict,
    Forbidden,
    Invalid,
    MalformedReply,
    NotFound,
    ProviderError,
    RateLimited,
    Unauthorized,
)
from .models import SNAPPY_UPDATABLE, Recipient, from_snappy

RECIPIENT_ID_RE = re.compile(r"^[A-Za-z0-9]+$")
COMPANY_ID_RE = re.compile(r"^[A-Za-z0-9]{8,}$")
REQUEST_SOURCES = ("api_native", "api_zapier", "api_salesforce", "api_ftp", "api_make")
UNAUTHORIZED_CODES = frozenset({10001, "10001"})
# Filters are comma-separated OR lists (CONTRACT-NOTES); snake_case aliases for Python callers.
FILTER_ALIASES = {
    "email": "emails",
    "external_ids": "externalIds",
    "external_id": "externalIds",
    "first_names": "firstNames",
    "last_names": "lastNames",
    "account_ids": "accountIds",
}
LIST_FILTERS = frozenset(
    {"emails", "externalIds", "firstNames", "lastNames", "accountIds", "sources", "fields", "ids"}
)
_REQUIRED_ON_CREATE = ("firstName", "country", "accounts")
UPDATE_METHODS = ("PATCH", "PUT")
# Nested objects and the keys the documents give them: sent whole on update.
NESTED_OBJECTS: dict[str, frozenset[str]] = {
    "employee": frozenset({"workingSince", "department"}),
    "owner": frozenset({"firstName", "lastName", "email"}),
}
logger = logging.getLogger("integrations.clients")


class SnappyClient(BaseClient):
    """Talk to one Snappy company."""

    provider = Provider.SNAPPY.value
    label = Provider.SNAPPY.label
    default_rate_limit = 100.0  # requests/second per company (CONTRACT-NOTES "Snappy")
    recipients_path = "/v2/recipients"
    accounts_path = "/v2/accounts"
    max_page_size = 200
    max_accounts_page_size = 1000
    max_pages = 100_000

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        company_id: str | None = None,
        request_source: str | None = "api_native",
        *,
        enabled_fields: Iterable[str] | None = None,
        rate_limit: float | None = _DEFAULT,
        update_method: str | None = None,
        on_update_method: Callable[[str], object] | None = None,
        **options: Any,
    ) -> None:
        self._api_key = self._check_secret(api_key, "API key", self.provider)
        company_id = (company_id or "").strip() or None
        if company_id is not None and not COMPANY_ID_RE.match(company_id):
            raise Invalid(
                "A Snappy company id is at least 8 letters or digits.",
                provider=self.provider,
                field_errors={"company_id": ["Use at least 8 letters or digits."]},
            )
        request_source = (request_source or "").strip() or None
        if request_source is not None and request_source not in REQUEST_SOURCES:
            raise Invalid(
                "Unknown Snappy request source.",
                provider=self.provider,
                field_errors={"request_source": [f"Choose one of {', '.join(REQUEST_SOURCES)}."]},
            )
        self.company_id = company_id
        self.request_source = request_source
        update_method = (update_method or "").strip().upper() or None
        if update_method not in (None, *UPDATE_METHODS):
            raise Invalid(
                f"A Snappy update method is PATCH or PUT, not {update_method}.",
                provider=self.provider,
            )
        # The method known to work (stored for the connection), None until one has.
        self.update_method: str | None = update_method
        self._on_update_method = on_update_method
        self._update_method_lock = threading.Lock()
        super().__init__(base_url, enabled_fields=enabled_fields, rate_limit=rate_limit, **options)

    # -- hooks ------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        headers = {"X-Api-Key": self._api_key}
        if self.request_source:
            headers["Request-Source"] = self.request_source
        return headers

    def _default_params(self) -> dict[str, str]:
        return {"companyId": self.company_id} if self.company_id else {}

    def _secret_values(self) -> Iterable[str]:
        return (self._api_key,)

    def _rate_limit_key(self) -> str:
        # The limit is per company; without a company id the key decides the company.
        # Hash the key so the registry never holds a secret.
        company = self.company_id or hashlib.sha256(self._api_key.encode()).hexdigest()[:16]
        return f"snappy:{self.base_url}:{company}"

    def _error_for(self, reply: Reply) -> ProviderError | None:
        if reply.ok:
            return None
        body = reply.json_or_none()
        body = body if isinstance(body, dict) else {}
        status = reply.status
        code = _code(body.get("errorCode"))
        said = self._provider_text(body.get("message"))
        suffix = f" ({said})" if said else ""
        if status == 401 or code in UNAUTHORIZED_CODES:
            return Unauthorized(f"Snappy rejected the API key{suffix}.", status=status, code=code)
        if status == 403:
            return Forbidden(
                f"The Snappy API key lacks the permission for this action{suffix}.",
                status=status,
                code=code,
            )
        if status == 404:
            return NotFound(f"Snappy has no such record{suffix}.", status=status, code=code)
        if status == 409:
            return Conflict(
                f"Snappy already has a recipient with the same identifying data{suffix}.",
                status=status,
                code=code,
            )
        if status in (400, 422):
            return Invalid(
                f"Snappy refused the data{suffix}.",
                status=status,
                code=code,
                field_errors=_field_errors(body, said, self._provider_text),
            )
        if status == 429:
            return RateLimited(
                f"Snappy is rate limiting requests{suffix}.",
                retry_after=self._retry_after(reply),
                code=code,
            )
        return super()._error_for(reply)

    def _expect_object(self, reply: Reply) -> ProviderError | None:
        error = self._error_for(reply)
        if error is None:
            body = reply.json_or_none()
            if body is None:  # garbled or cut short: worth another read
                return MalformedReply("Snappy sent a reply that is not valid JSON.")
            if not isinstance(body, dict):
                return MalformedReply("Snappy sent a reply that is not an object.", retryable=False)
        return error

    def _expect_results(self, reply: Reply) -> ProviderError | None:
        error = self._expect_object(reply)
        if error is None and not isinstance(reply.json().get("results"), list):
            return MalformedReply("Snappy sent a list reply without results.", retryable=False)
        return error

    # -- identifiers and filters ------------------------------------------------------------

    def recipient_url(self, recipient_id: str) -> str:
        """Return the path of one recipient; the id must match ``^[A-Za-z0-9]+$``."""
        if not isinstance(recipient_id, str) or not RECIPIENT_ID_RE.match(recipient_id):
            raise Invalid(
                "That is not a Snappy recipient id (letters and digits only).",
                provider=self.provider,
                field_errors={"id": ["Use letters and digits only."]},
            )
        return f"{self.recipients_path}/{recipient_id}"

    def _filter_params(self, filters: Mapping[str, Any]) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in filters.items():
            key = FILTER_ALIASES.get(name, name)
            if key not in LIST_FILTERS:
                raise Invalid(f"Unknown Snappy list filter: {name}.", provider=self.provider)
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            items = [str(item).strip() for item in values]
            if any("," in item for item in items):
                # The API splits on commas (OR lists): a comma inside a value would widen it.
                raise Invalid(
                    f"A {key} filter value cannot contain a comma.", provider=self.provider
                )
            items = [item for item in items if item]
            if items:
                params[key] = ",".join(items)
        return params

    # -- recipients -------------------------------------------------------------------------

    def list_recipients(self, skip: int = 0, limit: int = 200, **filters: Any) -> list[Recipient]:
        """Return one page of recipients (``limit`` 1-200) matching ``filters``.

        Filters take the API's names (``emails``, ``externalIds``, ``firstNames``,
        ``lastNames``, ``accountIds``, ``sources``, ``fields``) or snake_case aliases; a list
        value becomes a comma-separated OR list.
        """
        return [from_snappy(record) for record in self._list_page(skip, limit, filters, set())]

    def _list_page(
        self,
        skip: int,
        limit: int,
        filters: Mapping[str, Any],
        seen: set[str],
        result: ListRead | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield one page's records as the reply streams in, skipping ids in ``seen``."""
        if not _is_int(skip) or skip < 0:
            raise Invalid("skip must be a whole number of at least 0.", provider=self.provider)
        if not _is_int(limit) or not 1 <= limit <= self.max_page_size:
            raise Invalid(
                f"limit must be between 1 and {self.max_page_size}.", provider=self.provider
            )
        params = {**self._filter_params(filters), "skip": skip, "limit": limit}
        for record in self._read_list(
            self.recipients_path,
            params=params,
            array_key="results",
            check=_no_envelope,
            key=_record_id,
            seen=seen,
            result=result or ListRead(members={}),
        ):
            if isinstance(record, dict):
                yield record

    def iter_recipients(
        self, filters: Mapping[str, Any] | None = None, page_size: int = 200
    ) -> Iterator[Recipient]:
        """Yield every recipient matching ``filters``, page by page until a short page.

        The reply has no total, so the end is the first page shorter than ``page_size``. A
        full page that brings no new id means the server ignores ``skip``: the walk stops
        there instead of looping. Each page is parsed as it streams in; a page cut short is
        read again (``BaseClient._read_list``), and a page that never completes raises after
        the records already yielded, so the caller knows its listing is incomplete.
        """
        page_size = max(1, min(page_size, self.max_page_size))
        seen: set[str] = set()
        skip = 0
        for _ in range(self.max_pages):
            result = ListRead(members={})
            for record in self._list_page(skip, page_size, filters or {}, seen, result):
                yield from_snappy(record)
            if result.count < page_size or result.yielded == 0:
                return
            skip += result.count
        raise MalformedReply("Snappy kept sending pages; the list was cut short.")

    def get_recipient(self, recipient_id: str) -> Recipient:
        """Fetch one recipient by its Snappy id; ``NotFound`` if Snappy has none."""
        reply = self._request("GET", self.recipient_url(recipient_id), validate=self._expect_object)
        return from_snappy(reply.json())

    def find_recipient(
        self,
        *,
        email: str | None = None,
        external_id: str | None = None,
        remote_id: str | None = None,
    ) -> Recipient | None:
        """Find the one recipient that carries the given identifiers; None if none does.

        Every identifier the Snappy document lets a client search by is searched: the Snappy
        id (``GET /v2/recipients/{id}``), the email (list filter ``emails``, compared
        case-insensitively) and the external id (filter ``externalIds``, exact). The
        document offers no filter by phone, so a phone is not an identifier here.

        Several identifiers may be given (all keyword-only): each is looked up, and the
        answer is the one recipient they lead to. A recipient found by one identifier and
        not by another is still that recipient (the create that met a 409 may have carried
        an email the provider matched, and an external id it did not).

        Never guesses: when the identifiers lead to more than one recipient (two records
        with the same email or external id, or the email naming one recipient and the
        external id another), ``AmbiguousMatch`` is raised with how many were found;
        nothing is returned. None means no recipient carries any of them.
        """
        wanted_email = (email or "").strip()
        wanted_external = (external_id or "").strip()
        wanted_id = (remote_id or "").strip()
        if not (wanted_email or wanted_external or wanted_id):
            raise Invalid(
                "Give a Snappy id, an email or an external id to look for.",
                provider=self.provider,
            )
        found: dict[str, Recipient] = {}
        if wanted_id:
            try:
                recipient = self.get_recipient(wanted_id)
                found[recipient.remote_id] = recipient
            except NotFound:
                pass
        if wanted_email:
            for recipient in self.list_recipients(0, self.max_page_size, emails=[wanted_email]):
                if recipient.matches_email(wanted_email):
                    found.setdefault(recipient.remote_id, recipient)
        if wanted_external:
            page = self.list_recipients(0, self.max_page_size, externalIds=[wanted_external])
            for recipient in page:
                if recipient.external_id == wanted_external:
                    found.setdefault(recipient.remote_id, recipient)
        if len(found) > 1:
            raise AmbiguousMatch(
                f"{len(found)} Snappy recipients match these identifiers; none was chosen.",
                provider=self.provider,
                candidates=sorted(found),
            )
        return next(iter(found.values()), None)

    def create_recipient(self, payload: Mapping[str, Any]) -> Recipient:
        """Create a recipient; ``firstName``, ``country`` and ``accounts`` are required.

        Missing required fields raise ``Invalid`` before any request. After a timeout, a
        dropped connection or a 5xx, the recipient is looked up by email or external id
        before the POST is repeated, so a retry never makes a duplicate; a payload with
        neither cannot be looked up, so it is not repeated after an unknown outcome.
        """
        self._enforce_fields(payload)
        errors: dict[str, list[str]] = {}
        for key in _REQUIRED_ON_CREATE:
            if not _filled(payload.get(key)):
                errors[key] = ["This field is required."]
        accounts = payload.get("accounts")
        if "accounts" not in errors and (
            not isinstance(accounts, list | tuple)
            or not all(isinstance(item, str) and item for item in accounts)
        ):
            errors["accounts"] = ["Give a list of at least one account id."]
        if errors:
            raise Invalid(
                "Snappy needs a first name, a country and at least one account to create a "
                "recipient.",
                provider=self.provider,
                field_errors=errors,
            )
        email = payload.get("email") if isinstance(payload.get("email"), str) else None
        external_id = payload.get("externalId")
        external_id = str(external_id) if external_id not in (None, "") else None
        find = None
        if (email and email.strip()) or external_id:

            def find() -> Recipient | None:
                return self.find_recipient(email=email, external_id=external_id)

        return self._create(
            self.recipients_path,
            {**payload, "accounts": list(payload["accounts"])},
            parse=self._parse_recipient,
            find_existing=find,
            validate=self._expect_object,
        )

    def update_recipient(
        self,
        recipient_id: str,
        payload: Mapping[str, Any],
        *,
        current: Mapping[str, Any] | None = None,
    ) -> Recipient:
        """Update a recipient; return it as Snappy answers.

        ``accounts`` **replaces** the recipient's whole account list; to add or remove one,
        fetch the recipient, change ``fields["accounts"]`` and send the full list.
        ``recipientCustomFields`` replaces too: ``current`` (the record as it is now,
        ``Recipient.fields``) lets the list carry entries of disabled custom fields unchanged.
        Only the fields the update document lists may be sent (``externalId`` and
        ``owner`` are set on create only); others raise ``Invalid`` before any request.

        Nested objects (``employee``; ``owner`` if it ever becomes updatable) are sent
        whole: whether Snappy merges or replaces them is not published (CONTRACT-NOTES), so
        unless the payload already names every documented key of the object, the live record
        is read first (GET) and its other documented keys are sent unchanged beside the
        payload's. Changing the department therefore keeps ``workingSince`` on a server that
        replaces the object. Keys the documents do not give the object are not sent back: a
        strict server refuses them ("must NOT have additional properties").
        Only the payload's own fields are checked against the enabled fields: the live values
        carried along are not changes.

        The method (PATCH or PUT) is not published either: the client sends the one it was
        told (``update_method``) or learned, PATCH when unknown; a 405 makes it send the
        other one, and tells ``on_update_method`` the answer so it can be stored for the
        connection (every later client of it then sends the right method at once).
        """
        self._enforce_fields(payload, current=current)
        not_updatable = sorted(key for key in payload if key not in SNAPPY_UPDATABLE)
        if not_updatable:
            raise Invalid(
                "Snappy does not accept these fields in an update: " + ", ".join(not_updatable),
                provider=self.provider,
                field_errors={key: ["Set on create only."] for key in not_updatable},
            )
        url = self.recipient_url(recipient_id)
        body = self._with_whole_nested_objects(recipient_id, dict(payload))
        method = self.update_method or "PATCH"
        other = "PUT" if method == "PATCH" else "PATCH"
        reply = self._request(method, url, json=body, accept=(405,), validate=self._expect_object)
        if reply.status == 405:
            method = other
            reply = self._request(method, url, json=body, validate=self._expect_object)
        self._learn_update_method(method)
        return self._parse_recipient(reply)

    def _with_whole_nested_objects(self, recipient_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Fill each nested object of ``body`` with the live record's other documented keys."""
        partial = [
            key
            for key, documented in NESTED_OBJECTS.items()
            if isinstance(body.get(key), Mapping) and not documented <= set(body[key])
        ]
        if not partial:
            return body
        live = self.get_recipient(recipient_id).raw
        for key in partial:
            stored = live.get(key)
            if isinstance(stored, Mapping):
                kept = {k: v for k, v in stored.items() if k in NESTED_OBJECTS[key]}
                body[key] = {**kept, **body[key]}
        return body

    def _learn_update_method(self, method: str) -> None:
        with self._update_method_lock:
            if self.update_method == method:
                return
            self.update_method = method
        if self._on_update_method is not None:
            try:
                self._on_update_method(method)
            except Exception:  # storing the answer must never fail the update that found it
                logger.exception("Storing the Snappy update method failed")

    def delete_recipient(self, recipient_id: str) -> None:
        """Delete a recipient; Snappy answers 200 with a message or 204 (both accepted).

        A 404 after an attempt that may have acted (a timeout, a garbled reply) means that
        attempt deleted it: the delete has succeeded.
        """
        try:
            self._request("DELETE", self.recipient_url(recipient_id))
        except NotFound as exc:
            if not exc.after_unknown_outcome:
                raise

    # -- accounts and credentials -----------------------------------------------------------

    def list_accounts(self) -> list[dict[str, Any]]:
        """Return every account of the company (paged by 1000 until a short page)."""
        accounts: list[dict[str, Any]] = []
        seen: set[str] = set()
        skip, limit = 0, self.max_accounts_page_size
        for _ in range(self.max_pages):
            result = ListRead(members={})
            accounts.extend(
                account
                for account in self._read_list(
                    self.accounts_path,
                    params={"skip": skip, "limit": limit},
                    array_key="results",
                    check=_no_envelope,
                    key=_record_id,
                    seen=seen,
                    result=result,
                )
                if isinstance(account, dict)
            )
            if result.count < limit or result.yielded == 0:
                break
            skip += result.count
        return accounts

    def check_credentials(self) -> CredentialCheck:
        """Check the key with the cheapest read: one recipient, one field."""
        self._request(
            "GET",
            self.recipients_path,
            params={"skip": 0, "limit": 1},
            validate=self._expect_results,
        )
        latency = self.last_call.latency if self.last_call else 0.0
        return CredentialCheck(
            provider=self.provider, latency=latency, message="Snappy accepted the API key."
        )

    def _parse_recipient(self, reply: Reply) -> Recipient:
        body = reply.json_or_none()
        if not isinstance(body, dict):
            raise MalformedReply(
                "Snappy sent a success without the recipient.", provider=self.provider
            )
        return from_snappy(body)


def _no_envelope(members: Mapping[str, Any], complete: bool) -> ProviderError | None:
    return None  # Snappy's lists carry ``skip`` and ``limit`` beside ``results``, no status


def _record_id(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    return str(record.get("id") or record.get("_id") or "") or None


def _code(code: Any) -> str | int | None:
    return code if isinstance(code, str | int) and not isinstance(code, bool) else None


def _field_name(path: Any) -> str | None:
    """Turn a validation ``path`` into a field path, or None when it names the request."""
    if isinstance(path, list | tuple):
        parts = [str(part) for part in path]
    elif isinstance(path, str):
        if path.startswith(("/v2/", "/public-api", "http")):
            return None  # the request path, not a field
        parts = [part for part in re.split(r"[/.]", path) if part]
    else:
        return None
    if parts and parts[0] in ("body", "query", "params"):
        parts = parts[1:]
    return ".".join(parts) or None


def _field_errors(
    body: Mapping[str, Any], message: str, clean: Callable[[Any], str]
) -> dict[str, list[str]]:
    """Collect per-field messages from ``details`` (list or mapping) or ``path``.

    ``clean`` makes provider text safe to show (one line, bounded, no secrets).
    """
    errors: dict[str, list[str]] = {}
    details = body.get("details", body.get("errors"))
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict):
                keys = ("path", "field", "property", "instancePath", "param")
                raw_path = next((item[k] for k in keys if item.get(k)), None)
                name = _field_name(raw_path) or "__all__"
                text = item.get("message") or item.get("msg") or "Invalid value."
                errors.setdefault(name, []).append(clean(str(text)))
            elif isinstance(item, str):
                errors.setdefault("__all__", []).append(clean(item))
    elif isinstance(details, dict):
        for key, value in details.items():
            values = value if isinstance(value, list) else [value]
            errors[str(key)] = [clean(str(v)) for v in values]
    if not errors:
        path_name = _field_name(body.get("path"))
        if path_name:
            errors[path_name] = [message or "Invalid value."]
    return errors


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple):
        return bool(value)
    return True
