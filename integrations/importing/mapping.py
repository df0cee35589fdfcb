"""Matching CSV columns to a connection's enabled catalogue fields.

A column maps to at most one field and a field to at most one column. Each match carries a
confidence (0-100) shown beside it: 100 for the field's own path or label or the mapping the
admin chose last time, 90 for a known synonym, 60 for a header that contains one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from integrations.catalogue import FieldSpec, FieldType, Provider, catalogue

# Types a CSV cell cannot express (nested lists of objects): never offered.
UNMAPPABLE_TYPES = frozenset({FieldType.OBJECT_LIST, FieldType.CUSTOM})

# Normalised synonyms per catalogue path (any provider): how HR systems and Excel name them.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "workemail", "businessemail", "emailid",
              "primaryemail", "username", "login"),
    "firstName": ("firstname", "givenname", "forename", "first", "fname", "prenom", "vorname"),
    "lastName": ("lastname", "surname", "familyname", "last", "lname", "nom", "nachname"),
    "preferredName": ("preferredname", "nickname", "knownas", "displayname"),
    "mobile": ("mobile", "mobilenumber", "mobilephone", "cell", "cellphone", "cellnumber",
               "handy", "mobileno"),
    "mobilePhone": ("mobile", "mobilenumber", "mobilephone", "cell", "cellphone", "phone",
                    "phonenumber", "mobileno"),
    "mobileCountry": ("mobilecountry", "mobilecountrycode", "mobilecallingcode"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "workphone", "landline", "officephone"),
    "phoneCountry": ("phonecountry", "phonecountrycode", "callingcode", "dialcode"),
    "fax": ("fax", "faxnumber"),
    "faxCountry": ("faxcountry", "faxcountrycode"),
    "country": ("country", "countrycode", "countryname", "nation", "workcountry", "land"),
    "title": ("title", "jobtitle", "position", "role", "designation"),
    "department": ("department", "dept", "team", "division", "businessunit", "orgunit"),
    "employee.department": ("department", "dept", "team", "division", "businessunit"),
    "location": ("location", "office", "site", "worklocation", "city"),
    "orgId": ("orgid", "employeeid", "employeenumber", "employeeno", "staffid", "staffnumber",
              "personnelnumber", "workerid", "empid", "hrid"),
    "externalId": ("externalid", "employeeid", "employeenumber", "staffid", "hrisid",
                   "workerid", "empid", "hrid"),
    "external_id": ("externalid", "userid", "id"),
    "sfHireDate": ("hiredate", "startdate", "datehired", "joiningdate", "joindate",
                   "dateofjoining", "employmentstart", "sfhiredate"),
    "employee.workingSince": ("startdate", "hiredate", "workingsince", "datehired",
                              "joiningdate", "joindate", "dateofjoining", "employmentstart"),
    "birthday": ("birthday", "birthdate", "dateofbirth", "dob"),
    "linkedinUrl": ("linkedin", "linkedinurl", "linkedinprofile"),
    "active": ("active", "isactive", "enabled", "status"),
    "allowEmail": ("allowemail", "emailoptin", "emailconsent"),
    "allowSms": ("allowsms", "smsoptin", "smsconsent", "textoptin"),
    "emailOverride": ("notificationemail", "emailoverride", "personalemail", "alternateemail"),
    "accounts": ("accounts", "account", "accountid", "accountids"),
    "type": ("type", "recipienttype"),
    "owner.email": ("owneremail", "manageremail"),
    "owner.firstName": ("ownerfirstname", "managerfirstname"),
    "owner.lastName": ("ownerlastname", "managerlastname"),
    "reportsTo": ("reportsto", "managerid"),
    "skills": ("skills", "skillids"),
}  # fmt: skip


def normalise_header(text: str) -> str:
    """Lower-case ASCII letters and digits only: "E-mail Address " → "emailaddress"."""
    folded = unicodedata.normalize("NFKD", text.strip().lstrip("\ufeff"))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", folded.casefold())


def mappable_fields(provider: Provider | str, enabled: Iterable[str]) -> list[FieldSpec]:
    """The catalogue fields a column may map to: enabled ones a cell can express."""
    enabled_set = set(enabled)
    return [
        spec
        for spec in catalogue(provider)
        if spec.path in enabled_set and spec.type not in UNMAPPABLE_TYPES
    ]


def identifier_paths(fields: Sequence[FieldSpec]) -> list[str]:
    return [spec.path for spec in fields if spec.identifies]


@dataclass(frozen=True, slots=True)
class ColumnMatch:
    column: int
    header: str
    path: str  # "" when the column is ignored
    confidence: int
    reason: str


def _score(header: str, spec: FieldSpec) -> tuple[int, str]:
    norm = normalise_header(header)
    if not norm:
        return 0, ""
    if norm in {normalise_header(spec.path), normalise_header(spec.label)}:
        return 100, "same name"
    synonyms = SYNONYMS.get(spec.path, ())
    if norm in synonyms:
        return 90, "known synonym"
    if any(len(syn) >= 4 and syn in norm for syn in synonyms):
        return 60, "header contains a synonym"
    return 0, ""


def auto_map(
    header: Sequence[str],
    fields: Sequence[FieldSpec],
    remembered: Mapping[str, str] | None = None,
) -> list[ColumnMatch]:
    """Map each column to at most one field, best matches first.

    ``remembered`` maps a normalised header to the path the admin chose last time for this
    connection; it wins when that path is still offered.
    """
    offered = {spec.path: spec for spec in fields}
    candidates: list[tuple[int, int, str, str]] = []  # (confidence, column, path, reason)
    for column, title in enumerate(header):
        chosen = (remembered or {}).get(normalise_header(title))
        if chosen is not None:
            if chosen == "":
                candidates.append((100, column, "", "ignored last time"))
            elif chosen in offered:
                candidates.append((100, column, chosen, "as last time"))
        for spec in fields:
            confidence, reason = _score(title, spec)
            if confidence:
                candidates.append((confidence, column, spec.path, reason))
    # Highest confidence first; among equals, the earlier column, then catalogue order.
    order = {path: i for i, path in enumerate(offered)}
    candidates.sort(key=lambda c: (-c[0], c[1], order.get(c[2], -1)))
    by_column: dict[int, ColumnMatch] = {}
    taken: set[str] = set()
    for confidence, column, path, reason in candidates:
        if column in by_column or (path and path in taken):
            continue
        by_column[column] = ColumnMatch(column, header[column], path, confidence, reason)
        if path:
            taken.add(path)
    return [
        by_column.get(column, ColumnMatch(column, title, "", 0, "no match"))
        for column, title in enumerate(header)
    ]


def mapping_problems(paths: Sequence[str], fields: Sequence[FieldSpec]) -> list[str]:
    """Why a mapping (one path or "" per column) cannot be used; empty when it can."""
    problems = []
    offered = {spec.path: spec for spec in fields}
    seen: dict[str, int] = {}
    for column, path in enumerate(paths):
        if not path:
            continue
        if path not in offered:
            problems.append(f"Column {column + 1} maps to a field that is not enabled ({path}).")
        elif path in seen:
            problems.append(
                f"Columns {seen[path] + 1} and {column + 1} both map to {offered[path].label}."
            )
        seen.setdefault(path, column)
    ids = identifier_paths(fields)
    if not any(path in ids for path in paths):
        labels = " or ".join(offered[p].label for p in ids) or "an identifying field"
        problems.append(f"Map a column to {labels}: each row needs it to find the recipient.")
    return problems
