"""The Snappy public API (``/v2/recipients``, ``/v2/accounts``) as its documents describe it.

Quirks kept on purpose (CONTRACT-NOTES "Snappy public API"):
- ``X-Api-Key`` (24 characters) → 401 ``{"status", "errorCode": 10001, "message"}``;
- 400 validation errors carry ``path`` and ``errorCode: "INVALID_REQUEST"`` instead of
  ``status``, worded like Ajv;
- 100 requests/second per company across all endpoints → 429, ``Retry-After`` on some
  replies only;
- ``birthday`` accepted as ``YYYY-MM-DD`` or an ISO timestamp, answered as a timestamp;
- ``source`` is an object by default, a string by variant; delete answers 200 or 204;
- update accepts PATCH and PUT alike (variant ``snappy_update="put_only"``: 405 to PATCH);
  ``accounts`` replaces the list.

Where the documents are silent the sandbox chooses, and says so here:
- numeric ``errorCode`` values other than 10001 are the sandbox's own (see ``ERROR_CODES``);
  clients must branch on the status, never on these numbers or on messages;
- update merges top-level fields and one level into ``employee``; arrays replace (variant
  ``snappy_nested="replace"``: a nested object sent replaces the stored one, as the
  document allows, so a key left out is lost);
- the update body takes only the fields the update document lists (no ``externalId``, no
  ``owner``); anything else is "must NOT have additional properties";
- unknown query parameters are refused (400), as an OpenAPI validator does by default, so a
  misspelt filter cannot silently match everybody.
"""

from __future__ import annotations

import itertools
import random
import re
import string
import threading
from collections.abc import Callable, Sequence
from typing import Any

from integrations.sandbox.base import Runtime, id_rng
from integrations.sandbox.counters import SlidingWindowLimiter
from integrations.sandbox.messages import (
    BadJSON,
    Request,
    Resolved,
    Response,
    Route,
    empty_response,
    iso_format,
    iso_now,
    json_response,
    resolve,
)
from integrations.sandbox.messages import retry_after as retry_after_header
from integrations.sandbox.schema import Problem, parse_date_or_datetime, validate
from integrations.sandbox.seed import Person

Handler = Callable[[Request, dict[str, str]], Response]

REQUEST_SOURCES = ("api_native", "api_zapier", "api_salesforce", "api_ftp", "api_make")
COMPANY_ID_PATTERN = "^[A-Za-z0-9]{8,}$"
RECIPIENT_ID_PATTERN = "^[A-Za-z0-9]+$"
MOBILE_PHONE_PATTERN = r"^$|^[0-9 \-+().]{3,7}[0-9 \-+().]{3,7}[0-9]{3,7}$"
COUNTRY_PATTERN = "^[A-Za-z]+$"

ERROR_CODES = {
    "unauthorized": 10001,  # documented
    "forbidden_company": 10003,
    "not_found": 10004,
    "method_not_allowed": 10005,
    "duplicate": 10009,
    "business_rule": 10022,
    "rate_limited": 10029,
    "internal": 10500,
}

_STRING: dict[str, Any] = {"type": "string"}
_EMAIL: dict[str, Any] = {"type": "string", "format": "email"}
_DATE: dict[str, Any] = {"type": "string", "format": "date-or-date-time"}
_EMPLOYEE: dict[str, Any] = {
    "type": "object",
    "properties": {"workingSince": _DATE, "department": _STRING},
    "additionalProperties": False,
}
_OWNER: dict[str, Any] = {
    "type": "object",
    "properties": {"firstName": _STRING, "lastName": _STRING, "email": _EMAIL},
    "additionalProperties": False,
}
_CUSTOM_FIELDS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["fieldName"],
        "properties": {
            "fieldName": _STRING,
            "displayName": _STRING,
            "fieldValue": {"type": ["string", "number", "boolean", "null"]},
        },
        "additionalProperties": False,
    },
}
_FIELDS: dict[str, dict[str, Any]] = {
    "firstName": {"type": "string", "minLength": 1},
    "lastName": _STRING,
    "email": _EMAIL,
    "emailOverride": _EMAIL,
    "mobilePhone": {"type": "string", "pattern": MOBILE_PHONE_PATTERN},
    "country": {"type": "string", "pattern": COUNTRY_PATTERN},
    "birthday": _DATE,
    "accounts": {"type": "array", "minItems": 1, "items": _STRING},
    "type": {"type": "string", "enum": ["employee"]},
    "employee": _EMPLOYEE,
    "recipientCustomFields": _CUSTOM_FIELDS,
    "externalId": _STRING,
    "owner": _OWNER,
}
CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["firstName", "country", "accounts"],
    "properties": _FIELDS,
    "additionalProperties": False,
}
UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {k: v for k, v in _FIELDS.items() if k not in ("externalId", "owner")},
    "additionalProperties": False,
}

# Reply keys in the documented order; absent optional fields are left out of replies.
RECIPIENT_KEYS = (
    "id", "createdAt", "updatedAt", "firstName", "lastName", "email", "emailOverride",
    "mobilePhone", "country", "birthday", "accounts", "type", "employee", "owner",
    "externalId", "recipientCustomFields", "source", "updatedBy",
)  # fmt: skip
LIST_FILTERS = {
    "emails": "email",
    "externalIds": "externalId",
    "firstNames": "firstName",
    "lastNames": "lastName",
    "accountIds": "accounts",
    "sources": "source",
}
CASE_INSENSITIVE_FILTERS = frozenset({"emails", "firstNames", "lastNames"})
ACCOUNT_NAMES = (
    "Employee recognition",
    "Client gifting",
    "Onboarding kits",
    "Holiday gifts 2026",
    "Sales incentives",
)
SEED_SOURCES = ("apiIntegration", "csvUpload", "manual", "hris")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    headers = extra.pop("headers", None)
    body = {"status": status, "errorCode": ERROR_CODES[code], "message": message}
    return json_response(status, body, headers=headers)


def _invalid(request: Request, problems: Sequence[Problem], where: str = "body") -> Response:
    """Answer 400 in the documented validation shape (``path`` instead of ``status``)."""
    details = [{"path": f"/{where}{p.path}", "message": p.message} for p in problems]
    message = ", ".join(f"request/{where}{p.path} {p.message}" for p in problems)
    body = {"path": request.path, "errorCode": "INVALID_REQUEST", "message": message,
            "details": details}  # fmt: skip
    return json_response(400, body)


def _to_timestamp(value: str) -> str:
    """Answer dates as Snappy's examples print them: ``2022-12-06T00:00:00.000Z``."""
    day = parse_date_or_datetime(value)
    return f"{day.isoformat()}T00:00:00.000Z" if day else value


class SnappyApp:
    """In-memory Snappy company with the documented routes."""

    name = "snappy"

    def __init__(self, runtime: Runtime, credentials: dict[str, str]) -> None:
        self._runtime = runtime
        self._credentials = credentials
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        self._by_email: dict[str, str] = {}
        self._by_external_id: dict[str, str] = {}
        self._accounts: dict[str, dict[str, Any]] = {}
        self._ids = id_rng(runtime.random_seed, "snappy-ids")
        self._limiter = SlidingWindowLimiter()
        self._retry_after_rng = id_rng(runtime.random_seed, "snappy-retry-after")
        self._api_user = "apiuser" + credentials["company_id"][:5].lower()
        single = re.compile(r"/v2/recipients/(?P<id>[^/]+)")
        self._routes = (
            Route(frozenset({"GET"}), re.compile(r"/v2/recipients"), "/v2/recipients",
                  self._list),
            Route(frozenset({"POST"}), re.compile(r"/v2/recipients"), "/v2/recipients",
                  self._create),
            Route(frozenset({"GET"}), single, "/v2/recipients/{id}", self._get),
            # CONTRACT-NOTES: the update method is not published; PATCH and PUT both work.
            Route(frozenset({"PATCH", "PUT"}), single, "/v2/recipients/{id}", self._update),
            Route(frozenset({"DELETE"}), single, "/v2/recipients/{id}", self._delete),
            Route(frozenset({"GET"}), re.compile(r"/v2/accounts"), "/v2/accounts",
                  self._list_accounts),
        )  # fmt: skip

    # -- routing, auth, rate limit, common parameters -----------------------------------------

    def resolve(self, request: Request) -> Resolved:
        resolved = resolve(
            self._routes, request, not_found=self._not_found, not_allowed=self._not_allowed
        )
        if resolved.handler in (self._not_found, self._not_allowed):
            return resolved
        return Resolved(resolved.template, self._guarded(resolved.handler), resolved.params)

    def _guarded(self, handler: Handler) -> Handler:
        def run(request: Request, params: dict[str, str]) -> Response:
            if request.header("x-api-key") != self._credentials["api_key"]:
                return _error(401, "unauthorized", "Authorization key is invalid.")
            company_id = self._credentials["company_id"]
            limit = self._runtime.config().variants.snappy_rate_limit
            wait = self._limiter.acquire(company_id, limit)
            if wait is not None:
                return self._rate_limited(wait)
            source = request.header("request-source")
            if source is not None and source not in REQUEST_SOURCES:
                allowed = ", ".join(REQUEST_SOURCES)
                message = f"must be equal to one of the allowed values: {allowed}"
                problem = Problem("/request-source", message, "enum")
                return _invalid(request, [problem], where="headers")
            requested_company = request.query_value("companyId")
            if requested_company is not None:
                problems = validate(requested_company, {"pattern": COMPANY_ID_PATTERN})
                if problems:
                    return _invalid(request, _at("/companyId", problems), where="query")
                if requested_company != company_id:
                    return _error(
                        403, "forbidden_company", "You do not have access to this company."
                    )
            return handler(request, params)

        return run

    def _rate_limited(self, wait: float) -> Response:
        # CONTRACT-NOTES: Retry-After is "sometimes present"; the share is seeded.
        with self._lock:
            with_header = self._retry_after_rng.random() < 0.5
        style = self._runtime.config().variants.retry_after
        headers = [retry_after_header(max(1, round(wait + 0.49)), style)] if with_header else []
        return _error(429, "rate_limited", "Too many requests, please slow down.",
                      headers=headers)  # fmt: skip

    def _not_found(self, request: Request, params: dict[str, str]) -> Response:
        return _error(404, "not_found", f"Cannot {request.method} {request.path}")

    def _not_allowed(self, request: Request, params: dict[str, str]) -> Response:
        return _error(405, "method_not_allowed", f"{request.method} is not allowed here.")

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        style = self._runtime.config().variants.retry_after
        headers = [retry_after_header(retry_after, style)] if retry_after is not None else []
        if status == 429:
            return _error(429, "rate_limited", "Too many requests, please slow down.",
                          headers=headers)  # fmt: skip
        return _error(status, "internal", "Internal server error.", headers=headers)

    def reset(self) -> None:
        self._limiter.reset()
        with self._lock:
            self._retry_after_rng = id_rng(self._runtime.random_seed, "snappy-retry-after")

    # -- recipients -----------------------------------------------------------------------------

    def _list(self, request: Request, params: dict[str, str]) -> Response:
        allowed = {"companyId", "skip", "limit", "fields", *LIST_FILTERS}
        if problem := _unknown_query(request, allowed):
            return _invalid(request, problem, where="query")
        paging = _paging(request, default_limit=200, max_limit=200)
        if isinstance(paging, list):
            return _invalid(request, paging, where="query")
        skip, limit = paging
        filters = {
            name: {v.strip().lower() if name in CASE_INSENSITIVE_FILTERS else v.strip()
                   for v in raw.split(",") if v.strip()}
            for name in LIST_FILTERS
            if (raw := request.query_value(name))
        }  # fmt: skip
        fields = request.query_value("fields")
        projection = {f.strip() for f in fields.split(",") if f.strip()} if fields else None
        with self._lock:
            records = self._records.values()
            # Without filters, skip in C: a walk of 100,000 recipients stays linear per page.
            matches = (r for r in records if _matches(r, filters)) if filters else iter(records)
            page = list(itertools.islice(matches, skip, skip + limit))
        results = [self._render(record, projection) for record in page]
        return json_response(200, {"results": results, "skip": skip, "limit": limit})

    def _get(self, request: Request, params: dict[str, str]) -> Response:
        if bad := self._bad_query_or_id(request, params):
            return bad
        with self._lock:
            record = self._records.get(params["id"])
        if record is None:
            return _error(404, "not_found", "Recipient not found.")
        return json_response(200, self._render(record))

    def _create(self, request: Request, params: dict[str, str]) -> Response:
        if problem := _unknown_query(request, {"companyId"}):
            return _invalid(request, problem, where="query")
        try:
            body = request.json()
        except BadJSON:
            return _invalid(request, [Problem("", "must be valid JSON", "json")])
        problems = validate({} if body is None else body, CREATE_SCHEMA)
        if problems:
            return _invalid(request, problems)
        fields = _normalize(body)
        with self._lock:
            if unknown := [a for a in fields["accounts"] if a not in self._accounts]:
                return _error(422, "business_rule", f"Invalid account ids: {', '.join(unknown)}")
            if self._duplicate(fields, exclude=None):
                return _error(409, "duplicate", "A recipient with the same data already exists.")
            now = iso_now()
            record = {"id": self._new_id(), "createdAt": now, "updatedAt": now,
                      "type": "employee", **fields, "source": "apiIntegration",
                      "updatedBy": self._api_user}  # fmt: skip
            self._store(record)
            identifier = (fields.get("email") or "").lower() or fields.get("externalId")
            self._runtime.counters.created(self.name, identifier or record["id"])
        return json_response(201, self._render(record))

    def _update(self, request: Request, params: dict[str, str]) -> Response:
        if (
            request.method == "PATCH"
            and self._runtime.config().variants.snappy_update == "put_only"
        ):
            return self._not_allowed(request, params)
        if bad := self._bad_query_or_id(request, params):
            return bad
        try:
            body = request.json()
        except BadJSON:
            return _invalid(request, [Problem("", "must be valid JSON", "json")])
        problems = validate({} if body is None else body, UPDATE_SCHEMA)
        if problems:
            return _invalid(request, problems)
        changes = _normalize(body or {})
        with self._lock:
            current = self._records.get(params["id"])
            if current is None:
                return _error(404, "not_found", "Recipient not found.")
            if unknown := [a for a in changes.get("accounts", ()) if a not in self._accounts]:
                return _error(422, "business_rule", f"Invalid account ids: {', '.join(unknown)}")
            if self._duplicate(changes, exclude=current["id"]):
                return _error(409, "duplicate", "A recipient with the same data already exists.")
            if self._runtime.config().variants.snappy_nested == "merge":
                for key in ("employee", "owner"):  # one level of merge inside nested objects
                    if key in changes:
                        changes[key] = {**current.get(key, {}), **changes[key]}
            # ``accounts`` and every other array replace the stored value (documented).
            record = {**current, **changes, "updatedAt": iso_now(), "updatedBy": self._api_user}
            self._unindex(current)
            self._store(record)
        return json_response(200, self._render(record))

    def _delete(self, request: Request, params: dict[str, str]) -> Response:
        if bad := self._bad_query_or_id(request, params):
            return bad
        with self._lock:
            record = self._records.pop(params["id"], None)
            if record is None:
                return _error(404, "not_found", "Recipient not found.")
            self._unindex(record)
        if self._runtime.config().variants.snappy_delete == "204":
            return empty_response(204)
        return json_response(200, {"message": "Recipient deleted successfully."})

    def _bad_query_or_id(self, request: Request, params: dict[str, str]) -> Response | None:
        if problem := _unknown_query(request, {"companyId"}):
            return _invalid(request, problem, where="query")
        problems = validate(params["id"], {"pattern": RECIPIENT_ID_PATTERN})
        if problems:
            return _invalid(request, _at("/id", problems), where="params")
        return None

    # -- accounts -------------------------------------------------------------------------------

    def _list_accounts(self, request: Request, params: dict[str, str]) -> Response:
        if problem := _unknown_query(request, {"companyId", "skip", "limit"}):
            return _invalid(request, problem, where="query")
        paging = _paging(request, default_limit=100, max_limit=1000)
        if isinstance(paging, list):
            return _invalid(request, paging, where="query")
        skip, limit = paging
        with self._lock:
            results = [
                dict(a) for a in itertools.islice(self._accounts.values(), skip, skip + limit)
            ]
        return json_response(200, {"results": results, "skip": skip, "limit": limit})

    # -- data -----------------------------------------------------------------------------------

    def _render(self, record: dict[str, Any], projection: set[str] | None = None) -> dict[str, Any]:
        as_object = self._runtime.config().variants.snappy_source == "object"
        out: dict[str, Any] = {}
        for key in RECIPIENT_KEYS:
            if key not in record or (projection is not None and key != "id"
                                     and key not in projection):  # fmt: skip
                continue
            value = record[key]
            if key == "source":
                value = {"type": value} if as_object else value
            out[key] = value
        return out

    def _duplicate(self, fields: dict[str, Any], *, exclude: str | None) -> bool:
        """Same email (case-insensitive) or same externalId as another recipient → 409."""
        email = (fields.get("email") or "").lower()
        external_id = fields.get("externalId")
        for owner in (self._by_email.get(email) if email else None,
                      self._by_external_id.get(external_id) if external_id else None):  # fmt: skip
            if owner is not None and owner != exclude:
                return True
        return False

    def _store(self, record: dict[str, Any]) -> None:
        self._records[record["id"]] = record
        if record.get("email"):
            self._by_email[record["email"].lower()] = record["id"]
        if record.get("externalId"):
            self._by_external_id[record["externalId"]] = record["id"]

    def _unindex(self, record: dict[str, Any]) -> None:
        if record.get("email"):
            self._by_email.pop(record["email"].lower(), None)
        if record.get("externalId"):
            self._by_external_id.pop(record["externalId"], None)

    def _new_id(self) -> str:
        while True:
            candidate = "".join(self._ids.choices(_ID_ALPHABET, k=12))
            if candidate not in self._records:
                return candidate

    def reseed(self, people: Sequence[Person]) -> None:
        rng = id_rng(self._runtime.random_seed, "snappy-seed")
        with self._lock:
            self._records.clear()
            self._by_email.clear()
            self._by_external_id.clear()
            self._accounts.clear()
            self._ids = id_rng(self._runtime.random_seed, "snappy-ids")
            created = iso_format(people[0].created_at) if people else iso_now()
            for name in ACCOUNT_NAMES:
                account_id = "a" + "".join(rng.choices(_ID_ALPHABET, k=7))
                self._accounts[account_id] = {
                    "id": account_id,
                    "name": name,
                    "createdAt": created,
                    "updatedAt": created,
                }
            account_ids = list(self._accounts)
            for person in people:
                self._store(_seed_record(person, self._new_id(), account_ids, rng))

    def seed_compact(self, count: int) -> None:
        """Replace the recipients with ``count`` compact ones (``bulk{n}@example.com``);
        the accounts stay."""
        now = iso_now()
        with self._lock:
            self._records.clear()
            self._by_email.clear()
            self._by_external_id.clear()
            account_ids = list(self._accounts)
            for n in range(count):
                self._store(
                    {
                        "id": self._new_id(),
                        "createdAt": now,
                        "updatedAt": now,
                        "firstName": f"First{n}",
                        "lastName": f"Last{n}",
                        "email": f"bulk{n}@example.com",
                        "country": "GB",
                        "accounts": account_ids[n % len(account_ids) :][:1],
                        "type": "employee",
                        "employee": {
                            "workingSince": "2020-01-15T00:00:00.000Z",
                            "department": "Engineering",
                        },
                        "externalId": f"B{n}",
                        "source": "apiIntegration",
                        "updatedBy": self._api_user,
                    }
                )

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "recipients": len(self._records),
                "company_id": self._credentials["company_id"],
                "accounts": [{"id": a["id"], "name": a["name"]} for a in self._accounts.values()],
            }


def _at(name: str, problems: Sequence[Problem]) -> list[Problem]:
    return [Problem(name + p.path, p.message, p.keyword) for p in problems]


def _unknown_query(request: Request, allowed: set[str]) -> list[Problem]:
    return [
        Problem(f"/{name}", f"Unknown query parameter '{name}'", "unknown")
        for name in request.query
        if name not in allowed
    ]


def _paging(
    request: Request, *, default_limit: int, max_limit: int
) -> tuple[int, int] | list[Problem]:
    problems: list[Problem] = []
    values = {}
    for name, default, low, high in (("skip", 0, 0, None), ("limit", default_limit, 1, max_limit)):
        raw = request.query_value(name)
        if raw is None:
            values[name] = default
            continue
        if not re.fullmatch(r"-?[0-9]+", raw):
            problems.append(Problem(f"/{name}", "must be integer", "type"))
            continue
        number = int(raw)
        if number < low:
            problems.append(Problem(f"/{name}", f"must be >= {low}", "minimum"))
        elif high is not None and number > high:
            problems.append(Problem(f"/{name}", f"must be <= {high}", "maximum"))
        values[name] = number
    return problems if problems else (values["skip"], values["limit"])


def _matches(record: dict[str, Any], filters: dict[str, set[str]]) -> bool:
    """Each filter is an OR list; different filters must all match."""
    for name, wanted in filters.items():
        value = record.get(LIST_FILTERS[name])
        if name == "accountIds":
            if not wanted.intersection(value or ()):
                return False
            continue
        if value is None:
            return False
        if name in CASE_INSENSITIVE_FILTERS:
            value = value.lower()
        if value not in wanted:
            return False
    return True


def _normalize(body: dict[str, Any]) -> dict[str, Any]:
    """Return a validated body as stored: dates answered as timestamps, lists copied."""
    fields = dict(body)
    if "birthday" in fields:
        fields["birthday"] = _to_timestamp(fields["birthday"])
    if "employee" in fields:
        employee = dict(fields["employee"])
        if "workingSince" in employee:
            employee["workingSince"] = _to_timestamp(employee["workingSince"])
        fields["employee"] = employee
    if "accounts" in fields:
        fields["accounts"] = list(fields["accounts"])
    return fields


def _seed_record(
    person: Person, record_id: str, account_ids: list[str], rng: random.Random
) -> dict[str, Any]:
    created = iso_format(person.created_at)
    record: dict[str, Any] = {
        "id": record_id,
        "createdAt": created,
        "updatedAt": created,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "country": person.country.code,
        "accounts": rng.sample(account_ids, rng.choice((1, 1, 2))) if account_ids else [],
        "type": "employee",
        "employee": {
            "workingSince": f"{person.hire_date.isoformat()}T00:00:00.000Z",
            "department": person.department,
        },
        "source": rng.choice(SEED_SOURCES),
        "updatedBy": "usr" + "".join(rng.choices(_ID_ALPHABET, k=5)),
    }
    if rng.random() < 0.95:
        record["email"] = person.email
    if rng.random() < 0.8:
        record["externalId"] = person.employee_id
    if rng.random() < 0.6:
        record["mobilePhone"] = f"+{person.country.calling_code} {person.mobile}"
    if person.birthday is not None:
        record["birthday"] = f"{person.birthday.isoformat()}T00:00:00.000Z"
    if rng.random() < 0.05:
        record["emailOverride"] = person.email.split("@")[0] + "@mail.example.org"
    if rng.random() < 0.2:
        record["owner"] = {"firstName": "Renée", "lastName": "Åberg",
                           "email": "renee.aberg@example.com"}  # fmt: skip
    if rng.random() < 0.3:
        record["recipientCustomFields"] = [
            {"fieldName": "tShirtSize", "displayName": "T-shirt size",
             "fieldValue": rng.choice(["XS", "S", "M", "L", "XL"])},
            {"fieldName": "dietaryRequirements", "displayName": "Dietary requirements",
             "fieldValue": rng.choice(["None", "Vegetarian", "Vegan", "Halal", "Kosher"])},
        ]  # fmt: skip
    return record
