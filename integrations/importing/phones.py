"""Parse and check phone numbers as ``phonenumbers.parse`` and ``is_valid_number`` do, faster.

The one place the import reaches past ``phonenumbers``' public API. ``parse`` and
``is_valid_number`` here take and return what the library's functions of the same names do,
and give the same answers (``tests/integrations/importing/test_phones.py`` compares them on
the phone vectors of ``tests/data/testdata`` and on numbers near every region's examples,
written every way an export writes them, and on random digits).

What it buys: the preview checks every distinct phone cell of a file (``cells.clean_phone``
remembers each one, but in an HR export nearly every mobile is distinct). The library's
``parse`` looks for what a cell of digits and separators cannot hold (an extension, a
``tel:`` URI, letters for digits, a second number), and its ``is_valid_number`` tests each
type pattern of each region of the calling code twice, rare types first; together they were
about two thirds of the phone checks' time, a third of a preview's cleaning (the figures are
in the commit that made this module, measured with ``bench/csv_preview.py``).

What would make it unnecessary: ``phonenumbers`` parsing and validating plainly written
numbers about as fast (or the preview's figure allowing the difference): then ``cells``
calls ``phonenumbers.parse`` and ``phonenumbers.is_valid_number`` instead, and this module
and its test go. A ``phonenumbers`` upgrade that renames the private steps ``parse`` reuses
below fails the import of this module at once, and one that changes their behaviour fails
the equivalence test.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
    national_significant_number,
)
from phonenumbers.phonenumberutil import (  # the steps of the library's ``parse`` reused
    _MAX_INPUT_STRING_LENGTH,
    _MAX_LENGTH_FOR_NSN,
    _MIN_LENGTH_FOR_NSN,
    ValidationResult,
    _maybe_strip_national_prefix_carrier_code,
    _set_italian_leading_zeros_for_phone_number,
    _test_number_length,
)

__all__ = ["is_valid_number", "parse"]

# A number written with ASCII digits and the usual separators only: no letters, "#", ";" or
# "," (so no extension, no "tel:" URI, no second number), at most a leading "+".
_PLAIN_PHONE = re.compile(r"\+?[0-9 ().\-/]+")
_SEPARATORS = str.maketrans("", "", " ().-/")
_SHORT_RESULTS = frozenset(
    {
        ValidationResult.TOO_SHORT,
        ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        ValidationResult.INVALID_LENGTH,
    }
)


def parse(value: str, region: str | None) -> PhoneNumber:
    """Parse ``value`` as ``phonenumbers.parse(value, region)`` does, the same number or error.

    A plainly written number (``_parse_plain``) is read here; anything else goes to the
    library's ``parse``.
    """
    return _parse_plain(value, region) or phonenumbers.parse(value, region)


def _parse_plain(value: str, region: str | None) -> PhoneNumber | None:
    """Read a number written with digits and separators only, or return None.

    None whenever the library's own steps are needed (``parse`` then asks the library).
    What is read here is the library's own: the country calling code after a "+" (or the
    region's), then the national prefix stripped if what remains still has a possible
    length (``_maybe_strip_national_prefix_carrier_code``, ``_test_number_length``), and
    the leading zeros kept. A national number that starts with the region's international
    prefix (0044… in GB) or its calling code (44… in GB), a "+0", an unknown calling code,
    fewer than 3 digits or a length past the library's limits go to the library. The result
    equals ``phonenumbers.parse``'s, or that raises where this returns None.
    """
    if len(value) > _MAX_INPUT_STRING_LENGTH or not _PLAIN_PHONE.fullmatch(value):
        return None
    digits = value.translate(_SEPARATORS)
    if value[0] == "+":
        digits = digits[1:]
        if len(digits) < 3 or digits[0] == "0":
            return None
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                break
        else:
            return None
        national = digits[size:]
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            code, phonenumbers.region_code_for_country_code(code)
        )
    else:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None) if region else None
        if len(digits) < 3 or metadata is None or metadata.country_code is None:
            return None
        idd = metadata.international_prefix
        if (idd is not None and _pattern(idd).match(digits)) or digits.startswith(
            str(metadata.country_code)
        ):
            return None
        code, national = metadata.country_code, digits
    if metadata is None or len(national) < _MIN_LENGTH_FOR_NSN:
        return None
    _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
    if _test_number_length(stripped, metadata) not in _SHORT_RESULTS:
        national = stripped
    if not _MIN_LENGTH_FOR_NSN <= len(national) <= _MAX_LENGTH_FOR_NSN:
        return None
    number = PhoneNumber(country_code=code)
    _set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


def is_valid_number(number: PhoneNumber) -> bool:
    """Tell whether ``number`` is valid, as ``phonenumbers.is_valid_number`` does.

    The library finds the number's region by testing the number's type against each region
    of its calling code, then tests the type again for that region, each type pattern
    through a ``match`` and a ``fullmatch``, and the rare types (premium rate, pager…)
    before mobile. Validity only asks whether some type matches, in whatever order; each
    metadata pattern is tested here at most once, with the library's public metadata.
    """
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code or 0)
    if regions is None:
        return False
    if len(regions) == 1:
        region = regions[0]
        if region == REGION_CODE_FOR_NON_GEO_ENTITY:
            return phonenumbers.is_valid_number_for_region(number, region)
        metadata = PhoneMetadata.metadata_for_region(region, None)
        return metadata is not None and _has_type(national_significant_number(number), metadata)
    nsn = national_significant_number(number)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if _pattern(metadata.leading_digits).match(nsn):
                return _has_type(nsn, metadata)
        elif _has_type(nsn, metadata):
            return True
    return False


@functools.cache
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _matches(nsn: str, desc: PhoneNumberDesc | None) -> bool:
    if desc is None:
        return False
    if desc.possible_length and len(nsn) not in desc.possible_length:
        return False
    regex = desc.national_number_pattern
    return bool(regex) and _pattern(regex).fullmatch(nsn) is not None


def _has_type(nsn: str, metadata: PhoneMetadata) -> bool:
    """Tell whether the number has a type (mobile, fixed line…) in this region's metadata."""
    if not _matches(nsn, metadata.general_desc):
        return False
    if _matches(nsn, metadata.fixed_line):
        return True
    if not metadata.same_mobile_and_fixed_line_pattern and _matches(nsn, metadata.mobile):
        return True
    return any(
        _matches(nsn, desc)
        for desc in (
            metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
            metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
        )
    )  # fmt: skip
