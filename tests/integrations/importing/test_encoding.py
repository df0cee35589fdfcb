"""Weighing encodings: each candidate's reading judged by how its words look as names."""

from __future__ import annotations

import io

import pytest

from integrations.importing.encoding import CANDIDATES, HEAD_BYTES, weigh_encodings


def lines(names: list[tuple[str, str]], encoding: str) -> bytes:
    rows = ["email;first;last"] + [f"p{i}@x.io;{a};{b}" for i, (a, b) in enumerate(names)]
    return ("\r\n".join(rows) + "\r\n").encode(encoding)


def candidate(evidence, encoding: str) -> dict:
    return {c["encoding"]: c for c in evidence.as_json()["candidates"]}[encoding]


WESTERN = [("Bjørn", "Ødegård"), ("José", "Muñoz"), ("João", "Gonçalves"), ("Håkon", "Nærø")]
CZECH = [("Jiří", "Dvořák"), ("Kateřina", "Černá"), ("Łukasz", "Wójcik")]
GREEK = [("Γιώργος", "Παπαδόπουλος"), ("Μαρία", "Κωνσταντίνου"), ("Νίκος", "Αλεξίου")]


@pytest.mark.parametrize(
    ("names", "written", "chosen"),
    [
        (WESTERN, "cp1252", "cp1252"),
        (WESTERN, "latin-1", "cp1252"),  # the same text: Windows-1252 comes first
        (CZECH, "cp1250", "cp1250"),
        ([("Иван", "Петров"), ("Мария", "Смирнова"), ("Ольга", "Кузнецова")], "cp1251", "cp1251"),
        (GREEK, "cp1253", "cp1253"),  # as Cyrillic, "ί" is a capital "Я" inside words
        ([("山田", "太郎"), ("佐藤", "花子"), ("鈴木", "さくら")], "shift_jis", "shift_jis"),
    ],
)
def test_the_reading_that_looks_like_names_wins_outright(names, written, chosen):
    evidence = weigh_encodings(lines(names, written))
    assert (evidence.encoding, evidence.question) == (chosen, False)
    text = lines(names, written).decode(chosen)
    assert all(a in text and b in text for a, b in names)


def test_each_rival_is_refuted_by_the_words_it_garbles():
    evidence = weigh_encodings(lines(WESTERN, "cp1252"))
    assert (
        "“Řdegĺrd” (letters no one language writes together)"
        in (candidate(evidence, "cp1250")["reason"])
    )
    assert candidate(evidence, "latin-1")["same_as"] == "cp1252"
    assert (
        "“Bjшrn” (Cyrillic and Latin letters in one word)"
        in (candidate(evidence, "cp1251")["reason"])
    )
    assert candidate(evidence, "shift_jis")["points"] is None
    assert "cannot read byte 0xF8 on line 2" in candidate(evidence, "shift_jis")["reason"]
    czech = weigh_encodings(lines(CZECH, "cp1250"))
    assert (
        "“Jiøí” (letters no one language writes together)" in (candidate(czech, "cp1252")["reason"])
    )
    assert "“£ukasz” (“£” before a letter)" in candidate(czech, "cp1252")["reason"]


def test_shift_jis_is_told_from_gb18030_by_how_common_its_characters_are():
    evidence = weigh_encodings(lines([("山田", "太郎"), ("佐藤", "花子")], "shift_jis"))
    assert evidence.encoding == "shift_jis"
    assert "is seldom used" in candidate(evidence, "gb18030")["reason"]


def test_a_cjk_encoding_is_never_chosen_for_latin_names():
    """The issue: an ISO-8859-1 file was read as Shift JIS."""
    for names in (WESTERN, [("Agnès", "Béranger")], [("Renée", "Dupré"), ("Zoë", "Brontë")]):
        evidence = weigh_encodings(lines(names, "latin-1"))
        assert evidence.encoding not in {"shift_jis", "gb18030", "big5", "euc_kr"}
        assert all(c["encoding"] not in {"shift_jis", "gb18030"} for c in evidence.as_json()[
            "choices"][:1])  # fmt: skip


@pytest.mark.parametrize(
    ("names", "written", "proposed", "rival"),
    [
        ([("Bjørn", "Ødegård")], "cp1252", "cp1252", "cp1250"),  # one word against it: 1 point
        ([("Hélène", "Thérèse"), ("Noël", "Lefèvre")], "cp1252", "cp1252", "cp1250"),
        ([("Zbigniew", "Zieliński"), ("Gęba", "Ćwik")], "cp1250", "cp1252", "cp1250"),
        ([("Çağrı", "Yılmaz"), ("Ayşe", "Öztürk")], "cp1254", "cp1254", "cp1252"),  # noqa: RUF001
        # One Greek name reads as Cyrillic letters too: nothing tells them apart, the order
        # proposes Cyrillic, and the admin sees both.
        ([("Γιώργος", "Παπαδόπουλος")], "cp1253", "cp1251", "cp1253"),
    ],
)
def test_readings_that_both_look_like_names_ask_with_the_rows_side_by_side(
    names, written, proposed, rival
):
    evidence = weigh_encodings(lines(names, written))
    assert evidence.question
    assert evidence.choices[0] == proposed and rival in evidence.choices
    assert written in evidence.choices or written == "cp1252"
    row = evidence.rows[0]
    texts = dict(zip(evidence.choices, row.texts, strict=True))
    assert row.line == 2 and texts[proposed] != texts[rival]
    assert texts[written] == lines(names, written).decode(written).splitlines()[1]


def test_a_remembered_encoding_is_used_while_it_stands():
    data = lines([("Bjørn", "Ødegård")], "cp1252")
    remembered = weigh_encodings(data, remembered="cp1250")
    assert (remembered.encoding, remembered.question, remembered.remembered) == (
        "cp1250", False, True,
    )  # fmt: skip
    assert remembered.choices[:2] == ("cp1250", "cp1252")  # the evidence is still shown
    refuted = weigh_encodings(lines(WESTERN, "cp1252"), remembered="cp1250")
    assert (refuted.encoding, refuted.remembered) == ("cp1252", False)


def test_byte_order_marks_and_utf8_decide_at_once():
    assert weigh_encodings(b"\xef\xbb\xbfa;b\r\n").encoding == "utf-8-sig"
    assert weigh_encodings("a;b\n".encode("utf-16")).encoding == "utf-16"
    evidence = weigh_encodings("email;name\nzoe@x.io;Zoë\n".encode())
    assert (evidence.encoding, evidence.question, evidence.candidates) == ("utf-8", False, ())
    # Cut in the middle of a character, the head is still UTF-8.
    head = ("a;b\n" + "é" * HEAD_BYTES).encode()[:HEAD_BYTES]
    assert weigh_encodings(head, io.BytesIO(b"")).encoding == "utf-8"


def test_the_first_bytes_beyond_ascii_are_looked_for_beyond_the_head():
    ascii_part = b"email;first;last\r\n" + b"p@x.io;Ann;Lee\r\n" * 6000
    data = ascii_part + "q@x.io;Jürgen;Weiß\r\nr@x.io;Bjørn;Ødegård\r\n".encode("cp1252")
    head = data[:HEAD_BYTES]
    rest = io.BytesIO(data[HEAD_BYTES:])
    evidence = weigh_encodings(head, rest)
    assert evidence.encoding == "cp1252"
    assert evidence.bytes_examined == len(data)
    assert evidence.rows[0].line == 6003  # Jürgen Weiß reads alike in 1250; Bjørn does not
    assert "the whole file" in evidence.reason or evidence.question
    utf8 = ascii_part + "q@x.io;Jürgen;Weiß\r\n".encode()
    later = weigh_encodings(utf8[:HEAD_BYTES], io.BytesIO(utf8[HEAD_BYTES:]))
    assert later.encoding == "utf-8" and "line 6002" in later.reason


def test_a_file_of_only_ascii_never_asks():
    evidence = weigh_encodings(b"email;first\r\na@x.io;Ann\r\n", remembered="cp1250")
    assert (evidence.encoding, evidence.question, evidence.rows) == ("utf-8", False, ())


def test_weighing_reads_a_bounded_part_of_a_large_file():
    data = b"email;first;last\r\n" + b"p@x.io;Ann;Lee\r\n" * 400_000  # 6.4 MB of ASCII
    head = data[:HEAD_BYTES]
    evidence = weigh_encodings(head, io.BytesIO(data[HEAD_BYTES:]))
    assert evidence.encoding == "utf-8"
    assert evidence.bytes_examined == 4 * 1024 * 1024
    assert "the first 4.0 MB" in evidence.reason


def test_every_candidate_is_an_encoding_the_admin_can_choose():
    from integrations.importing.reading import ENCODING_CHOICES

    assert set(CANDIDATES) <= {value for value, _ in ENCODING_CHOICES}
