"""Checks for what Parcelvoy accepts blindly: time zones, locales, event JSON, addresses.

CONTRACT-NOTES (Parcelvoy): the server validates neither timezone nor locale on the trigger
route, so a typo silently mis-schedules a real message; these checks are the only guard.
Each function returns the cleaned value or raises ``ValueError`` with a message for the admin.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import zoneinfo
from typing import Any

import phonenumbers
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# ISO 639-1 (two-letter) language codes; Django's LANG_INFO adds a few three-letter ones.
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv "
    "cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr "
    "ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw "
    "ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv "
    "ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr "
    "ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu"
)
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
# BCP 47 as Parcelvoy's users write it: language[-Script][-REGION][-variant…].
LOCALE_RE = re.compile(
    r"^(?P<language>[A-Za-z]{2,3})"
    r"(?:[-_](?P<script>[A-Za-z]{4}))?"
    r"(?:[-_](?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:[-_](?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)$"
)
DISPLAY_NAME_RE = re.compile(r"<[^>]*>|\"")


@functools.cache
def known_languages() -> frozenset[str]:
    return ISO_639_1 | {code for code in LANG_INFO if "-" not in code}


@functools.cache
def language_names() -> dict[str, str]:
    """English and native language names, lower-cased, to their code ("english" → "en")."""
    names: dict[str, str] = {}
    for code, info in LANG_INFO.items():
        if "-" in code or "name" not in info:
            continue
        names.setdefault(info["name"].lower(), code)
        names.setdefault(info.get("name_local", "").lower(), code)
    names.pop("", None)
    return names


@functools.cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def clean_timezone(value: str) -> str:
    value = value.strip()
    zones = timezone_names()
    if value in zones:
        return value
    by_lower = {zone.lower(): zone for zone in zones}
    if value.lower() in by_lower:
        raise ValueError(
            f"Time zone names are case-sensitive: did you mean {by_lower[value.lower()]}?"
        )
    guess = difflib.get_close_matches(value, zones, n=1, cutoff=0.75)
    if guess:
        raise ValueError(f"“{value}” is not a time zone name: did you mean {guess[0]}?")
    raise ValueError(
        f"“{value}” is not a time zone name. Pick one from the list, e.g. Europe/London."
    )


def clean_locale(value: str) -> str:
    value = value.strip()
    match = LOCALE_RE.match(value)
    if not match:
        code = language_names().get(value.lower())
        hint = f" For {value}, use “{code}”." if code else ""
        raise ValueError(
            f"“{value}” is not a locale tag. Use a language code with an optional region, "
            f"like en, en-GB or pt-BR.{hint}"
        )
    language = match["language"].lower()
    if language not in known_languages():
        raise ValueError(f"“{match['language']}” is not a known language code (e.g. en, fr, de).")
    parts = [language]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts += [v for v in re.split(r"[-_]", match["variants"]) if v]
    return "-".join(parts)


def clean_email(value: str) -> str:
    value = value.strip()
    if DISPLAY_NAME_RE.search(value) or (" " in value and "@" in value):
        raise ValueError(
            "Enter only the address, without a name or brackets: e.g. ada@example.com."
        )
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError("Enter an email address like ada@example.com.") from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def clean_phone(value: str, country: str) -> str:
    """Return the number in E.164; without a leading + the country is required."""
    value = value.strip()
    if not value.startswith("+") and not country:
        raise ValueError(
            "Choose the country, or write the number in international form starting with + "
            "(e.g. +44 7911 123456)."
        )
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else country)
    except phonenumbers.NumberParseException:
        raise ValueError("This is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        where = f" in {country}" if country and not value.startswith("+") else ""
        raise ValueError(f"This is not a valid phone number{where}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_event(text: str) -> dict[str, Any]:
    """Parse the event JSON: an object, within the size cap; errors name line and column."""
    limit = settings.TEST_SEND_EVENT_MAX_BYTES
    size = len(text.encode())
    if size > limit:
        raise ValueError(
            f"The event data is {_size(size)}; the limit is {_size(limit)}. "
            "A test needs only the fields the campaign's template uses."
        )
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(
            type(value), "a number"
        )
        raise ValueError(f'The event must be a JSON object, like {{"name": "value"}}, not {kind}.')
    return value


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def mask_address(address: str) -> str:
    """``a•••@example.com``, ``+44•••••1234``, ``abcd•••wxyz`` for a device token."""
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    if address.startswith("+"):
        try:
            code = str(phonenumbers.parse(address, None).country_code)
        except phonenumbers.NumberParseException:
            code = address[1:3]
        return f"+{code}•••••{address[-4:]}"
    if len(address) <= 8:
        return "•" * len(address)
    return f"{address[:4]}•••{address[-4:]}"
