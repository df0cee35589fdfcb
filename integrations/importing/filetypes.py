"""Tell what an uploaded file is when it is not a CSV file, and what to upload instead.

Binary files are told by their first bytes (compressed files and archives, old Excel
workbooks, PDFs, databases); text files by their first lines once decoded: JSON, an SQL dump,
a web page or XML, a fixed-width text file. Each answer is a message for the admin, or
``None`` when the file may well be a CSV file. The text checks parse what they see, so a
one-column CSV file, or one whose first cell starts with "{", is not taken for anything else.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

_UPLOAD_CSV = "upload the CSV (or .xlsx) file it contains"


def _zip_member(sample: bytes) -> str:
    """The name of the first file in a zip archive, from its first local header."""
    if len(sample) < 30:
        return ""
    length = int.from_bytes(sample[26:28], "little")
    name = sample[30 : 30 + length].decode("utf-8", errors="replace")
    return name if name.isprintable() else ""


def _gzip_member(sample: bytes) -> str:
    """The original file name a gzip file records (when its FNAME flag is set)."""
    if len(sample) < 10 or not sample[3] & 0x08:
        return ""
    start = 10
    if sample[3] & 0x04:  # FEXTRA: a length, then the extra field
        start += 2 + int.from_bytes(sample[10:12], "little")
    end = sample.find(b"\x00", start)
    if end < 0:
        return ""
    name = sample[start:end].decode("latin-1")
    return name if name.isprintable() else ""


def _holding(name: str) -> str:
    return f" (it holds “{name[:100]}”)" if name else ""


def binary_file_message(sample: bytes) -> str | None:
    """Name a file that is no text at all (compressed, an archive, a workbook…), or ``None``."""
    if not sample:
        return "The file is empty."
    if sample.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if sample[30:38] == b"mimetype" and b"opendocument.spreadsheet" in sample[:200]:
            return (
                "This is an OpenDocument spreadsheet (.ods), not a CSV file: save it as .xlsx "
                "or CSV UTF-8 and upload that."
            )
        if b"word/" in sample:
            return "This is a Word document (.docx), not a CSV file."
        # Workbooks are converted before they get here (``workbook.is_workbook``).
        return (
            "This is a zip archive, not a CSV file or an Excel workbook: unzip it and "
            f"{_UPLOAD_CSV}{_holding(_zip_member(sample))}."
        )
    if sample.startswith(b"\x1f\x8b"):
        return (
            "This is a gzip-compressed file (.gz), not a CSV file: decompress it and "
            f"{_UPLOAD_CSV}{_holding(_gzip_member(sample))}."
        )
    if re.match(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", sample):
        return (
            "This is a bzip2-compressed file (.bz2), not a CSV file: decompress it and "
            f"{_UPLOAD_CSV}."
        )
    for magic, kind in (
        (b"\xfd7zXZ\x00", "an xz-compressed file (.xz)"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (.7z)"),
        (b"(\xb5/\xfd", "a Zstandard-compressed file (.zst)"),
        (b"Rar!\x1a\x07", "a RAR archive (.rar)"),
    ):
        if sample.startswith(magic):
            return f"This is {kind}, not a CSV file: extract it and {_UPLOAD_CSV}."
    if sample.startswith(b"\xd0\xcf\x11\xe0"):
        return "This is an old Excel workbook (.xls), not a CSV file. Save it as CSV UTF-8 first."
    if sample.startswith(b"%PDF"):
        return "This is a PDF document, not a CSV file."
    if sample.startswith(b"SQLite format 3\x00"):
        return (
            "This is an SQLite database, not a CSV file: export the table as CSV (in the "
            "sqlite3 shell: .headers on, .mode csv, .output people.csv, then SELECT * FROM "
            "the table) and upload that."
        )
    return None


# A JSON object's start: a quoted key and a colon.
_JSON_OBJECT_START = re.compile(r'\{\s*"(?:[^"\\\n]|\\.)*"\s*:')


def _json_kind(text: str, complete: bool) -> str:
    """ "JSON", "JSON Lines" or "" for text that is not JSON, parsed as far as it goes."""
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return ""
    decoder = json.JSONDecoder()
    try:
        value, end = decoder.raw_decode(stripped)
    except json.JSONDecodeError:
        value, end = None, 0
    if end and isinstance(value, dict | list):
        rest = stripped[end:].lstrip()
        if not rest:
            return "JSON"
        if isinstance(value, dict) and rest.startswith("{"):
            return "JSON Lines"
        return ""
    if complete:
        return ""
    # A document longer than the sample: its first record must parse, or its first key.
    if stripped.startswith("["):
        inner = stripped[1:].lstrip()
        if inner[:1] not in ("{", "["):
            return ""
        try:
            _, end = decoder.raw_decode(inner)
        except json.JSONDecodeError:
            return ""
        return "JSON" if inner[end:].lstrip()[:1] in (",", "]") else ""
    return "JSON" if _JSON_OBJECT_START.match(stripped) else ""


_SQL_TOOLS = (
    (re.compile(r"--\s*(MySQL|MariaDB) dump", re.I), "an SQL dump (mysqldump)"),
    (re.compile(r"--\s*PostgreSQL database dump|--\s*Dumped (from|by) pg_dump", re.I),
     "an SQL dump (pg_dump)"),
)  # fmt: skip
_SQL_STATEMENT = re.compile(
    r"\s*(CREATE\s+(TEMPORARY\s+)?(TABLE|DATABASE|SCHEMA|SEQUENCE|VIEW|INDEX|UNIQUE\s+INDEX)\b"
    r"|INSERT\s+INTO\s|REPLACE\s+INTO\s|DROP\s+(TABLE|DATABASE|SCHEMA)\b|ALTER\s+TABLE\s"
    r"|LOCK\s+TABLES\s|SET\s+[@\w.]+\s*=|USE\s+`|PRAGMA\s+\w+|BEGIN\s+TRANSACTION\s*;"
    r"|COPY\s+\S+(\s*\([^)]*\))?\s+FROM\s+stdin|SELECT\s.+\sFROM\s)",
    re.I,
)


def _sql_kind(lines: list[str]) -> str:
    """What kind of SQL the first lines are ("" for none): a dump tool's header comment, or
    a first statement (comments and blank lines before it skipped)."""
    for line in lines[:5]:
        for pattern, kind in _SQL_TOOLS:
            if pattern.match(line):
                return kind
    for line in lines[:200]:
        stripped = line.strip()
        if not stripped or stripped.startswith(("--", "/*", "#")):
            continue
        return "an SQL dump" if _SQL_STATEMENT.match(stripped) else ""
    return ""


def _markup_kind(text: str) -> str:
    head = text.lstrip()[:2000]
    lowered = head.lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in lowered:
        return "an Excel 2003 XML spreadsheet"
    if lowered.startswith(("<!doctype html", "<html")) or (
        lowered.startswith("<?xml") and "<html" in lowered
    ):
        return "a web page (HTML)"
    if lowered.startswith("<?xml"):
        return "an XML file"
    return ""


def _fixed_width(lines: list[str], splits_consistently: Callable[[list[str]], bool]) -> bool:
    """Whether the lines are fixed-width columns: no delimiter splits them consistently,
    they are (mostly) of one length, and runs of spaces at the same places on every line
    part at least three columns."""
    lines = [line.rstrip("\r") for line in lines[:100] if line.strip()]
    if len(lines) < 3 or splits_consistently(lines):
        return False
    width = max(len(line) for line in lines)
    if width > 2000:
        return False
    most, count = Counter(len(line) for line in lines).most_common(1)[0]
    same_length = count >= 0.8 * len(lines) and most > 0
    needed = 0.9 * len(lines)
    gutter = [
        sum(1 for line in lines if i >= len(line) or line[i] == " ") >= needed for i in range(width)
    ]
    blocks = sum(1 for i in range(width) if not gutter[i] and (i == 0 or gutter[i - 1]))
    gaps = blocks - 1
    return gaps >= 2 and (same_length or gaps >= 3)


def text_file_message(
    text: str, *, complete: bool, splits_consistently: Callable[[list[str]], bool]
) -> str | None:
    """Name a text file that is not CSV (JSON, SQL, HTML or XML, fixed-width), or ``None``.

    ``text`` is the decoded start of the file, all of it when ``complete``;
    ``splits_consistently`` tells whether a delimiter splits lines into the same columns.
    """
    json_kind = _json_kind(text, complete)
    if json_kind:
        return (
            f"This is a {json_kind} file, not a CSV file: export the data as CSV (or an Excel "
            "workbook) and upload that."
        )
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # cut short by the sample
    sql_kind = _sql_kind(lines)
    if sql_kind:
        return (
            f"This is {sql_kind}, not a CSV file: export the table as CSV instead (MySQL: "
            "SELECT … INTO OUTFILE or MySQL Workbench's export; PostgreSQL: \\copy … TO "
            "'people.csv' CSV HEADER) and upload that."
        )
    markup_kind = _markup_kind(text)
    if markup_kind:
        return (
            f"This is {markup_kind}, not a CSV file: open it in Excel and save it as CSV "
            "UTF-8 or .xlsx, then upload that."
        )
    if _fixed_width(lines, splits_consistently):
        return (
            "This is a fixed-width text file (columns lined up with spaces, no comma, "
            "semicolon, tab or pipe between them), not a CSV file: open it in Excel (Data > "
            "From Text, “Fixed width”) and save it as CSV UTF-8 or .xlsx, then upload that."
        )
    return None
