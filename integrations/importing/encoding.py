"""Choose the encoding of an uploaded file on evidence, and keep the evidence to show.

A byte-order mark, or bytes beyond ASCII that are valid UTF-8, decide at once. Otherwise every
candidate encoding reads the lines that hold bytes beyond ASCII, and each reading is weighed by
how its words look as names and addresses are written. A word earns points against the
encoding that produced it when it holds:

- a control character (C1, U+0080 to U+009F), a private-use or unassigned one (3 points);
- letters of two scripts (Latin with Cyrillic, Greek or CJK…) (3 points);
- a symbol or punctuation mark wedged between letters, as "Ma³gorzata" or "ŽR“c" (2 points),
  or stuck to a letter at its edge, as "£ukasz" (1 point);
- accented Latin letters that no one language writes together, as "Řdegĺrd" (Czech ř,
  Slovak ĺ) or "Jiøí" (1 point);
- a capital letter after a small one, as "JosÈ" or "МбсЯб" (1 point), or an accented letter
  standing alone (1 point);
- CJK characters outside the common set of the encoding that produced them (JIS level 1 and
  kana for Shift JIS, GB 2312 for GB 18030…), as a Shift JIS file read as GB 18030 gives
  (1 point).

Readings that give the same text are one reading (Windows-1252 and Latin-1 agree on every
byte but 0x80 to 0x9F). The reading with the fewest points wins outright when every other one has
at least two points more and twice as many; otherwise the admin chooses between the readings
left, shown side by side on the rows where they differ. Windows-1252 comes first among equals
(what Excel writes on a Western Windows PC); a CJK encoding is never chosen, nor proposed,
while a Latin reading stands. The encoding remembered for the connection is used when its
reading stands. Nothing here is a statistical model: each verdict names its words.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, BinaryIO

ENCODING_CHOICES: tuple[tuple[str, str], ...] = (
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with byte-order mark"),
    ("utf-16", "UTF-16 (with byte-order mark)"),
    ("cp1252", "Windows-1252 (Western European)"),
    ("latin-1", "Latin-1 (ISO 8859-1)"),
    ("cp1250", "Windows-1250 (Central European)"),
    ("cp1251", "Windows-1251 (Cyrillic)"),
    ("cp1253", "Windows-1253 (Greek)"),
    ("cp1254", "Windows-1254 (Turkish)"),
    ("iso8859-15", "Latin-9 (ISO 8859-15)"),
    ("mac-roman", "Mac Roman"),
    ("shift_jis", "Shift JIS (Japanese)"),
    ("gb18030", "GB 18030 (Chinese)"),
    ("big5", "Big5 (Traditional Chinese)"),
    ("euc_kr", "EUC-KR (Korean)"),
)
LABELS = dict(ENCODING_CHOICES)
# The encodings weighed, in the order that breaks a tie: Western first (Excel's "CSV" on a
# Western Windows PC), then Central European, the other Windows code pages, CJK, Mac Roman.
CANDIDATES = (
    "cp1252", "latin-1", "iso8859-15", "cp1250", "cp1254", "cp1251", "cp1253",
    "shift_jis", "gb18030", "big5", "euc_kr", "mac-roman",
)  # fmt: skip
_CJK = frozenset({"shift_jis", "gb18030", "big5", "euc_kr"})

HEAD_BYTES = 64 * 1024
# When the head of a file is all ASCII, its first bytes beyond ASCII are looked for this far.
SCAN_BYTES = 4 * 1024 * 1024
_CHUNK = 256 * 1024
# Lines holding bytes beyond ASCII that are weighed (enough to judge; bounded for big files).
_MAX_LINES = 500
MAX_ROWS_SHOWN = 10
_MAX_CHOICES = 4
_ROW_WIDTH = 120

_WORD = re.compile(r"[^\s,;|\"]+")
# Marks that may stand between two letters of a name (an apostrophe, "Col·lell").
_JOINERS = frozenset("’‘´ʼ·")  # noqa: RUF001 (typographic apostrophes, on purpose)
# Marks that may open a word before its first letter, or close it after its last.
_OPENERS = frozenset("“‘„«¿¡”’")  # noqa: RUF001 (typographic quotes, on purpose)
_CLOSERS = frozenset("”’“»«°™®©…²³¹ªº")  # noqa: RUF001 (typographic quotes, on purpose)
# Accented letters that are words of their own ("à", Swedish "å" and "ö", Danish "ø").
_LONE_LETTERS = frozenset("àèòóåäöø")
# The accented Latin letters of languages whose names an HR file holds: a word's letters
# beyond ASCII must all belong to one of them.
_ALPHABETS = tuple(
    frozenset(letters)
    for letters in (
        "æøåéóüäö",  # Danish, Norwegian
        "åäöéü",  # Swedish
        "åäöšž",  # Finnish
        "áéíóúýþæöð",  # Icelandic
        "äöüßé",  # German
        "àâæçéèêëîïôœùûüÿ",  # French
        "áéíóúüñ",  # Spanish
        "áâãàçéêíóôõúü",  # Portuguese
        "àèéìíîòóùú",  # Italian
        "àçèéíïòóúü",  # Catalan
        "áéíóúàèëïöüĳ",  # Dutch
        "ąćęłńóśźż",  # Polish
        "áčďéěíňóřšťúůýž",  # Czech
        "áäčďéíĺľňóôŕšťúýž",  # Slovak
        "áéíóöőúüű",  # Hungarian
        "ăâîșşțţ",  # Romanian
        "čćđšž",  # Croatian, Serbian, Bosnian, Slovene
        "çğıöşüâîûİ",  # Turkish
        "äõöüšž",  # Estonian
        "āčēģīķļņšūž",  # Latvian
        "ąčęėįšųūž",  # Lithuanian
        "çë",  # Albanian
        "âêîôûŵŷäëïöüáéíóúàèìòù",  # Welsh
        "ċġħżàèìòù",  # Maltese
    )
)
_SCRIPT_OF_NAME = {
    "LATIN": "Latin",
    "GREEK": "Greek",
    "CYRILLIC": "Cyrillic",
    "ARMENIAN": "Armenian",
    "GEORGIAN": "Georgian",
    "HEBREW": "Hebrew",
    "ARABIC": "Arabic",
    "THAI": "Thai",
    "HANGUL": "Hangul",
    # Japanese writes kanji and kana in one name; full-width Latin is CJK typesetting.
    "CJK": "CJK",
    "HIRAGANA": "CJK",
    "KATAKANA": "CJK",
    "KATAKANA-HIRAGANA": "CJK",
    "IDEOGRAPHIC": "CJK",
    "FULLWIDTH": "CJK",
    "HALFWIDTH": "half-width katakana",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One encoding weighed: its points (``None``: it cannot read the file) and why."""

    encoding: str
    points: int | None
    reason: str
    same_as: str = ""  # reads the file exactly as this better-placed candidate

    def as_json(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "label": LABELS.get(self.encoding, self.encoding),
            "points": self.points,
            "reason": self.reason,
            "same_as": self.same_as,
        }


@dataclass(frozen=True, slots=True)
class Difference:
    """A line of the file as each shown reading gives it."""

    line: int
    texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EncodingEvidence:
    """The encoding chosen, why, and whether the admin must choose before any preview."""

    encoding: str
    reason: str
    question: bool = False
    candidates: tuple[Candidate, ...] = ()
    # The readings shown side by side (the chosen one first) and the lines where they differ.
    choices: tuple[str, ...] = ()
    rows: tuple[Difference, ...] = ()
    bytes_examined: int = 0
    remembered: bool = False

    def as_json(self) -> dict[str, Any]:
        """The evidence as ``Import.encoding_evidence`` keeps it."""
        return {
            "encoding": self.encoding,
            "reason": self.reason,
            "question": self.question,
            "confirmed": False,
            "remembered": self.remembered,
            "bytes_examined": self.bytes_examined,
            "candidates": [candidate.as_json() for candidate in self.candidates],
            "choices": [{"encoding": e, "label": LABELS.get(e, e)} for e in self.choices],
            "rows": [{"line": row.line, "texts": list(row.texts)} for row in self.rows],
        }


@dataclass(slots=True)
class _Reading:
    """The text one or more candidates give the examined lines, and its verdict."""

    encodings: list[str]
    lines: list[str]
    points: int = 0
    odd: list[str] = field(default_factory=list)  # "“word” (why)", the first few
    latin: bool = True

    @property
    def encoding(self) -> str:
        return self.encodings[0]


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def _examined_lines(
    head: bytes, more: BinaryIO | None
) -> tuple[list[tuple[int, bytes]], int, bool]:
    """The lines (numbered from 1) holding bytes beyond ASCII, the bytes looked at, and
    whether that was the whole file.

    The head alone when it has such bytes; otherwise the file is read on in chunks up to
    ``SCAN_BYTES``: a Western export often has its first accented name far down.
    """
    complete = more is None or len(head) < HEAD_BYTES
    if not head.isascii() or complete:
        lines = head.split(b"\n")
        if not complete and len(lines) > 1:
            lines = lines[:-1]  # cut short by the sample
        found = [(n, line) for n, line in enumerate(lines, start=1) if not line.isascii()]
        return found[:_MAX_LINES], len(head), complete
    assert more is not None
    found = []
    examined, line_number = len(head), head.count(b"\n")
    carry = head[head.rfind(b"\n") + 1 :]
    while examined < SCAN_BYTES and len(found) < _MAX_LINES:
        chunk = more.read(min(_CHUNK, SCAN_BYTES - examined))
        if not chunk:
            complete = True
            chunk = b"\n"  # the last line, unterminated
        else:
            examined += len(chunk)
        block = carry + chunk
        cut = block.rfind(b"\n")
        whole, carry = block[: cut + 1], block[cut + 1 :]
        if not whole.isascii():
            for n, line in enumerate(whole.split(b"\n")[:-1], start=line_number + 1):
                if not line.isascii():
                    found.append((n, line))
        line_number += whole.count(b"\n")
        if complete:
            break
    return found[:_MAX_LINES], examined, complete


def _decode(encoding: str, lines: list[tuple[int, bytes]]) -> list[str] | str:
    """Each line decoded strictly, or why the encoding cannot read them."""
    joined = b"\n".join(line for _, line in lines)
    try:
        return joined.decode(encoding).split("\n")
    except UnicodeDecodeError as exc:
        line_index = joined.count(b"\n", 0, exc.start)
        byte = joined[exc.start : exc.start + 1].hex().upper()
        return f"cannot read byte 0x{byte} on line {lines[line_index][0]}"


@cache
def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return _SCRIPT_OF_NAME.get(name.split(" ", 1)[0], "other")


@cache
def _cjk_common(char: str, encoding: str) -> bool:
    """Whether a CJK character is in the common set of the encoding that produced it."""
    try:
        if encoding == "gb18030":
            char.encode("gb2312")
            return True
        code = int.from_bytes(char.encode(encoding), "big")
    except UnicodeEncodeError:
        return False
    if encoding == "shift_jis":  # half-width kana, symbols, kana, JIS level 1 kanji
        return code <= 0x9872
    if encoding == "big5":  # symbols and the frequently used characters
        return code <= 0xC67E
    if encoding == "euc_kr":  # symbols and Hangul; Hanja are rare in names
        return code <= 0xC8FE
    return True


def _latin_letters_fit(letters: set[str]) -> bool:
    return any(letters <= alphabet for alphabet in _ALPHABETS)


@lru_cache(maxsize=65536)  # a file repeats its towns, departments and common names
def _odd_word(word: str, encoding: str) -> tuple[int, str]:
    """Points against a word (with characters beyond ASCII) and why; 0 for a plausible one."""
    scripts: set[str] = set()
    latin: set[str] = set()
    worst, why = 0, ""
    last = len(word) - 1
    if len(word) == 1 and word.isalpha() and word.lower() not in _LONE_LETTERS:
        return 1, "a letter standing alone"
    for i, char in enumerate(word):
        if (
            i
            and char.isupper()
            and word[i - 1].islower()
            and not (char.isascii() and word[i - 1].isascii())
        ):
            worst, why = max((worst, why), (1, f"capital “{char}” inside a word"))
        if char.isascii():
            if char.isalpha():
                scripts.add("Latin")
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Co", "Cn", "Cs") or char == "\ufffd":
            return 3, f"invisible or control character U+{ord(char):04X}"
        if category[0] == "L" and category != "Lm":
            script = _script(char)
            if char in "ªº":
                script = "Latin"
            scripts.add(script)
            if script == "Latin" and char not in "ªº":
                lower = char.lower()
                latin.add(lower if len(lower) == 1 else char)
            elif script == "CJK" and not _cjk_common(char, encoding):
                worst, why = max((worst, why), (1, f"“{char}” is seldom used"))
            continue
        if category[0] == "M":
            continue
        before = i > 0 and word[i - 1].isalpha()
        after = i < last and word[i + 1].isalpha()
        if before and after and char not in _JOINERS:
            worst, why = max((worst, why), (2, f"“{char}” between letters"))
        elif after and not before and char not in _OPENERS:
            worst, why = max((worst, why), (1, f"“{char}” before a letter"))
        elif before and not after and char not in _CLOSERS:
            worst, why = max((worst, why), (1, f"“{char}” after a letter"))
    if len(scripts) > 1:
        return 3, " and ".join(sorted(scripts)) + " letters in one word"
    if latin and not _latin_letters_fit(latin):
        worst, why = max((worst, why), (1, "letters no one language writes together"))
    return worst, why


def _weigh(reading: _Reading) -> None:
    seen: set[str] = set()
    latin_words = other_words = 0
    for line in reading.lines:
        for word in _WORD.findall(line):
            if word.isascii():
                continue
            points, why = _odd_word(word, reading.encoding)
            letters = [c for c in word if not c.isascii() and c.isalpha()]
            if letters and all(_script(c) == "Latin" for c in letters):
                latin_words += 1
            elif letters:
                other_words += 1
            if points:
                reading.points += points
                if word not in seen and len(reading.odd) < 3:
                    seen.add(word)
                    reading.odd.append(f"“{_shown(word)}” ({why})")
    reading.latin = latin_words >= other_words


def _shown(text: str) -> str:
    """Text as an admin can see it: control characters as the replacement character."""
    return "".join(
        "\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cn") and c != "\t" else c
        for c in text
    )


def _refutes(best: _Reading, other: _Reading) -> bool:
    return other.points >= best.points + 2 and other.points >= 2 * best.points


def _window(texts: list[str]) -> tuple[str, ...]:
    """The lines cut to the part around their differences when they are long."""
    if max(len(t) for t in texts) <= _ROW_WIDTH:
        return tuple(_shown(t) for t in texts)
    start = 0
    while all(start < len(t) for t in texts) and len({t[start] for t in texts}) == 1:
        start += 1
    start = max(0, start - 30)
    cut = []
    for text in texts:
        part = text[start : start + _ROW_WIDTH]
        cut.append(("…" if start else "") + part + ("…" if start + _ROW_WIDTH < len(text) else ""))
    return tuple(_shown(t) for t in cut)


def _differences(shown: list[_Reading], numbers: list[int]) -> tuple[Difference, ...]:
    rows = []
    for i, number in enumerate(numbers):
        texts = [reading.lines[i].rstrip("\r") for reading in shown]
        if len(set(texts)) > 1:
            rows.append(Difference(line=number, texts=_window(texts)))
            if len(rows) >= MAX_ROWS_SHOWN:
                break
    return tuple(rows)


def _verdict(reading: _Reading, words: str) -> str:
    if not reading.points:
        return f"reads every word beyond ASCII as names are written ({words})"
    return f"{reading.points} point{'s' if reading.points != 1 else ''} against it: " + ", ".join(
        reading.odd
    )


def _proposal(standing: list[_Reading]) -> _Reading:
    """The reading proposed when the admin must choose: a Latin one while any stands (a CJK
    encoding is never proposed for Latin names), else the first by points and order."""
    latin = [r for r in standing if r.latin and not set(r.encodings) <= _CJK]
    return (latin or standing)[0]


def weigh_encodings(
    head: bytes, more: BinaryIO | None = None, *, remembered: str = ""
) -> EncodingEvidence:
    """Choose the encoding of a file from its first bytes (``head``) and, when those are all
    ASCII, from the first lines beyond ASCII further on (read from ``more``, positioned just
    after the head).

    ``remembered`` is the encoding last chosen for the same connection: used when it reads
    the file as well as the best reading does.
    """
    if head.startswith(codecs.BOM_UTF8):
        return EncodingEvidence("utf-8-sig", "The file starts with a UTF-8 byte-order mark.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        order = "little" if head.startswith(codecs.BOM_UTF16_LE) else "big"
        return EncodingEvidence(
            "utf-16", f"The file starts with a UTF-16 ({order}-endian) byte-order mark."
        )
    if not head.isascii():
        try:
            # Incremental: the head may end in the middle of a multi-byte character.
            codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
        except UnicodeDecodeError:
            pass
        else:
            return EncodingEvidence(
                "utf-8",
                f"The first {_size(len(head))} are valid UTF-8, with characters beyond ASCII "
                "(another encoding would almost never give valid UTF-8).",
                bytes_examined=len(head),
            )
    lines, examined, complete = _examined_lines(head, more)
    looked = "the whole file" if complete else f"the first {_size(examined)}"
    if not lines:
        return EncodingEvidence(
            "utf-8",
            f"Only ASCII characters in {looked}: every encoding reads them alike. Read as "
            "UTF-8, which stops with a message at any byte it cannot read rather than guess.",
            bytes_examined=examined,
        )
    data = b"\n".join(line for _, line in lines)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return EncodingEvidence(
            "utf-8",
            f"The first characters beyond ASCII, on line {lines[0][0]}, are valid UTF-8.",
            bytes_examined=examined,
        )
    return _weigh_candidates(lines, examined, looked, remembered)


def _weigh_candidates(
    lines: list[tuple[int, bytes]], examined: int, looked: str, remembered: str
) -> EncodingEvidence:
    readings: dict[str, _Reading] = {}  # decoded text → its reading
    failed: dict[str, str] = {}
    for encoding in CANDIDATES:
        decoded = _decode(encoding, lines)
        if isinstance(decoded, str):
            failed[encoding] = decoded
            continue
        key = "\n".join(decoded)
        if key in readings:
            readings[key].encodings.append(encoding)
        else:
            readings[key] = _Reading([encoding], decoded)
    # Latin-1 reads every byte: there is always a reading.
    n_lines = f"{len(lines)} line{'s' if len(lines) != 1 else ''} with characters beyond ASCII"
    for reading in readings.values():
        _weigh(reading)
    order = {encoding: i for i, encoding in enumerate(CANDIDATES)}
    ranked = sorted(readings.values(), key=lambda r: (r.points, order[r.encoding]))
    best = ranked[0]
    standing = [r for r in ranked if not _refutes(best, r)]
    numbers = [n for n, _ in lines]
    kept = next((r for r in standing if remembered in r.encodings), None)
    if kept is not None:
        chosen, question = kept, False
        reason = (
            f"{LABELS.get(remembered, remembered)}, as chosen for this connection's earlier "
            f"file: it reads {looked} as well as any other encoding."
        )
    elif len(standing) == 1:
        chosen, question = best, False
        reason = (
            f"{LABELS[best.encoding]} reads the words of {looked} as names are written; "
            "every other encoding gives words no name is written with."
            if best.points == 0
            else f"{LABELS[best.encoding]} reads {looked} best: every other encoding gives "
            "far more words no name is written with."
        )
    else:
        chosen, question = _proposal(standing), True
        names = " and ".join(LABELS[r.encoding] for r in standing[:_MAX_CHOICES])
        reason = (
            f"{names} read {looked} differently and each reads it as names are written: "
            "choose the one that shows the names right."
        )
    if question:
        shown = [chosen, *[r for r in standing if r is not chosen][: _MAX_CHOICES - 1]]
    else:  # the strongest rivals, for the record
        shown = [chosen, *[r for r in ranked if r is not chosen][: _MAX_CHOICES - 1]]
    encoding = remembered if kept is not None else chosen.encoding
    candidates = []
    for reading in ranked:
        first = reading.encodings[0]
        candidates.append(Candidate(first, reading.points, _verdict(reading, n_lines)))
        candidates.extend(
            Candidate(e, reading.points, f"reads the file exactly as {LABELS[first]}", first)
            for e in reading.encodings[1:]
        )
    candidates.extend(Candidate(e, None, why) for e, why in failed.items())
    return EncodingEvidence(
        encoding=encoding,
        reason=reason,
        question=question,
        candidates=tuple(candidates),
        choices=tuple(remembered if r is kept else r.encoding for r in shown),
        rows=_differences(shown, numbers),
        bytes_examined=examined,
        remembered=kept is not None,
    )
