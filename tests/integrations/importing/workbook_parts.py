"""Hand-built .xlsx files for the workbook hardening tests: any part, any size, any lie.

``xlsx_zip`` writes the zip itself (not with ``zipfile``) so that a part can be a deflate
stream built from repeated blocks (a gigabyte-long cell in a one-megabyte file, built in a
fraction of a second) and can declare a size other than its own.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


@dataclass(frozen=True)
class Deflated:
    """A part given as its raw deflate stream, with the size and checksum it unpacks to."""

    stream: bytes
    size: int
    crc: int
    declared_size: int | None = None  # a lie, when set


def deflate(data: bytes) -> Deflated:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Deflated(compressor.compress(data) + compressor.flush(), len(data), zlib.crc32(data))


def repeated(head: bytes, block: bytes, times: int, tail: bytes) -> Deflated:
    """``head + block * times + tail`` deflated without ever holding it: each piece is
    compressed once by a fresh compressor ending in a full flush (no reference to what came
    before), so the block's compressed form can simply be repeated."""

    def flushed(data: bytes) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    end = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    stream = flushed(head) + flushed(block) * times + end
    return Deflated(stream, len(head) + len(block) * times + len(tail), crc)


def xlsx_zip(parts: Mapping[str, bytes | Deflated]) -> bytes:
    """A zip of ``parts`` (each deflated), written by hand."""
    out = bytearray()
    central = bytearray()
    for name, content in parts.items():
        part = content if isinstance(content, Deflated) else deflate(content)
        size = part.size if part.declared_size is None else part.declared_size
        encoded = name.encode()
        offset = len(out)
        out += struct.pack(
            "<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 8, 0, 0x21,
            part.crc, len(part.stream), size, len(encoded), 0,
        )  # fmt: skip
        out += encoded + part.stream
        central += struct.pack(
            "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 0, 20, 0, 0, 8, 0, 0x21,
            part.crc, len(part.stream), size, len(encoded), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += encoded
    start = len(out)
    out += central
    out += struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(central), start, 0
    )
    return bytes(out)


def workbook_parts(
    sheet: bytes | Deflated,
    strings: bytes | Deflated | None = None,
    *,
    sheet_name: str = SHEET,
    extra: Mapping[str, bytes | Deflated] | None = None,
) -> dict[str, bytes | Deflated]:
    """The parts of a one-sheet workbook openpyxl reads: the sheet at ``sheet_name`` (the
    workbook's relationship points there), shared strings when given."""
    target = sheet_name.removeprefix("xl/")
    overrides = (
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/{sheet_name}" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    )
    relationships = f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="{target}"/>'
    if strings is not None:
        overrides += (
            f'<Override PartName="/{STRINGS}" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
        relationships += (
            f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    parts: dict[str, bytes | Deflated] = {
        "[Content_Types].xml": (
            f'{XML_HEAD}<Types xmlns="{CT}"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/>{overrides}</Types>'
        ).encode(),
        "_rels/.rels": (
            f'{XML_HEAD}<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'{XML_HEAD}<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Staff" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'{XML_HEAD}<Relationships xmlns="{PKG}">{relationships}</Relationships>'
        ).encode(),
        sheet_name: sheet,
    }
    if strings is not None:
        parts[STRINGS] = strings
    parts.update(extra or {})
    return parts


def sheet_xml(rows: Iterable[Iterable[str]], *, doctype: str = "") -> bytes:
    """A sheet of inline strings (the values are XML already: escape them first)."""
    body = "".join(
        "<row>" + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in row) + "</row>"
        for row in rows
    )
    return (
        f'{XML_HEAD}{doctype}<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'
    ).encode()


SHEET_HEAD = f'{XML_HEAD}<worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"
