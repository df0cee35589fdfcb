"""Matching CSV columns to a connection's enabled catalogue fields.

A column maps to at most one field and a field to at most one column. Each match carries a
confidence (0-100) shown beside it: 100 for the field's own path or label or the mapping the
admin chose last time, 90 for a known synonym, 60 for a header that contains one.

Besides the catalogue's plain fields a column may map to:

- **A custom field** the connection enables (RedFlag tag ``tags.z_costCentre``, Snappy
  ``recipientCustomFields.shirtSize``): matched by its key ("z_costCentre", or "costCentre"
  without RedFlag's ``z_``) or its label ("Cost centre"). A cell is one line of text; for a
  RedFlag tag, semicolons separate the values of a list tag ("en; fr" → ``["en", "fr"]``).
  Both providers replace the whole list on update, so an update carries every other entry
  of the recipient unchanged (one of a custom field the connection disables cannot ride
  along in a push job, so such a row is refused: ``compare.classify``).
- **One sub-field of a RedFlag history list** (``education``, ``employment``,
  ``certification``): HR exports hold one entry per row in flat columns, so each member is a
  target of its own, e.g. ``education.school``, ``education.degree``, ``education.major``,
  ``education.country``, ``education.start``, ``education.end`` (labels "Education: school"
  …). The filled cells of a row make ONE entry; an entry needs its naming member (school;
  company or employer; certification name). On update it is added to the recipient's list,
  or, when an entry with the same identifying members is already there (school and degree;
  company, employer and title; name and institution, ignoring case), that entry is updated
  with the row's filled cells. Dates are read in the usual spellings and sent as YYYYMMDD;
  countries as for the country field (ISO alpha-2). A person with several entries is
  several rows (their other cells may repeat or stay empty).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from integrations.catalogue import (
    CUSTOM_FIELD_PREFIX,
    FieldSpec,
    FieldType,
    Provider,
    catalogue,
)

# Types a single cell cannot express (a whole list of objects): offered by member instead.
UNMAPPABLE_TYPES = frozenset({FieldType.OBJECT_LIST})


@dataclass(frozen=True, slots=True)
class EntryMember:
    """One member of an entry of a RedFlag history list, as the endpoint document lists it."""

    name: str
    label: str
    type: FieldType  # STRING, COUNTRY or DATE


_S, _C, _D = FieldType.STRING, FieldType.COUNTRY, FieldType.DATE
# The members of each history entry (endpoint document, "Update a recipient"; every member is
# optional there, and dates are YYYYMMDD).
ENTRY_MEMBERS: Mapping[str, tuple[EntryMember, ...]] = {
    "education": (
        EntryMember("school", "school", _S),
        EntryMember("degree", "degree", _S),
        EntryMember("major", "major", _S),
        EntryMember("country", "country", _C),
        EntryMember("start", "start date", _D),
        EntryMember("end", "end date", _D),
    ),
    "employment": (
        EntryMember("company", "company", _S),
        EntryMember("employer", "employer", _S),
        EntryMember("title", "job title", _S),
        EntryMember("country", "country", _C),
        EntryMember("start", "start date", _D),
        EntryMember("end", "end date", _D),
    ),
    "certification": (
        EntryMember("name", "name", _S),
        EntryMember("institution", "institution", _S),
        EntryMember("start", "start date", _D),
        EntryMember("end", "end date", _D),
    ),
}
ENTRY_LABELS = {
    "education": "Education",
    "employment": "Employment",
    "certification": "Certification",
}
# Our rule, not the provider's (it takes any member alone): an entry without what names it
# is meaningless on the recipient's profile. Any one of these members must be filled.
ENTRY_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "education": ("school",),
    "employment": ("company", "employer"),
    "certification": ("name",),
}
# The members that say two entries are the same one (compared ignoring case and spacing).
ENTRY_IDENTITY: Mapping[str, tuple[str, ...]] = {
    "education": ("school", "degree"),
    "employment": ("company", "employer", "title"),
    "certification": ("name", "institution"),
}


def entry_member(path: str) -> tuple[str, EntryMember] | None:
    """``"education.school"`` → ``("education", <school>)``; None for any other path."""
    parent, dot, child = path.partition(".")
    for member in ENTRY_MEMBERS.get(parent, ()) if dot else ():
        if member.name == child:
            return parent, member
    return None


def entry_member_specs(spec: FieldSpec) -> list[FieldSpec]:
    """The mapping targets standing for the members of the history list ``spec``."""
    label = ENTRY_LABELS.get(spec.path, spec.label)
    formats = {_D: "any usual date spelling, sent as YYYYMMDD", _C: "name or ISO code"}
    return [
        FieldSpec(
            path=f"{spec.path}.{member.name}",
            label=f"{label}: {member.label}",
            type=member.type,
            group=spec.group,
            format=formats.get(member.type, ""),
            help=f"One {label.lower()} entry per row.",
        )
        for member in ENTRY_MEMBERS.get(spec.path, ())
    ]


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
    "education.school": ("school", "university", "college", "almamater"),
    "education.degree": ("degree", "qualification"),
    "education.major": ("major", "fieldofstudy", "subject"),
    "employment.company": ("previouscompany", "formercompany", "previousemployer"),
    "certification.name": ("certification", "certificate", "certificationname"),
}  # fmt: skip


@functools.lru_cache(maxsize=4096)  # the catalogue's names are normalised for every column
def normalise_header(text: str) -> str:
    """Lower-case ASCII letters and digits only: "E-mail Address " → "emailaddress"."""
    folded = unicodedata.normalize("NFKD", text.strip().lstrip("\ufeff"))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", folded.casefold())


def mappable_fields(
    provider: Provider | str, enabled: Iterable[str], custom: Iterable[FieldSpec] = ()
) -> list[FieldSpec]:
    """The fields a column may map to: enabled ones a cell can express.

    A history list (``education``…) is offered as its members; ``custom`` are the
    connection's custom fields (``FieldSpec`` with ``custom=True``), offered when enabled.
    """
    enabled_set = set(enabled)
    fields: list[FieldSpec] = []
    for spec in catalogue(provider):
        if spec.path not in enabled_set:
            continue
        if spec.type is FieldType.OBJECT_LIST:
            fields.extend(entry_member_specs(spec))
        elif spec.type not in UNMAPPABLE_TYPES:
            fields.append(spec)
    prefix = CUSTOM_FIELD_PREFIX.get(Provider(provider))
    extra = [
        spec
        for spec in custom
        if prefix and spec.path.startswith(prefix + ".") and spec.path in enabled_set
    ]
    fields.extend(sorted(extra, key=lambda spec: spec.label.casefold()))
    return fields


def custom_key(path: str) -> str:
    """The key of a custom-field path: ``tags.z_costCentre`` → ``z_costCentre``."""
    return path.partition(".")[2]


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
    if spec.custom:
        key = custom_key(spec.path)
        if norm == normalise_header(key):
            return 100, "same key"
        if key.startswith("z_") and norm == normalise_header(key[2:]):
            return 90, "same key without z_"
        return 0, ""
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


def disabled_matches(
    header: Sequence[str], provider: Provider | str, offered: Iterable[FieldSpec]
) -> dict[int, FieldSpec]:
    """Columns whose header names a catalogue field the connection does not offer (disabled
    in its field settings): column → that field, for telling the admin why it is ignored.

    Only a header the matching would take (confidence 60 or more) counts; a history list's
    members are left out (their list is enabled or not as a whole).
    """
    offered_paths = {spec.path for spec in offered}
    others = [
        spec
        for spec in catalogue(provider)
        if spec.path not in offered_paths and spec.type not in UNMAPPABLE_TYPES
    ]
    found: dict[int, FieldSpec] = {}
    for column, title in enumerate(header):
        best = max(others, key=lambda spec: _score(title, spec)[0], default=None)
        if best is not None and _score(title, best)[0] >= 60:
            found[column] = best
    return found


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
    problems.extend(_entry_problems(paths, offered))
    ids = identifier_paths(fields)
    if not any(path in ids for path in paths):
        labels = " or ".join(offered[p].label for p in ids) or "an identifying field"
        problems.append(f"Map a column to {labels}: each row needs it to find the recipient.")
    return problems


def _entry_problems(paths: Sequence[str], offered: Mapping[str, FieldSpec]) -> list[str]:
    """An entry list whose columns cannot name an entry (no school column, say)."""
    problems = []
    for list_path, required in ENTRY_REQUIRED.items():
        mapped = [p for p in paths if p and p.partition(".")[0] == list_path and entry_member(p)]
        if not mapped or any(f"{list_path}.{name}" in paths for name in required):
            continue
        label = ENTRY_LABELS[list_path]
        targets = [f"{list_path}.{name}" for name in required]
        names = " or ".join(offered[t].label if t in offered else t for t in targets)
        problems.append(
            f"Each {label.lower()} entry needs its {' or '.join(required)}: map a column to "
            f"{names} too, or ignore the other {label.lower()} columns."
        )
    return problems
