"""Encoding and delimiter detection and row streaming for uploaded CSV files.

Everything here works on a binary file object and never holds the whole file in memory: the
rows are yielded one by one from a ``csv.reader`` over a text wrapper.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from integrations.importing.encoding import ENCODING_CHOICES as ENCODING_CHOICES
from integrations.importing.encoding import HEAD_BYTES, weigh_encodings
from integrations.importing.filetypes import binary_file_message, text_file_message

# Enough to see a header and a few rows, weigh the encoding and tell what kind of file it is.
SAMPLE_BYTES = HEAD_BYTES
DELIMITER_CHOICES: tuple[tuple[str, str], ...] = (
    (",", "Comma ,"),
    (";", "Semicolon ;"),
    ("\t", "Tab"),
    ("|", "Pipe |"),
)
DELIMITERS = tuple(value for value, _ in DELIMITER_CHOICES)


class ImportFileError(ValueError):
    """The file cannot be read as CSV; the message is for the person who uploaded it."""


@dataclass(frozen=True, slots=True)
class Detected:
    encoding: str
    delimiter: str


def check_not_binary(sample: bytes) -> None:
    """Refuse archives, compressed files, spreadsheets, PDFs and other binary files named
    ``.csv``, naming what they are."""
    message = binary_file_message(sample)
    if message:
        raise ImportFileError(message)


def detect_encoding(sample: bytes) -> str:
    """The encoding ``weigh_encodings`` chooses for a file that is only ``sample``."""
    return weigh_encodings(sample).encoding


def check_no_nul(text: str, row: int) -> None:
    position = text.find("\x00")
    if position >= 0:
        raise ImportFileError(
            f"Row {row} contains a NUL byte (an invisible character 0), which a CSV file cannot "
            "hold: the file is probably binary or saved in another encoding. If it is UTF-16, "
            "choose that encoding; otherwise export the file again as CSV."
        )


def detect_delimiter(text: str) -> str:
    """Pick the delimiter (comma, semicolon, tab or pipe) that splits the sample most evenly.

    ``csv.Sniffer`` misreads quoted commas and one-column files; instead each candidate parses
    the first rows and the one giving the same number of columns (more than one) on most rows
    wins, the wider split and then the earlier candidate on a tie. The number of columns is
    the commonest, not the first row's: title lines above the header ("Employee export",
    "Generated 2025-01-02") have one cell whatever the delimiter.
    """
    lines = text.splitlines(keepends=True)
    # The last line of a sample may be cut short: leave it out unless it is the only one.
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]
    sample = "".join(lines[:50])
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        except csv.Error:
            continue
        widths = Counter(len(row) for row in rows if len(row) > 1)
        if not widths:
            continue
        width, consistent = max(widths.items(), key=lambda item: (item[1], item[0]))
        score = (consistent, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _splits_consistently(lines: list[str]) -> bool:
    """Whether a delimiter splits most of the lines into the same two or more columns."""
    sample = "\n".join(lines[:50])
    for delimiter in DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        except csv.Error:
            continue
        widths = Counter(len(row) for row in rows)
        if widths:
            width, count = widths.most_common(1)[0]
            if width >= 2 and count >= 0.8 * len(rows):
                return True
    return False


def detect(sample: bytes, *, encoding: str = "", complete: bool | None = None) -> Detected:
    """How to read a file from its first bytes: its encoding (``encoding`` when already
    chosen) and delimiter, after refusing what is not a CSV file at all.

    ``complete``: the sample is the whole file (by default, when shorter than
    ``SAMPLE_BYTES``).
    """
    check_not_binary(sample)
    encoding = encoding or detect_encoding(sample)
    text = codecs.getincrementaldecoder(encoding)("replace").decode(sample, final=False)
    if "\x00" in text:
        check_no_nul(text, text[: text.index("\x00")].count("\n") + 1)
    if complete is None:
        complete = len(sample) < SAMPLE_BYTES
    message = text_file_message(
        text.removeprefix("\ufeff"), complete=complete, splits_consistently=_splits_consistently
    )
    if message:
        raise ImportFileError(message)
    return Detected(encoding=encoding, delimiter=detect_delimiter(text))


class _Lines:
    """Text lines with NUL and decoding errors turned into ``ImportFileError``."""

    def __init__(self, text: io.TextIOBase, encoding: str) -> None:
        self.text = text
        self.encoding = encoding
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        while True:
            try:
                line = self.text.readline()
            except UnicodeDecodeError:
                raise ImportFileError(
                    f"The file is not valid {self.encoding} near line {self.line + 1}. Choose "
                    "another encoding above (Windows-1252 for most files from Excel on Windows)."
                ) from None
            if not line:
                return
            self.line += 1
            check_no_nul(line, self.line)
            yield line


def iter_records(
    binary: BinaryIO, *, encoding: str, delimiter: str
) -> Generator[tuple[int, list[str]], None, None]:
    """Yield every non-blank record of the file with its place in the file.

    The place counts blank records too (1 is the first record), so it is the row number a
    spreadsheet shows for the record. Quoted newlines and CRLF line ends are handled by
    ``csv`` itself (``newline=""``). A UTF-8 byte-order mark is dropped whichever UTF-8 is
    chosen.
    """
    if encoding.replace("_", "-").lower() in {"utf-8", "utf8"}:
        encoding = "utf-8-sig"
    text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
    lines = _Lines(text, encoding)
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    try:
        for number, row in enumerate(reader, start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield number, row
    except csv.Error as exc:
        message = f"Line {lines.line}: the file cannot be read as CSV ({exc})."
        raise ImportFileError(message) from None
    finally:
        # Hand the binary file back open: its owner closes it.
        with contextlib.suppress(ValueError):
            text.detach()


def iter_rows(
    binary: BinaryIO, *, encoding: str, delimiter: str
) -> Generator[list[str], None, None]:
    """Yield every record of the file (the header first) as a list of cells; blank lines are
    skipped (``iter_records`` tells where each record is)."""
    with contextlib.closing(iter_records(binary, encoding=encoding, delimiter=delimiter)) as rows:
        for _, row in rows:
            yield row
