"""The RedFlag Recipient API (``/int/v1/recipient``) as its documents describe it.

Quirks kept on purpose (CONTRACT-NOTES "RedFlag Recipient API"):
- errors arrive as HTTP 200 ``{"success": false, "message": ...}``;
- ``:email`` in the path is an email or an ``_id``, matched case-insensitively;
- the list returns every recipient and ignores ``limit`` (variant ``redflag_list="paged"``
  honours ``limit`` 1-1000 and the keyset cursor ``previousLastId``, newest first;
  ``"strict"`` refuses any query parameter with "Illegal parameters"), streamed as it is
  rendered so a 200,000-recipient reply is never held whole;
- a bad token gets 401 by default, or 200 + ``success: false``, or 403 (variant);
- errors are a 200 by default, or (variant ``redflag_errors="http"``) the overview's HTTP
  statuses with the same body: 400 illegal parameters, 404 not found, 409 email in use;
- a create answers 200 (the endpoint document) or 201 (the overview; variant);
- PUT (and PATCH, which the overview names) merges top-level fields and replaces arrays;
- delete is hard.
The endpoint document lists no ``email`` in the update body, so an update naming ``email`` is
refused like any unknown field ("Illegal parameters"): the address is the record's key.
"""

from __future__ import annotations

import bisect
import html
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from integrations.sandbox.base import Runtime, id_rng
from integrations.sandbox.messages import (
    HTML_TYPE,
    BadJSON,
    Request,
    Resolved,
    Response,
    Route,
    iso_format,
    iso_now,
    json_response,
    resolve,
    stream_json_array,
    text_response,
)
from integrations.sandbox.messages import retry_after as retry_after_header
from integrations.sandbox.seed import DEPARTMENTS, SEED_EPOCH, SEED_SPAN, Person

ILLEGAL = "Illegal parameters"
LIST_BATCH = 200  # records per streamed chunk of the list
NOT_FOUND = "Recipient Not Found"

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
OBJECT_ID_RE = re.compile(r"[0-9a-f]{24}")
CALLING_CODE_RE = re.compile(r"[0-9]{1,4}", re.ASCII)
COUNTRY_RE = re.compile(r"(?:[A-Za-z]{2})?")
TAG_KEY_RE = re.compile(r"z_\S+")

STRING_FIELDS = frozenset(
    {"firstName", "lastName", "preferredName", "mobile", "phone", "fax", "title",
     "department", "location", "orgId", "linkedinUrl"}
)  # fmt: skip
BOOLEAN_FIELDS = frozenset({"active", "allowEmail", "allowSms", "exclusive"})
CALLING_CODE_FIELDS = frozenset({"mobileCountry", "phoneCountry", "faxCountry"})
OBJECT_ID_LIST_FIELDS = frozenset({"skills", "reportsTo", "supports", "supportedBy"})
STRING_LIST_FIELDS = frozenset({"sfReportsToUserIds"})
HISTORY_FIELDS: dict[str, frozenset[str]] = {
    "education": frozenset({"school", "degree", "major", "country", "start", "end", "_id"}),
    "employment": frozenset({"company", "employer", "title", "country", "start", "end", "_id"}),
    "certification": frozenset({"name", "institution", "start", "end", "_id"}),
}
UPDATABLE_FIELDS = (
    STRING_FIELDS
    | BOOLEAN_FIELDS
    | CALLING_CODE_FIELDS
    | OBJECT_ID_LIST_FIELDS
    | STRING_LIST_FIELDS
    | frozenset(HISTORY_FIELDS)
    | frozenset({"country", "tags", "sfHireDate"})
)
CREATE_FIELDS = UPDATABLE_FIELDS | {"email"}

# Every documented key, in the documented order; a stored record overrides these defaults.
# The lists are shared between rendered records: they are only ever JSON-encoded.
TEMPLATE: dict[str, Any] = {
    "_id": "", "aDate": "", "mDate": "", "email": "", "active": True, "registered": True,
    "suppressed": False, "firstName": "", "lastName": "", "displayName": "", "formalName": "",
    "preferredName": "", "mobile": "", "phone": "", "country": "", "fax": "",
    "phoneCountry": "", "faxCountry": "", "mobileCountry": "", "phoneFull": "", "faxFull": "",
    "mobileFull": "", "nameIsUnicode": False, "mobileSendable": False, "tags": [],
    "title": "", "department": "", "location": "", "orgId": "", "sfHireDate": "",
    "linkedinUrl": "", "agreement": {"history": []}, "allowEmail": True, "allowSms": False,
    "allowCommentReplyMobileNotify": True, "skills": [], "availability": [], "exclusive": False,
    "sharedUsers": [], "sharedGroups": [], "status": "99", "ownerId": "",
    "sfReportsToUserIds": [], "followingIds": [], "reportsTo": [], "supports": [],
    "supportedBy": [], "education": [], "employment": [], "certification": [], "notes": [],
    "contactMeCount": 0, "appPermission": False, "online": False, "timezone": "",
    "admin": False, "activeConsole": False, "onlineConsole": False,
    "clientAgreementLog": {"history": []}, "appStorage": {"recentObjects": []},
    "noDefaultRole": False, "roles": [], "groups": [], "notifyMyChanges": False,
    "notifyCampaignOwner": False, "notifyCampaignMember": False,
    "_type": "pb_c_c8_console_user", "__v": 0, "hasChosenPhoto": False, "delegators": [],
}  # fmt: skip

Handler = Callable[[Request, dict[str, str]], Response]

EXPRESS_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
    "</head>\n<body>\n<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n"
)


class Illegal(ValueError):
    """The body breaks a documented rule; RedFlag answers "Illegal parameters"."""


class ObjectIds:
    """Mongo-like ``_id`` values: 4-byte time, 5 fixed bytes, 3-byte counter (24 hex).

    Each id is greater than the one before, so sorting ids sorts by creation time and the
    paged list's "newest first" keyset cursor works on ids alone.
    """

    def __init__(self, rng_seed: str) -> None:
        rng = id_rng(0, rng_seed)
        self._process = f"{rng.getrandbits(40):010x}"
        self._counter = rng.getrandbits(24)
        self._last_time = 0

    def new(self, timestamp: float) -> str:
        self._last_time = max(int(timestamp), self._last_time)
        self._counter = (self._counter + 1) % (1 << 24)
        if self._counter == 0:  # wrapped: move time on so ids keep ascending
            self._last_time += 1
        return f"{self._last_time:08x}{self._process}{self._counter:06x}"


class Compact(dict[str, Any]):
    """A bulk-seeded record, rendered as stored without the documented defaults.

    ``seed_compact`` fills an account with hundreds of thousands of these for volume tests
    and benchmarks; once updated, a record is a plain ``dict`` and renders in full.
    """

    __slots__ = ()


def render(record: dict[str, Any]) -> dict[str, Any]:
    """Return the full documented object for a stored record (a compact one as stored)."""
    if type(record) is Compact:
        return record
    full = dict(TEMPLATE)
    full.update(record)
    return full


class RedFlagApp:
    """In-memory RedFlag location with the documented routes."""

    name = "redflag"

    def __init__(self, runtime: Runtime, credentials: dict[str, str]) -> None:
        self._runtime = runtime
        self._credentials = credentials
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        self._by_email: dict[str, str] = {}
        self._order: list[str] = []  # ids ascending = oldest first
        self._ids = ObjectIds(f"redflag-ids:{runtime.random_seed}")
        # The curl examples use the singular, the JavaScript examples the plural
        # (CONTRACT-NOTES); both work, and the counters show which one a client used.
        routes: list[Route] = []
        for base in ("/int/v1/recipient", "/int/v1/recipients"):
            collection = re.compile(re.escape(base))
            single = re.compile(re.escape(base) + r"/(?P<key>[^/]+)")
            routes += [
                Route(frozenset({"GET"}), collection, base, self._list),
                Route(frozenset({"POST"}), collection, base, self._create),
                Route(frozenset({"GET"}), single, base + "/{email}", self._get),
                # The overview says PATCH, the endpoint document PUT: same semantics.
                Route(frozenset({"PUT", "PATCH"}), single, base + "/{email}", self._update),
                Route(frozenset({"DELETE"}), single, base + "/{email}", self._delete),
            ]
        self._routes = tuple(routes)

    # -- routing and auth -------------------------------------------------------------------

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
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or token.strip() != self._credentials["token"]:
                # CONTRACT-NOTES: unknown whether RedFlag says 401 or 200 + success:false.
                variant = self._runtime.config().variants.redflag_auth_failure
                status = int(variant)
                return json_response(status, {"success": False, "message": "Unauthorized"})
            return handler(request, params)

        return run

    def _not_found(self, request: Request, params: dict[str, str]) -> Response:
        # Express answers unknown routes and methods with its own HTML 404.
        path = html.escape(request.path or "/")
        page = EXPRESS_404.format(method=request.method, path=path)
        return text_response(404, page, HTML_TYPE)

    def reset(self) -> None:
        """Nothing transient to clear: RedFlag publishes no rate limit."""

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        message = "Too many requests" if status == 429 else "Internal Server Error"
        style = self._runtime.config().variants.retry_after
        headers = [retry_after_header(retry_after, style)] if retry_after is not None else []
        return json_response(status, {"success": False, "message": message}, headers=headers)

    def _error(self, message: str) -> Response:
        """RedFlag's failure body: in a 200 (CONTRACT-NOTES), or with the overview's status."""
        status = 200
        if self._runtime.config().variants.redflag_errors == "http":
            lowered = message.lower()
            status = 404 if "not found" in lowered else 409 if "in use" in lowered else 400
        return json_response(status, {"success": False, "message": message})

    # -- handlers ---------------------------------------------------------------------------

    def _list(self, request: Request, params: dict[str, str]) -> Response:
        variant = self._runtime.config().variants.redflag_list
        paged = variant == "paged"
        if variant == "strict" and request.query:
            return self._error(ILLEGAL)  # the document shows no query parameter at all
        if paged:
            try:
                limit = _int_param(request.query_value("limit"), default=100, low=1, high=1000)
            except Illegal:
                return self._error(ILLEGAL)
            cursor = (request.query_value("previousLastId") or "").lower()
            if cursor and not OBJECT_ID_RE.fullmatch(cursor):
                return self._error(ILLEGAL)
        with self._lock:
            total = len(self._order)
            if paged:
                end = bisect.bisect_left(self._order, cursor) if cursor else total
                ids = self._order[max(0, end - limit) : end][::-1]
            else:
                ids = self._order
            records = [self._records[record_id] for record_id in ids]
        # Records are replaced, never mutated, so rendering outside the lock is consistent.
        body = stream_json_array(
            b'{"success":true,"data":', records, render, b',"total":%d}' % total, batch=LIST_BATCH
        )
        return Response(200, body, parts=len(records) // LIST_BATCH + 2)

    def _get(self, request: Request, params: dict[str, str]) -> Response:
        with self._lock:
            record = self._find(params["key"])
        if record is None:
            return self._error(NOT_FOUND)
        return _ok(render(record))

    def _create(self, request: Request, params: dict[str, str]) -> Response:
        try:
            body = _object_body(request)
            if any(not isinstance(body.get(k), str) or not body[k].strip()
                   for k in ("email", "firstName", "lastName")):  # fmt: skip
                raise Illegal
            changes = _clean(body, allowed=CREATE_FIELDS)
        except Illegal:
            return self._error(ILLEGAL)
        email = changes["email"].strip()
        with self._lock:
            if email.lower() in self._by_email:
                return self._error(
                    f"The email address {email} is already in use by another account"
                )
            now = iso_now()
            record_id = self._ids.new(time.time())
            record = _derive({**changes, "_id": record_id, "aDate": now, "mDate": now,
                              "email": email, "ownerId": record_id})  # fmt: skip
            self._store(record)
            self._runtime.counters.created(self.name, email.lower())
        status = int(self._runtime.config().variants.redflag_create)
        return json_response(status, {"success": True, "data": render(record)})

    def _update(self, request: Request, params: dict[str, str]) -> Response:
        try:
            changes = _clean(_object_body(request), allowed=UPDATABLE_FIELDS)
            for key in ("firstName", "lastName"):
                if key in changes and not changes[key].strip():
                    raise Illegal
        except Illegal:
            return self._error(ILLEGAL)
        with self._lock:
            current = self._find(params["key"])
            if current is None:
                return self._error(NOT_FOUND)
            # Top-level merge; a supplied array replaces the stored one (CONTRACT-NOTES).
            record = _derive({**current, **changes, "mDate": iso_now(),
                              "__v": current.get("__v", 0) + 1})  # fmt: skip
            self._records[record["_id"]] = record
        return _ok(render(record))

    def _delete(self, request: Request, params: dict[str, str]) -> Response:
        with self._lock:
            record = self._find(params["key"])
            if record is None:
                return self._error(NOT_FOUND)
            record_id = record["_id"]
            del self._records[record_id]
            del self._by_email[record["email"].lower()]
            index = bisect.bisect_left(self._order, record_id)
            del self._order[index]
        return json_response(200, {"success": True})

    # -- data -------------------------------------------------------------------------------

    def _find(self, key: str) -> dict[str, Any] | None:
        folded = key.strip().lower()
        record_id = folded if folded in self._records else self._by_email.get(folded)
        return self._records.get(record_id) if record_id else None

    def _store(self, record: dict[str, Any]) -> None:
        self._records[record["_id"]] = record
        self._by_email[record["email"].lower()] = record["_id"]
        self._order.append(record["_id"])  # ids ascend, so appending keeps the order sorted

    def reseed(self, people: Sequence[Person]) -> None:
        rng = id_rng(self._runtime.random_seed, "redflag-seed")
        with self._lock:
            self._records.clear()
            self._by_email.clear()
            self._order.clear()
            self._ids = ObjectIds(f"redflag-ids:{self._runtime.random_seed}")
            for person in people:
                self._store(_seed_record(person, self._ids, rng))

    def seed_compact(self, count: int) -> None:
        """Replace all data with ``count`` compact recipients (``bulk{n}@example.com``)."""
        now = iso_now()
        with self._lock:
            self._records.clear()
            self._by_email.clear()
            self._order.clear()
            self._ids = ObjectIds(f"redflag-ids:{self._runtime.random_seed}")
            stamp = time.time()
            for n in range(count):
                record_id = self._ids.new(stamp)
                self._store(
                    Compact(
                        _id=record_id,
                        aDate=now,
                        mDate=now,
                        email=f"bulk{n}@example.com",
                        firstName=f"First{n}",
                        lastName=f"Last{n}",
                        department=DEPARTMENTS[n % len(DEPARTMENTS)],
                    )
                )

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {"recipients": len(self._records)}

    def emails(self) -> list[str]:
        """Return the stored emails, oldest first (for tests and the demo)."""
        with self._lock:
            return [self._records[record_id]["email"] for record_id in self._order]


# -- validation -------------------------------------------------------------------------------


def _ok(data: dict[str, Any]) -> Response:
    return json_response(200, {"success": True, "data": data})


def _object_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except BadJSON as exc:
        raise Illegal from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise Illegal
    return body


def _int_param(value: str | None, *, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit():
        raise Illegal
    number = int(value)
    if not low <= number <= high:
        raise Illegal
    return number


def _yyyymmdd(value: Any) -> str:
    """Check a documented ``YYYYMMDD`` date (an empty string clears it)."""
    if not isinstance(value, str):
        raise Illegal
    if value == "":
        return value
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise Illegal
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise Illegal from exc
    return value


def _new_object_id(given: Any = None) -> str:
    """Keep a valid ``_id`` a client echoed back (Mongo does), else make a new one."""
    if isinstance(given, str) and OBJECT_ID_RE.fullmatch(given):
        return given
    return secrets.token_hex(12)


def _clean(body: dict[str, Any], *, allowed: frozenset[str]) -> dict[str, Any]:
    """Return the body's fields, checked against the documented types, or raise Illegal."""
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key not in allowed:
            raise Illegal
        if key == "email":
            if not isinstance(value, str) or not EMAIL_RE.fullmatch(value.strip()):
                raise Illegal
            changes[key] = value.strip()
        elif key in STRING_FIELDS:
            if not isinstance(value, str):
                raise Illegal
            changes[key] = value
        elif key in BOOLEAN_FIELDS:
            if not isinstance(value, bool):
                raise Illegal
            changes[key] = value
        elif key in CALLING_CODE_FIELDS:
            # CONTRACT-NOTES: 1-4 digit calling codes; numbers exclude them.
            if not isinstance(value, str) or not (value == "" or CALLING_CODE_RE.fullmatch(value)):
                raise Illegal
            changes[key] = value
        elif key == "country":
            if not isinstance(value, str) or not COUNTRY_RE.fullmatch(value):
                raise Illegal
            changes[key] = value
        elif key == "sfHireDate":
            changes[key] = _yyyymmdd(value)
        elif key in OBJECT_ID_LIST_FIELDS:
            if not isinstance(value, list) or not all(
                isinstance(v, str) and OBJECT_ID_RE.fullmatch(v.lower()) for v in value
            ):
                raise Illegal
            changes[key] = [v.lower() for v in value]
        elif key in STRING_LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise Illegal
            changes[key] = list(value)
        elif key in HISTORY_FIELDS:
            changes[key] = _history(value, HISTORY_FIELDS[key])
        elif key == "tags":
            changes[key] = _tags(value)
    return changes


def _history(value: Any, fields: frozenset[str]) -> list[dict[str, Any]]:
    # CONTRACT-NOTES: dates inside education, employment and certification are YYYYMMDD.
    if not isinstance(value, list):
        raise Illegal
    items = []
    for item in value:
        if not isinstance(item, dict) or set(item) - fields:
            raise Illegal
        clean: dict[str, Any] = {}
        for key, sub in item.items():
            if key in ("start", "end"):
                clean[key] = _yyyymmdd(sub)
            elif not isinstance(sub, str):
                raise Illegal
            else:
                clean[key] = sub
        clean["_id"] = _new_object_id(item.get("_id"))
        items.append(clean)
    return items


def _tags(value: Any) -> list[dict[str, Any]]:
    # CONTRACT-NOTES: custom fields are tags keyed "z_..."; a value is a string or strings.
    if not isinstance(value, list):
        raise Illegal
    tags = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"key", "value", "_id"}:
            raise Illegal
        key, tag_value = item.get("key"), item.get("value")
        if not isinstance(key, str) or not TAG_KEY_RE.fullmatch(key):
            raise Illegal
        if not (
            isinstance(tag_value, str)
            or (isinstance(tag_value, list) and all(isinstance(v, str) for v in tag_value))
        ):
            raise Illegal
        tags.append({"key": key, "value": tag_value, "_id": _new_object_id(item.get("_id"))})
    return tags


def _derive(record: dict[str, Any]) -> dict[str, Any]:
    """Recompute the fields RedFlag derives from others (names, full numbers)."""
    first, last = record.get("firstName", ""), record.get("lastName", "")
    preferred = record.get("preferredName", "")
    record["formalName"] = f"{first} {last}".strip()
    record["displayName"] = f"{preferred or first} {last}".strip()
    record["nameIsUnicode"] = not f"{first}{last}{preferred}".isascii()
    for kind in ("mobile", "phone", "fax"):
        number, code = record.get(kind, ""), record.get(f"{kind}Country", "")
        record[f"{kind}Full"] = f"+{code}{number}" if number and code else number
    record["mobileSendable"] = bool(record.get("mobile") and record.get("mobileCountry"))
    return record


def _seed_record(person: Person, ids: ObjectIds, rng: random.Random) -> dict[str, Any]:
    created = person.created_at
    record_id = ids.new(created.timestamp())
    modified = created + rng.random() * (SEED_EPOCH + SEED_SPAN - created)
    record: dict[str, Any] = {
        "_id": record_id,
        "aDate": iso_format(created),
        "mDate": iso_format(modified),
        "email": person.email,
        "active": person.active,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "country": person.country.code,
        "title": person.title,
        "department": person.department,
        "location": person.location,
        "timezone": person.country.timezone,
        "ownerId": record_id,
        "sfUserId": person.employee_id,
        "sfUserIdLower": person.employee_id.lower(),
        "allowSms": rng.random() < 0.4,
    }
    if rng.random() < 0.8:
        record["mobile"] = person.mobile
        record["mobileCountry"] = person.country.calling_code
    if rng.random() < 0.2:
        record["preferredName"] = person.first_name.split(" ")[0][:4]
    if rng.random() < 0.5:
        record["sfHireDate"] = person.hire_date.strftime("%Y%m%d")
    if rng.random() < 0.3:
        record["photoFileId"] = f"{rng.getrandbits(96):024x}"
        record["hasChosenPhoto"] = True
    if rng.random() < 0.35:
        tags: list[dict[str, Any]] = [
            {"key": "z_costCentre", "value": f"CC-{rng.randrange(1000, 1100)}"},
            {
                "key": "z_employeeType",
                "value": rng.choice(["Full-time", "Part-time", "Contractor"]),
            },
        ]
        if rng.random() < 0.5:
            tags.append({"key": "z_languages", "value": rng.sample(["en", "fr", "de", "es",
                                                                    "pl", "ja"], 2)})  # fmt: skip
        record["tags"] = [{**tag, "_id": f"{rng.getrandbits(96):024x}"} for tag in tags]
    if rng.random() < 0.1:
        record["education"] = [{
            "school": "Uniwersytet Jagielloński", "degree": "MSc", "major": "Informatyka",
            "country": "PL", "start": "20080901", "end": "20130630",
            "_id": f"{rng.getrandbits(96):024x}",
        }]  # fmt: skip
    if rng.random() < 0.05:
        record["lastAccessDate"] = iso_format(modified)
        record["appPermission"] = True
    return _derive(record)
