"""Reading CSV files: encodings, delimiters, quoting, and files that are not CSV."""

from __future__ import annotations

import codecs
import io
import json

import pytest

from integrations.importing.reading import ImportFileError, detect, iter_rows
from tests.helpers.environment import TESTDATA

SPECTRUM = TESTDATA / "csv-spectrum"
CASES = sorted(
    p.stem for p in (SPECTRUM / "csvs").glob("*.csv") if p.stem != "location_coordinates"
)


def read(data: bytes) -> list[list[str]]:
    detected = detect(data[:65536])
    return list(iter_rows(io.BytesIO(data), **vars_of(detected)))


def vars_of(detected):
    return {"encoding": detected.encoding, "delimiter": detected.delimiter}


@pytest.mark.skipif(not SPECTRUM.exists(), reason="shared/testdata/csv-spectrum is missing")
@pytest.mark.parametrize("case", CASES)
def test_every_csv_spectrum_case_parses_to_its_expected_json(case):
    rows = read((SPECTRUM / "csvs" / f"{case}.csv").read_bytes())
    header, *data = rows
    expected = json.loads((SPECTRUM / "json" / f"{case}.json").read_text())
    assert [dict(zip(header, row, strict=True)) for row in data] == expected


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        (b"email;name\r\na@x.io;Ann\r\n", "utf-8", ";"),
        (codecs.BOM_UTF8 + b"email;name\na@x.io;Ann\n", "utf-8-sig", ";"),
        (codecs.BOM_UTF16_LE + "email\tname\na@x.io\tAnn\n".encode("utf-16-le"), "utf-16", "\t"),
        (codecs.BOM_UTF16_BE + "email|name\na@x.io|Ann\n".encode("utf-16-be"), "utf-16", "|"),
        ("email,name\nzoe@x.io,Zoë Müller-Lüdenscheidt\n".encode("cp1252"), "cp1252", ","),
    ],
)
def test_encoding_and_delimiter_are_detected(data, encoding, delimiter):
    detected = detect(data)
    assert (detected.encoding, detected.delimiter) == (encoding, delimiter)
    rows = list(iter_rows(io.BytesIO(data), encoding=encoding, delimiter=delimiter))
    assert rows[0] == ["email", "name"]
    assert rows[1][0] == ("zoe@x.io" if encoding == "cp1252" else "a@x.io")


def test_a_byte_order_mark_never_reaches_the_first_header():
    data = codecs.BOM_UTF8 + b"Email,First name\na@x.io,Ann\n"
    header = next(iter_rows(io.BytesIO(data), encoding="utf-8", delimiter=","))
    assert header[0] == "Email"


def test_quoted_semicolons_do_not_fool_the_delimiter_detection():
    data = b'name,notes\n"Ann","a; b; c"\n"Bob","d; e"\n'
    assert detect(data).delimiter == ","


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 50, "zip archive, not a CSV file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, "old Excel workbook"),
        (b"%PDF-1.7\n", "PDF"),
        (b"email,name\x00\x00\n", "NUL byte"),
    ],
)
def test_files_that_are_not_csv_get_a_clear_message(data, message):
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(data)


def test_a_nul_byte_further_down_names_its_row():
    data = b"email,name\na@x.io,Ann\nb@x.io,B\x00b\n"
    with pytest.raises(ImportFileError, match="Row 3 contains a NUL byte"):
        list(iter_rows(io.BytesIO(data), encoding="utf-8", delimiter=","))


def test_a_wrong_encoding_choice_gets_a_clear_message():
    data = "email,name\nzoe@x.io,Zoë\n".encode("cp1252")
    with pytest.raises(ImportFileError, match="not valid utf-8"):
        list(iter_rows(io.BytesIO(data), encoding="utf-8", delimiter=","))
