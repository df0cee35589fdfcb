"""Workbooks built to hurt: zip bombs, lying sizes, DTDs and broken XML get a clear message,
are refused before openpyxl reads them, and never take more than a little memory."""

from __future__ import annotations

import base64
import csv
import io
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from openpyxl import Workbook

from integrations.importing.reading import ImportFileError
from integrations.importing.workbook import workbook_check, workbook_to_csv
from tests.integrations.importing.workbook_parts import (
    MAIN,
    SHEET,
    SHEET_HEAD,
    SHEET_TAIL,
    STRINGS,
    XML_HEAD,
    Deflated,
    deflate,
    repeated,
    sheet_xml,
    workbook_parts,
    xlsx_zip,
)

ROOT = Path(__file__).resolve().parents[3]
CAP = 50 * 1024 * 1024  # IMPORT_MAX_BYTES's default
GB = 1 << 30
ONE_STRING_SHEET = (
    f'{XML_HEAD}<worksheet xmlns="{MAIN}"><sheetData><row><c t="s"><v>0</v></c></row>'
    "</sheetData></worksheet>"
).encode()


def convert(data: bytes, max_bytes: int = CAP) -> list[list[str]]:
    target = io.BytesIO()
    workbook_to_csv(io.BytesIO(data), target, max_bytes=max_bytes)
    return list(csv.reader(io.StringIO(target.getvalue().decode("utf-8"), newline="")))


def refusal(data: bytes, max_bytes: int = CAP) -> str:
    with pytest.raises(ImportFileError) as caught:
        convert(data, max_bytes)
    return str(caught.value)


def shared_string_bomb(size: int) -> bytes:
    """One shared string of ``size`` bytes of "a", the sheet's only cell."""
    head = f'<sst xmlns="{MAIN}"><si><t>'.encode()
    strings = repeated(head, b"a" * (1 << 22), size >> 22, b"</t></si></sst>")
    return xlsx_zip(workbook_parts(ONE_STRING_SHEET, strings))


def inline_cell_bomb(size: int) -> bytes:
    head = SHEET_HEAD + b'<row><c t="inlineStr"><is><t>'
    sheet = repeated(head, b"a" * (1 << 22), size >> 22, b"</t></is></c></row>" + SHEET_TAIL)
    return xlsx_zip(workbook_parts(sheet))


def cell_run_bomb(size: int) -> bytes:
    """One row of ``size`` bytes of cells holding 1."""
    cell = b"<c><v>1</v></c>"  # 16 bytes
    sheet = repeated(SHEET_HEAD + b"<row>", cell * (1 << 18), size >> 22, b"</row>" + SHEET_TAIL)
    return xlsx_zip(workbook_parts(sheet))


def lying_size_bomb(size: int) -> bytes:
    """A sheet that says it unpacks to 1 kB and unpacks to ``size``."""
    head = SHEET_HEAD + b'<row><c t="inlineStr"><is><t>'
    sheet = repeated(head, b"a" * (1 << 22), size >> 22, b"</t></is></c></row>" + SHEET_TAIL)
    lying = Deflated(sheet.stream, sheet.size, sheet.crc, declared_size=1000)
    return xlsx_zip(workbook_parts(lying))


def noise(size: int, seed: int = 0) -> str:
    """Text that barely compresses (base64 of random bytes): no ratio check can see it."""
    return base64.b64encode(random.Random(seed).randbytes(size * 3 // 4)).decode()


# -- zip bombs ------------------------------------------------------------------------------


def test_a_one_megabyte_workbook_whose_one_cell_inflates_to_a_gigabyte_is_refused():
    data = shared_string_bomb(GB)
    assert len(data) < 1_100_000
    assert refusal(data) == (
        "This workbook unpacks to 1,024 MB, more than an import reads (1,000 MB). Save the "
        "sheet you want as CSV UTF-8 and upload that instead."
    )


@pytest.mark.parametrize(
    ("bomb", "part"),
    [(shared_string_bomb, STRINGS), (inline_cell_bomb, SHEET), (cell_run_bomb, SHEET)],
    ids=["shared-string", "inline-cell", "run-of-cells"],
)
def test_a_part_that_inflates_a_thousand_times_is_refused_by_its_ratio(bomb, part):
    """Under the size budget (100 MB), but no real spreadsheet compresses like that."""
    message = refusal(bomb(100 << 20))
    assert message.startswith(f"This workbook's part “{part}” unpacks ")
    assert "times its size (a real workbook's, about 15 times): the file may be built to " in (
        message
    )


def test_the_check_refuses_before_reading_and_leaves_the_file_at_its_start():
    source = io.BytesIO(inline_cell_bomb(GB))
    source.seek(100)
    with pytest.raises(ImportFileError):
        workbook_check(source, max_bytes=CAP)
    assert source.tell() == 0


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys, tempfile
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from integrations.importing.reading import ImportFileError
    from integrations.importing.workbook import workbook_to_csv
    with open(sys.argv[1], "rb") as source, tempfile.TemporaryFile() as target:
        try:
            workbook_to_csv(source, target, max_bytes=int(sys.argv[3]))
        except ImportFileError as exc:
            print("refused:", exc)
            sys.exit(0)
    print("converted")
    sys.exit(3)
    """
)


@pytest.mark.parametrize(
    "bomb",
    [shared_string_bomb, inline_cell_bomb, cell_run_bomb, lying_size_bomb],
    ids=["shared-string", "inline-cell", "run-of-cells", "lying-size"],
)
def test_a_gigabyte_bomb_is_refused_in_a_process_allowed_only_400_mb(tmp_path, bomb):
    """The conversion runs with its address space capped: reading any of these (openpyxl
    took 8.5 GB for the 1 GB cell) would end in a MemoryError instead of the message."""
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb(GB))
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(path), str(400 << 20), str(CAP)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert result.stdout.startswith("refused: ")


def test_a_part_that_lies_about_its_size_is_read_only_up_to_it():
    assert refusal(lying_size_bomb(GB)).startswith(
        "This Excel workbook could not be opened: it may be damaged"
    )


# -- cells and rows longer than Excel's --------------------------------------------------------


def test_a_cell_longer_than_excel_allows_is_refused_even_when_it_barely_compresses():
    data = xlsx_zip(workbook_parts(sheet_xml([["notes"], [noise(2 << 20)]])))
    assert refusal(data) == (
        f"This workbook's part “{SHEET}” holds a cell or tag of more than 1 MB; Excel allows "
        "32,767 characters in a cell: the file may be built to exhaust the server. Save it "
        "again from Excel, or as CSV UTF-8."
    )


def test_a_shared_string_longer_than_excel_allows_is_refused():
    strings = f'<sst xmlns="{MAIN}"><si><t>{noise(2 << 20)}</t></si></sst>'.encode()
    message = refusal(xlsx_zip(workbook_parts(ONE_STRING_SHEET, strings)))
    assert message.startswith(f"This workbook's part “{STRINGS}” holds a cell or tag of more")


def test_a_row_longer_than_excel_allows_is_refused_even_when_it_barely_compresses():
    cells = [noise(20_000, seed=n) for n in range(900)]  # 18 MB, each cell a real size
    data = xlsx_zip(workbook_parts(sheet_xml([["a"], cells])))
    assert refusal(data) == (
        f"A row of this workbook's sheet “{SHEET}” holds more than 16 MB of cells, more than "
        "Excel can: the file may be built to exhaust the server. Save it again from Excel, or "
        "as CSV UTF-8."
    )


def test_a_part_held_whole_in_memory_is_capped_at_four_times_the_csv_cap():
    """The shared strings are read whole (a sheet is streamed): 4 times the cap at most."""
    many = "".join(f"<si><t>{noise(1000, seed=n)}</t></si>" for n in range(500))  # 500 kB
    strings = f'<sst xmlns="{MAIN}">{many}</sst>'.encode()
    data = xlsx_zip(workbook_parts(ONE_STRING_SHEET, strings))
    assert refusal(data, max_bytes=100_000) == (
        f"This workbook's part “{STRINGS}” unpacks to 1 MB, more than an import reads (1 MB). "
        "Save the sheet you want as CSV UTF-8 and upload that instead."
    )
    assert convert(data, max_bytes=200_000)[0][0].startswith(noise(1000)[:20])


# -- DTDs and entities ----------------------------------------------------------------------

LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{n + 1} "' + f"&lol{n or ''};" * 10 + '">' for n in range(9))
    + "]>"
)


@pytest.mark.parametrize("part", [SHEET, STRINGS, "xl/workbook.xml", "[Content_Types].xml"])
def test_billion_laughs_in_any_part_is_refused_without_expanding_it(part):
    parts = workbook_parts(sheet_xml([["email"], ["a@example.com"]]), b"")
    original = parts[part]
    assert isinstance(original, bytes)
    if part == STRINGS:
        original = f'{XML_HEAD}<sst xmlns="{MAIN}"><si><t>&lol9;</t></si></sst>'.encode()
    head, _, rest = original.partition(b"?>\n")
    parts[part] = head + b"?>\n" + LAUGHS.encode() + rest
    assert refusal(xlsx_zip(parts)) == (
        f"This workbook's part “{part}” declares a DTD (entities), which Excel never writes "
        "and an import never reads: the file may be built to exhaust the server. Save it "
        "again from Excel, or as CSV UTF-8."
    )


def test_an_entity_is_never_expanded_into_a_cell():
    doctype = '<!DOCTYPE worksheet [<!ENTITY who "boss@example.com">]>'
    data = xlsx_zip(workbook_parts(sheet_xml([["email"], ["&who;"]], doctype=doctype)))
    assert "declares a DTD (entities)" in refusal(data)


def test_a_dtd_in_a_utf16_part_is_found():
    sheet = sheet_xml([["email"], ["&who;"]], doctype='<!DOCTYPE w [<!ENTITY who "x">]>')
    sheet = sheet.decode().replace("UTF-8", "UTF-16").encode("utf-16")
    assert "declares a DTD (entities)" in refusal(xlsx_zip(workbook_parts(sheet)))


def test_a_dtd_in_a_sheet_whose_name_does_not_say_xml_is_found():
    """The workbook's relationships may name any part as its sheet."""
    sheet = sheet_xml([["email"], ["&who;"]], doctype='<!DOCTYPE w [<!ENTITY who "x">]>')
    parts = workbook_parts(sheet, sheet_name="xl/worksheets/sheet1.bin")
    assert "“xl/worksheets/sheet1.bin” declares a DTD" in refusal(xlsx_zip(parts))


# -- broken XML -----------------------------------------------------------------------------


@pytest.mark.parametrize("part", [SHEET, STRINGS])
def test_truncated_xml_gets_a_clear_message(part):
    strings = f'<sst xmlns="{MAIN}"><si><t>email</t></si></sst>'.encode()
    parts = workbook_parts(sheet_xml([["email"], ["a@example.com"], ["b@example.com"]]), strings)
    original = parts[part]
    assert isinstance(original, bytes)
    parts[part] = original[: len(original) - 30]
    message = refusal(xlsx_zip(parts))
    assert message.startswith(f"This workbook is damaged: its part “{part}” is not well-formed ")
    assert message.endswith("Save it again from Excel, or as CSV UTF-8.")


@pytest.mark.parametrize(
    ("dimension", "message"),
    [
        ("", "This Excel workbook could not be opened: it may be damaged"),
        ('<dimension ref="A1:A3001"/>', "could not be read to the end: the workbook may be"),
    ],
    ids=["when-opened", "while-read"],
)
def test_broken_xml_openpyxl_reads_past_the_check_gets_the_damaged_message(dimension, message):
    """A part not named .xml whose XML breaks off is left to openpyxl, which stops there:
    when the workbook is opened (it measures a sheet without a dimension) or while reading."""
    sheet = sheet_xml([["email"], *([f"p{n}@example.com"] for n in range(3000))])
    sheet = sheet.replace(b"<sheetData>", f"{dimension}<sheetData>".encode())
    parts = workbook_parts(sheet[:-30], sheet_name="xl/worksheets/sheet1.bin")
    assert message in refusal(xlsx_zip(parts))


# -- what a real workbook holds still passes ------------------------------------------------


def test_a_legacy_vml_drawing_and_an_image_do_not_stop_a_workbook():
    """Excel's VML (comments' shapes) is not well-formed XML; openpyxl never reads it."""
    extra = {
        "xl/drawings/vmlDrawing1.vml": b"<xml><o:shapelayout><br></xml>",
        "xl/media/image1.png": b"\x89PNG\r\n\x1a\n" + os.urandom(2000),
        "xl/calcChain.xml": b"",
    }
    data = xlsx_zip(workbook_parts(sheet_xml([["email"], ["a@example.com"]]), extra=extra))
    assert convert(data) == [["email"], ["a@example.com"]]


def test_a_large_ordinary_workbook_passes_every_check():
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Staff")
    sheet.append(["email", "first", "last", "department", "hired", "mobile"])
    names = ["Anna", "Bjørn", "João", "Zoë", "Lee"]
    for n in range(10_000):  # 3.5 MB of XML, compressed 13 times
        sheet.append([f"p{n}@example.com", names[n % 5], "Lee", "Sales", "2024-01-02", n])
    flags = book.create_sheet("Flags")  # one word repeated: the most repetitive sheet
    for _ in range(20_000):
        flags.append(["Yes"])
    out = io.BytesIO()
    book.save(out)
    rows = convert(out.getvalue())
    assert len(rows) == 10_001 and rows[-1][0] == "p9999@example.com"


def test_a_plain_deflated_part_is_built_right():
    """The hand-built zips are real zips (the helpers above rely on it)."""
    part = deflate(b"<x/>")
    assert part.size == 4
    assert convert(xlsx_zip(workbook_parts(sheet_xml([["a"]])))) == [["a"]]


def test_what_follows_the_last_row_is_not_counted_in_it():
    """Hyperlinks, merged cells, formatting rules after the rows can be long in a real sheet."""
    text = noise(3_000_000)
    links = "".join(
        f'<hyperlink ref="A{n}" display="{text[n * 100 : n * 100 + 1000]}"/>' for n in range(20_000)
    )
    sheet = sheet_xml([["email"], ["a@example.com"]]).replace(
        b"</sheetData>", f"</sheetData><hyperlinks>{links}</hyperlinks>".encode()
    )
    assert len(sheet) > 20_000_000  # more than a row may be
    assert convert(xlsx_zip(workbook_parts(sheet))) == [["email"], ["a@example.com"]]


# -- rows and columns openpyxl would lay out one by one --------------------------------------


def row(number: int | str, value: str, column: str = "A") -> bytes:
    cell = f'<c r="{column}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<row r="{number}">{cell}</row>'.encode()


def test_rows_past_a_wrong_dimension_are_read_too():
    """A sheet that records a smaller used range than it has: openpyxl stopped at it."""
    sheet = sheet_xml([["email"], ["a@example.com"], ["b@example.com"], ["c@example.com"]])
    sheet = sheet.replace(b"<sheetData>", b'<dimension ref="A1:A2"/><sheetData>')
    assert convert(xlsx_zip(workbook_parts(sheet))) == [
        ["email"], ["a@example.com"], ["b@example.com"], ["c@example.com"]
    ]  # fmt: skip


@pytest.mark.parametrize("number", ["1048577", "99999999999", "0000000000001048577"])
def test_a_row_numbered_past_excels_last_row_is_refused(number):
    sheet = SHEET_HEAD + row(1, "email") + row(number, "a@x.io") + SHEET_TAIL
    assert "past Excel's last row (1,048,576)" in refusal(xlsx_zip(workbook_parts(sheet)))


def test_cells_far_to_the_right_on_many_rows_are_refused():
    rows = b"".join(row(n, "", column="XFD") for n in range(2, 1000))
    data = xlsx_zip(workbook_parts(SHEET_HEAD + row(1, "email") + rows + SHEET_TAIL))
    assert "lays its rows out over more than 4,000,000 cells" in refusal(data, max_bytes=1_000_000)
    assert len(convert(data, max_bytes=5_000_000)) == 1  # the empty cells are dropped


def far_right_bomb() -> bytes:
    """A million rows, each one empty cell in the last column: no output, 16 billion places."""
    rows = b"".join(row(n, "", column="XFD") for n in range(1, 200_001))
    return xlsx_zip(workbook_parts(SHEET_HEAD + rows + SHEET_TAIL))


def wide_gap_bomb() -> bytes:
    """Two cells a million rows apart in a sheet said to be 16,384 columns wide."""
    sheet = (
        SHEET_HEAD.replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')
        + row(1, "email")
        + row(1_048_576, "a@x.io")
        + SHEET_TAIL
    )
    return xlsx_zip(workbook_parts(sheet))


_CPU_SCRIPT = textwrap.dedent(
    """
    import resource, sys, tempfile
    resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[2]), int(sys.argv[2])))
    from integrations.importing.reading import ImportFileError
    from integrations.importing.workbook import workbook_to_csv
    with open(sys.argv[1], "rb") as source, tempfile.TemporaryFile() as target:
        try:
            workbook_to_csv(source, target, max_bytes=int(sys.argv[3]))
        except ImportFileError as exc:
            print("refused:", exc)
            sys.exit(0)
    print("converted")
    """
)


@pytest.mark.parametrize("bomb", [far_right_bomb, wide_gap_bomb], ids=["far-right", "wide-gap"])
def test_a_sheet_laid_out_over_billions_of_cells_ends_in_a_process_allowed_30_cpu_seconds(
    tmp_path, bomb
):
    """Either refused or converted: not left computing (the process is killed past its
    CPU time, and the test fails)."""
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb())
    result = subprocess.run(
        [sys.executable, "-c", _CPU_SCRIPT, str(path), "30", str(CAP)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]


def test_a_styles_part_openpyxl_cannot_use_gets_the_damaged_message():
    styles = f'<styleSheet xmlns="{MAIN}"><fills count="1"><fill/></fills></styleSheet>'
    relationship = (
        '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/styles" Target="styles.xml"/></Relationships>'
    )
    parts = workbook_parts(sheet_xml([["email"], ["a@example.com"]]))
    parts["xl/styles.xml"] = styles.encode()
    rels = parts["xl/_rels/workbook.xml.rels"]
    assert isinstance(rels, bytes)
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(b"</Relationships>", relationship.encode())
    assert refusal(xlsx_zip(parts)).startswith("This Excel workbook could not be opened")


def test_a_cell_pointing_past_the_shared_strings_gets_the_damaged_message():
    sheet = ONE_STRING_SHEET.replace(b"<v>0</v>", b"<v>99</v>")
    strings = f'<sst xmlns="{MAIN}"><si><t>email</t></si></sst>'.encode()
    message = refusal(xlsx_zip(workbook_parts(sheet, strings)))
    assert "could not be read to the end: the workbook may be damaged" in message
