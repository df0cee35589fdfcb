"""The phones fast path answers exactly as phonenumbers' public API, on every kind of number."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import phonenumbers

from integrations.importing import phones

VECTORS = Path(__file__).resolve().parents[2] / "data" / "testdata" / "phone-vectors"


def _vector_cases():
    """Each example number of the vectors as written there (national, international, E.164),
    with its own region, another region and none."""
    with (VECTORS / "example_numbers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (row[column], where)
        for row in rows
        for column in ("national", "international", "e164")
        for where in dict.fromkeys([None if row["region"] == "001" else row["region"], "US", None])
    ]


def test_every_vector_parses_and_validates_as_phonenumbers_does():
    cases = _vector_cases()
    assert len(cases) > 4000
    differing = []
    for value, region in cases:
        ours = _parsed(phones.parse, value, region)
        theirs = _parsed(phonenumbers.parse, value, region)
        if ours != theirs or (
            isinstance(theirs, phonenumbers.PhoneNumber)
            and phones.is_valid_number(ours) != phonenumbers.is_valid_number(theirs)
        ):
            differing.append((value, region, str(ours), str(theirs)))
    assert differing == []


def _numbers_near_the_examples():
    """Every region's example numbers of every type, with their last digits changed and a
    digit added or dropped, and random digits for every calling code: valid and invalid
    numbers on both sides of each pattern's edges."""
    rng = random.Random(6)
    examples = [
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in phonenumbers.PhoneNumberType.values()
    ] + [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    numbers = []
    for example in filter(None, examples):
        nsn = phonenumbers.national_significant_number(example)
        variants = {nsn, nsn + str(rng.randrange(10)), nsn[:-1]}
        for tail in (1, 2, 4):
            variants.add(nsn[:-tail] + "".join(str(rng.randrange(10)) for _ in range(tail)))
        numbers += [
            phonenumbers.parse(f"+{example.country_code}{variant}")
            for variant in sorted(variants)
            if variant.strip("0")
        ]
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for length in range(4, 14):
            digits = int(str(rng.randrange(1, 10)) + str(rng.randrange(10**length)).zfill(length))
            numbers.append(phonenumbers.PhoneNumber(country_code=code, national_number=digits))
    numbers.append(phonenumbers.PhoneNumber(country_code=999, national_number=12345678))
    return numbers


def test_validity_is_exactly_phonenumbers_is_valid_number_near_every_example():
    """``is_valid_number`` is a faster spelling of the library's check, never another rule."""
    numbers = _numbers_near_the_examples()
    verdicts = [(phones.is_valid_number(n), phonenumbers.is_valid_number(n)) for n in numbers]
    assert [n for n, (ours, theirs) in zip(numbers, verdicts, strict=True) if ours != theirs] == []
    valid = sum(theirs for _, theirs in verdicts)
    assert 1000 < valid < len(numbers) - 1000  # both sides of the patterns were exercised


def _written_every_way():
    """(value, region) pairs: the numbers near the examples written the ways HR exports write
    them (E.164, international and national formats, separators, trunk and international
    prefixes, the calling code without "+", stray characters), each with its own region,
    another one and none, and random digit strings."""
    rng = random.Random(11)
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    pairs = []
    for number in _numbers_near_the_examples():
        region = phonenumbers.region_code_for_number(number) or "ZZ"
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        international = phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        nsn = phonenumbers.national_significant_number(number)
        written = {
            e164, international, national, nsn, e164[1:], f"00{e164[1:]}", f"011{e164[1:]}",
            f"0{nsn}", f"+{number.country_code} (0) {nsn}", international.replace(" ", "-"),
            national.replace(" ", "."), f"({nsn[:3]}) {nsn[3:]}", f"{nsn[:4]}/{nsn[4:]}",
            f"+ {e164[1:]}", f"{e164} ", f"++{e164[1:]}", f"+0{nsn}", f"{nsn} ext. 12",
            f"{e164}#", f"tel:{e164}", f"{nsn[:3]}x{nsn[3:]}",
        }  # fmt: skip
        for value in sorted(written):
            for where in {region, rng.choice(regions), None}:
                pairs.append((value, where))
    pairs = rng.sample(pairs, len(pairs) // 6)  # a sixth: the same edges, in seconds
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19)))
        sep = rng.choice(["", " ", "-", ".", "/", "()"])
        value = (rng.choice(["", "+", "0", "00"]) + sep.join(digits)).strip("()")
        pairs.append((value, rng.choice([None, "GB", "US", "DE", "IT", "AR", "MX", "BR"])))
    return pairs


def _parsed(parse, value, region):
    """What ``parse`` makes of ``value``: the number, or the kind of refusal."""
    try:
        return parse(value, region)
    except phonenumbers.NumberParseException as exc:
        return f"refused: {exc.error_type}"


def test_numbers_written_every_way_parse_exactly_as_phonenumbers_parses_them():
    """The fast path of ``parse`` (``_parse_plain``) gives the library's number or leaves
    the value to the library: never another number, never one the library refuses. It is
    the common path, not a rare exception."""
    pairs = _written_every_way()
    differing, fast = [], 0
    for value, region in pairs:
        ours = phones._parse_plain(value, region)
        if ours is None:
            continue
        fast += 1
        theirs = _parsed(phonenumbers.parse, value, region)
        if ours != theirs:
            differing.append((value, region, str(ours), str(theirs)))
    assert differing == []
    assert fast > len(pairs) // 2
