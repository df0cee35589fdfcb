"""International names in every encoding an HR export is written in: each file previews with
exactly its names, or the admin is asked (nothing previewed) with the differing rows shown, and
the choice is remembered for the connection."""

from __future__ import annotations

import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.audit.models import AuditEvent
from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow, ImportStatus, RememberedMapping
from dashboard.imports.selectors import import_rows

pytestmark = pytest.mark.django_db

NAMES = [
    ("Bjørn", "Ødegård"), ("Åsa", "Öberg"), ("Søren", "Kierkegaard"), ("Håkon", "Nærø"),  # Nordic
    ("Guðrún", "Þórsdóttir"),  # Icelandic
    ("Jürgen", "Weiß"), ("Änne", "Schäfer"),  # German
    ("François", "Lefèvre"), ("Hélène", "Cœur"),  # French
    ("João", "Gonçalves"), ("Conceição", "Magalhães"),  # Portuguese
    ("José", "Muñoz"), ("Iñaki", "Ibáñez"),  # Spanish
    ("Łukasz", "Wójcik"), ("Małgorzata", "Szymańska"), ("Zbigniew", "Zieliński"),  # Polish
    ("Jiří", "Dvořák"), ("Žofie", "Šťastná"), ("Kateřina", "Černá"),  # Czech
    ("Çağrı", "Yılmaz"), ("Ayşe", "Öztürk"),  # Turkish  # noqa: RUF001 (dotless i, on purpose)
    ("Nguyễn Thị", "Hằng"), ("Trần Văn", "Đức"),  # Vietnamese
    ("山田", "太郎"), ("佐藤", "花子"), ("鈴木", "さくら"),  # Japanese
    ("Anna", "Smith"),
]  # fmt: skip

# How each file is written: the codec its names are encoded with, and the bytes before them.
WRITTEN = {
    "utf-8": ("utf-8", b""),
    "utf-8 with BOM": ("utf-8", codecs.BOM_UTF8),
    "utf-16 LE": ("utf-16-le", codecs.BOM_UTF16_LE),
    "utf-16 BE": ("utf-16-be", codecs.BOM_UTF16_BE),
    "windows-1252": ("cp1252", b""),
    "iso-8859-1": ("latin-1", b""),
    "windows-1250": ("cp1250", b""),
    "shift jis": ("shift_jis", b""),
}


def holdable(codec: str) -> list[tuple[str, str]]:
    """The names the encoding can hold (each encoded strictly; the others left out)."""
    kept = []
    for first, last in NAMES:
        try:
            (first + last).encode(codec, errors="strict")
        except UnicodeEncodeError:
            continue
        kept.append((first, last))
    return kept


def export(names: list[tuple[str, str]], codec: str, bom: bytes, delimiter: str) -> bytes:
    lines = [delimiter.join(("E-mail", "Given name", "Surname"))]
    lines += [delimiter.join((f"p{i}@example.com", a, b)) for i, (a, b) in enumerate(names)]
    return bom + ("\r\n".join(lines) + "\r\n").encode(codec, errors="strict")


def upload(data: bytes, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def previewed_names(run: Import) -> list[tuple[str, str]]:
    rows = list(import_rows(import_run=run))
    assert {row.kind for row in rows} == {"create"}, [row.errors for row in rows]
    return [(row.payload["firstName"], row.payload["lastName"]) for row in rows]


def answer_if_asked(run: Import, data: bytes, names, codec: str, bom: bytes, user) -> Import:
    """Choose the encoding when the import asks, after checking that it asks rightly: nothing
    previewed, the differing rows shown, and a choice that reads the names right."""
    if run.status == ImportStatus.PREVIEWED:
        return run
    assert services.encoding_question(run)
    assert services.preview_blockers(run)
    assert not ImportRow.objects.filter(import_run=run).exists()
    evidence = run.encoding_evidence
    assert evidence["rows"] and all(len(set(row["texts"])) > 1 for row in evidence["rows"])
    body = data[len(bom) :]
    right = [c["encoding"] for c in evidence["choices"] if _reads(body, c["encoding"], names)]
    assert right, f"no choice reads the names right: {evidence['choices']}"
    return services.import_set_reading(
        import_run=run, encoding=right[0], delimiter=run.delimiter, user=user
    )


def _reads(body: bytes, encoding: str, names) -> bool:
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return False
    return all(a in text and b in text for a, b in names)


@pytest.mark.parametrize("delimiter", [",", ";"], ids=["commas", "semicolons"])
@pytest.mark.parametrize("written", list(WRITTEN))
def test_international_names_preview_exactly_or_the_admin_is_asked(
    redflag, admin_user, written, delimiter
):
    """Never previewed with altered names: exactly the original names, or a question first."""
    codec, bom = WRITTEN[written]
    names = holdable(codec)
    assert len(names) >= 4  # every encoding holds a real sample of the list
    data = export(names, codec, bom, delimiter)

    run = services.import_create(connection=redflag, upload=upload(data), user=admin_user)
    run = answer_if_asked(run, data, names, codec, bom, admin_user)

    assert run.status == ImportStatus.PREVIEWED, run.error
    assert run.delimiter == delimiter
    assert run.header == ["E-mail", "Given name", "Surname"]
    assert previewed_names(run) == names


def test_western_windows_files_are_read_as_windows_1252_without_asking(redflag, admin_user):
    """The issue's file: Windows-1250 read "Bjørn" as "Bjřrn" and showed it as a valid create."""
    names = holdable("cp1252")
    data = export(names, "cp1252", b"", ";")
    run = services.import_create(connection=redflag, upload=upload(data), user=admin_user)
    assert (run.encoding, run.status) == ("cp1252", ImportStatus.PREVIEWED)
    assert previewed_names(run) == names
    evidence = run.encoding_evidence
    assert not evidence["question"]
    choices = [c["encoding"] for c in evidence["choices"]]
    assert choices[0] == "cp1252" and "cp1250" in choices
    # The evidence keeps what Windows-1250 would have made of the names.
    first = evidence["rows"][0]
    assert (first["line"], first["texts"][0]) == (2, "p0@example.com;Bjørn;Ødegård")
    assert first["texts"][choices.index("cp1250")] == "p0@example.com;Bjřrn;Řdegĺrd"
    refuted = {c["encoding"]: c for c in evidence["candidates"]}["cp1250"]
    assert "Řdegĺrd" in refuted["reason"]


def test_an_iso_8859_1_file_is_never_read_as_shift_jis(redflag, admin_user):
    names = [("Agnès", "Béranger"), ("François", "Lefèvre"), ("João", "Gonçalves")]
    run = services.import_create(
        connection=redflag, upload=upload(export(names, "latin-1", b"", ",")), user=admin_user
    )
    run = answer_if_asked(
        run, export(names, "latin-1", b"", ","), names, "latin-1", b"", admin_user
    )
    assert previewed_names(run) == names
    assert run.encoding not in {"shift_jis", "gb18030", "big5", "euc_kr"}


def test_a_file_the_evidence_cannot_settle_waits_for_the_admins_choice(redflag, admin_user):
    """One Nordic name: Windows-1250 reads it as letters too ("Bjřrn", "Řdegĺrd" is one word
    with letters of two languages: not enough to decide alone)."""
    names = [("Bjørn", "Ødegård"), ("Anna", "Smith")]
    data = export(names, "cp1252", b"", ";")

    run = services.import_create(connection=redflag, upload=upload(data), user=admin_user)

    assert run.status == ImportStatus.UPLOADED
    assert not ImportRow.objects.filter(import_run=run).exists()
    assert services.preview_blockers(run) == [
        "Choose the file's encoding (Windows-1252 (Western European) or Windows-1250 (Central "
        "European)): they read some rows differently, shown under “How the file is read”."
    ]
    assert run.encoding_evidence["rows"] == [
        {"line": 2, "texts": ["p0@example.com;Bjørn;Ødegård", "p0@example.com;Bjřrn;Řdegĺrd"]}
    ]
    # Saving the mapping or refreshing does not build a preview behind the question's back.
    services.import_set_mapping(
        import_run=run, paths=["email", "firstName", "lastName"], user=admin_user
    )
    assert run.status == ImportStatus.UPLOADED
    with pytest.raises(services.ImportStateError, match="Choose the file's encoding"):
        services.import_start_preview(import_run=run)

    run = services.import_set_reading(
        import_run=run, encoding="cp1252", delimiter=";", user=admin_user
    )

    assert run.status == ImportStatus.PREVIEWED
    assert previewed_names(run) == names
    assert run.encoding_evidence["confirmed"] and run.encoding_evidence["confirmed_by"] == (
        admin_user.get_username()
    )
    assert RememberedMapping.objects.get(connection=redflag).encoding == "cp1252"
    event = AuditEvent.objects.get(action="import.reading_changed")
    assert event.target_id == str(run.pk)


def test_the_remembered_encoding_reads_the_connections_next_file(redflag, admin_user):
    """A Czech company chose Windows-1250 once: its next ambiguous file is read so, without
    asking, and the evidence is still kept."""
    names = [("Zbigniew", "Zieliński"), ("Gęba", "Ćwik")]  # letters in both code pages
    data = export(names, "cp1250", b"", ",")
    first = services.import_create(connection=redflag, upload=upload(data), user=admin_user)
    assert services.encoding_question(first)
    assert first.encoding == "cp1252"  # proposed, not used: nothing was previewed
    services.import_set_reading(import_run=first, encoding="cp1250", delimiter=",", user=admin_user)

    again = services.import_create(connection=redflag, upload=upload(data), user=admin_user)

    assert (again.encoding, again.status) == ("cp1250", ImportStatus.PREVIEWED)
    assert previewed_names(again) == names
    evidence = again.encoding_evidence
    assert evidence["remembered"] and not evidence["question"]
    choices = [c["encoding"] for c in evidence["choices"]]
    texts = dict(zip(choices, evidence["rows"][0]["texts"], strict=True))
    assert texts["cp1250"] == "p0@example.com,Zbigniew,Zieliński"
    assert texts["cp1252"] == "p0@example.com,Zbigniew,Zieliñski"


def test_a_remembered_encoding_that_garbles_the_next_file_is_not_used(redflag, admin_user):
    RememberedMapping.objects.create(connection=redflag, encoding="cp1250")
    names = holdable("cp1252")
    run = services.import_create(
        connection=redflag, upload=upload(export(names, "cp1252", b"", ",")), user=admin_user
    )
    assert (run.encoding, run.status) == ("cp1252", ImportStatus.PREVIEWED)
    assert not run.encoding_evidence["remembered"]
    assert previewed_names(run) == names


def test_an_ascii_file_never_asks(redflag, admin_user):
    RememberedMapping.objects.create(connection=redflag, encoding="cp1250")
    data = export([("Anna", "Smith"), ("Bob", "Jones")], "ascii", b"", ",")
    run = services.import_create(connection=redflag, upload=upload(data), user=admin_user)
    assert (run.encoding, run.status) == ("utf-8", ImportStatus.PREVIEWED)
    assert run.encoding_evidence["question"] is False
    assert "Only ASCII characters in the whole file" in run.encoding_evidence["reason"]


def test_the_first_accented_name_far_down_a_file_decides_its_encoding(redflag, admin_user):
    """The first 64 KB are ASCII; the Windows-1252 names come after (the old detector said
    UTF-8, and the preview then failed on them)."""
    filler = [(f"Person{i}", "Smith") for i in range(3000)]
    names = filler + holdable("cp1252")
    data = export(names, "cp1252", b"", ",")
    assert data[:65536].isascii() and len(data) > 65536

    run = services.import_create(connection=redflag, upload=upload(data), user=admin_user)

    assert (run.encoding, run.status) == ("cp1252", ImportStatus.PREVIEWED), run.error
    assert run.encoding_evidence["bytes_examined"] > 65536
    assert run.encoding_evidence["rows"][0]["line"] == 3002
    assert previewed_names(run)[-3:] == names[-3:]


# -- the import page -------------------------------------------------------------------------


def post_file(client, connection, data: bytes, name: str = "people.csv"):
    return client.post("/imports/new/", {"connection": connection.pk, "file": upload(data, name)})


def hidden_delimiter(page: str) -> str:
    import html
    import re

    found = re.search(r'<input type="hidden" name="delimiter" value="([^"]*)">', page)
    assert found, "the choice buttons' form keeps the delimiter"
    return html.unescape(found.group(1))


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolons", "tabs"])
def test_the_import_page_shows_the_evidence_and_a_choice_starts_the_preview(
    admin_client, redflag, admin_user, delimiter
):
    names = [("Bjørn", "Ødegård"), ("Anna", "Smith")]
    response = post_file(admin_client, redflag, export(names, "cp1252", b"", delimiter))
    run = Import.objects.get()
    page = admin_client.get(response["Location"]).content.decode()

    assert "Choose the encoding" in page
    assert '<span class="badge import-uploaded">Needs its encoding</span>' in page
    assert "read the whole file differently" in page
    assert '<th scope="col">As Windows-1252 (Western European)</th>' in page
    assert "<mark>Bjørn</mark>" in page and "<mark>Bjřrn</mark>" in page
    assert "<mark>Řdegĺrd</mark>" in page
    assert 'value="cp1252">Read as Windows-1252 (Western European)</button>' in page
    assert 'value="cp1250">Read as Windows-1250 (Central European)</button>' in page
    assert "Choose the file's encoding under “How the file is read” to see the preview" in page
    assert "é or ü" not in page and "Confirm: send" not in page
    assert not run.rows.exists()

    response = admin_client.post(
        f"/imports/{run.pk}/reading/",
        {"encoding": "cp1252", "delimiter": hidden_delimiter(page)},
    )

    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.delimiter) == (ImportStatus.PREVIEWED, delimiter)
    assert previewed_names(run) == names
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "File read again as Windows-1252 (Western European)." in page
    assert "Encoding: Windows-1252 (Western European).</strong>" in page
    assert f"Chosen by {admin_user.get_username()}" in page
    assert "Needs its encoding" not in page
    assert "Confirm: send 2 rows to Acme RedFlag" in page

    # The connection's next file is read so, with its evidence still on the page.
    response = post_file(admin_client, redflag, export(names, "cp1252", b"", delimiter))
    again = Import.objects.exclude(pk=run.pk).get()
    assert (again.encoding, again.status) == ("cp1252", ImportStatus.PREVIEWED)
    page = admin_client.get(response["Location"]).content.decode()
    assert "as chosen for this connection&#x27;s earlier file" in page
    assert "<mark>Bjřrn</mark>" in page and "Choose the encoding" not in page
    assert "Confirm: send 2 rows to Acme RedFlag" in page


def test_a_file_read_as_decided_shows_why_and_what_the_rivals_would_read(admin_client, redflag):
    post_file(admin_client, redflag, export(holdable("cp1252"), "cp1252", b"", ","))
    run = Import.objects.get()
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "Encoding: Windows-1252 (Western European).</strong>" in page
    assert "every other encoding gives words no name is written with" in page
    assert "<summary>Every encoding weighed</summary>" in page
    assert "“Řdegĺrd” (letters no one language writes together)" in page
    assert "Choose the encoding" not in page
    assert "Confirm: send" in page


def test_the_import_command_says_when_the_encoding_must_be_chosen(redflag, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "nordic.csv"
    path.write_bytes(export([("Bjørn", "Ødegård")], "cp1252", b"", ";"))
    with pytest.raises(CommandError, match=r"Choose the file's encoding .* on the import page"):
        call_command("import_csv", "--connection", "Acme RedFlag", str(path), "--dry-run")
    assert not ImportRow.objects.exists()
