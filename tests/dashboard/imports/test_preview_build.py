"""How a preview is built and stored: which rows keep their cells, and a preview in chunks
(tasks by row range, written in order by one build) giving exactly the rows one build gives."""

from __future__ import annotations

import logging
import random
import re
import zlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.utils import timezone

from dashboard.imports import services
from dashboard.imports.exports import invalid_csv_lines
from dashboard.imports.models import Import, ImportRow, ImportStatus
from dashboard.imports.selectors import import_rows
from integrations.models import MirroredRecipient

pytestmark = pytest.mark.django_db

HEADER = ["Email", "First name", "Last name", "Mobile", "Country", "Department", "Start date"]


def upload(lines: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", "\r\n".join(lines).encode(), "text/csv")


def test_only_invalid_rows_and_the_first_row_keep_their_cells(redflag, admin_user, monkeypatch):
    """Cells are stored for what shows or exports them: an invalid row (its errors beside
    the values, invalid.csv) and the first row (the mapping's samples). A row first stored
    as valid and flagged later as a duplicate gets its cells back from the file."""
    monkeypatch.setattr(services, "ROW_BATCH", 2)
    lines = [
        "email,firstName,lastName",
        "first@example.com,Fay,First",  # row 2: the first row
        "ann@example.com,Ann,One",  # row 3: repeated by row 7, in a later batch
        "not-an-email,Bo,Bad",  # row 4
        "cy@example.com,Cy,Valid",  # row 5
        "dee@example.com,Dee,Valid",  # row 6
        "ANN@example.com,Ann,Two",  # row 7
    ]
    run = services.import_create(connection=redflag, upload=upload(lines), user=admin_user)
    rows = {row.number: row for row in import_rows(import_run=run)}

    assert {n: row.kind for n, row in rows.items()} == {
        2: "create", 3: "invalid", 4: "invalid", 5: "create", 6: "create", 7: "invalid",
    }  # fmt: skip
    assert rows[2].cells == ["first@example.com", "Fay", "First"]
    assert rows[3].cells == ["ann@example.com", "Ann", "One"]
    assert rows[4].cells == ["not-an-email", "Bo", "Bad"]
    assert rows[7].cells == ["ANN@example.com", "Ann", "Two"]
    assert rows[5].cells == rows[6].cells == []
    exported = "".join(
        invalid_csv_lines(import_rows(import_run=run, kind="invalid"), run.header)
    ).splitlines()
    assert exported[1:] == [
        "ann@example.com,Ann,One,Same identifier as row 7: keep one.",
        "not-an-email,Bo,Bad,email: An email address needs an @.",
        "ANN@example.com,Ann,Two,Same identifier as row 3: keep one.",
    ]


def _messy_file(rows: int) -> list[str]:
    """Valid, invalid, repeated and mirrored recipients in every combination."""
    rng = random.Random(7)
    lines = [",".join(HEADER)]
    for n in range(rows):
        email = f"p{n}@example.com"
        roll = rng.random()
        if roll < 0.05:
            email = f"p{n}example.com"
        elif roll < 0.08 and n > 10:
            email = f"P{rng.randrange(n)}@example.com"  # a repeat, maybe batches earlier
        mobile = rng.choice(["07911 123456", "+44 7700 900123", "0000", "", "+1 415 555 2671"])
        country = rng.choice(["UK", "United Kingdom", "USA", "Atlantis", ""])
        date = rng.choice(["03/04/2025", "2025-04-03", "31/02/2020", ""])
        department = rng.choice(["Sales", "Ops", ""])
        lines.append(f"{email},Pat{n},Lee,{mobile},{country},{department},{date}")
    if rows > 5:
        lines.insert(5, "ragged@example.com,Rag")
    return lines


def _mirror(connection, count: int) -> None:
    now = timezone.now() - timedelta(hours=1)
    records = [
        {"_id": f"rid-{n}", "email": f"p{n}@example.com", "firstName": f"Pat{n}",
         "lastName": "Lee", "department": "Ops" if n % 2 else "Sales"}
        for n in range(0, count, 3)
    ]  # fmt: skip
    MirroredRecipient.objects.bulk_create(
        MirroredRecipient(
            connection=connection,
            remote_id=record["_id"],
            email=record["email"],
            email_lower=record["email"],
            record=record,
            last_seen_at=now,
        )
        for record in records
    )


def _stored(run) -> list[tuple]:
    return list(
        import_rows(import_run=run).values_list(
            "number", "cells", "kind", "payload", "errors", "changes", "identifier", "remote_id"
        )
    )


def _built_twice(run, admin_user, lines, chunked_here, deliveries=1):
    """Preview ``lines`` in chunks, then again in one piece: both builds' rows and counts."""
    queued = chunked_here(deliveries=deliveries)
    run = services.import_create(connection=run, upload=upload(lines), user=admin_user)
    assert run.status == ImportStatus.PARSING  # on a worker: this test builds it below
    services.import_build_preview(import_id=run.pk, generation=run.generation, chunked=True)
    run.refresh_from_db()
    assert run.status == ImportStatus.PREVIEWED, run.error
    chunked = (_stored(run), (run.n_create, run.n_update, run.n_unchanged, run.n_invalid))
    assert queued  # chunk tasks did take part

    services.import_start_preview(import_run=run, inline=True)  # one piece: no chunks
    run.refresh_from_db()
    whole = (_stored(run), (run.n_create, run.n_update, run.n_unchanged, run.n_invalid))
    return run, chunked, whole


def test_a_preview_in_chunks_stores_exactly_the_rows_one_build_stores(
    redflag, admin_user, settings, chunked_here, caplog
):
    settings.IMPORT_INLINE_MAX_BYTES = 0
    _mirror(redflag, 1500)
    with caplog.at_level(logging.INFO, logger="dashboard.imports.services"):
        run, chunked, whole = _built_twice(redflag, admin_user, _messy_file(1500), chunked_here)

    assert chunked == whole
    assert all(whole[1]) and run.n_rows == 1501  # every kind of row was compared
    built = re.search(r"(\d+) of its (\d+) chunks previewed by chunk tasks", caplog.text)
    assert built and built[2] == "16" and int(built[1]) == 15, caplog.text
    # The chunks' stored spec, marks and results are gone with the build.
    assert not list((settings.MEDIA_ROOT / services.PREVIEW_CHUNKS_FOLDER).rglob("*"))


def test_a_chunk_delivered_twice_stores_its_rows_once(
    redflag, admin_user, settings, chunked_here, monkeypatch
):
    """Late acknowledgement may deliver a chunk's task again (its worker lost, say): both
    deliveries preview it, and the writer still stores each row once."""
    settings.IMPORT_INLINE_MAX_BYTES = 0
    previewed: list[tuple[int, int | None]] = []
    real = services._previewed_batches

    def counted(import_run, spec, start=0, end=None):
        previewed.append((start, end))
        return real(import_run, spec, start, end)

    monkeypatch.setattr(services, "_previewed_batches", counted)
    stored_results: list[int] = []
    real_save = services._ChunkStore.save

    def save(store, index, built):
        stored_results.append(index)
        real_save(store, index, built)

    monkeypatch.setattr(services._ChunkStore, "save", save)
    lines = ["email,firstName,lastName"] + [f"p{n}@x.io,P,L" for n in range(450)]
    run, chunked, whole = _built_twice(redflag, admin_user, lines, chunked_here, deliveries=2)

    assert previewed.count((100, 200)) == 2  # both deliveries previewed chunk 1
    assert len(stored_results) == 2 * 4  # and both stored what they previewed
    assert chunked == whole
    numbers = [row[0] for row in chunked[0]]
    assert numbers == sorted(set(numbers)) and len(numbers) == 450
    assert ImportRow.objects.filter(import_run=run).count() == 450


def test_duplicates_are_found_across_chunk_boundaries(redflag, admin_user, settings, chunked_here):
    """Rows of different chunks repeating an identifier are flagged both ways, as within one
    chunk: the writer stores every chunk's rows in file order, remembering every identifier."""
    settings.IMPORT_INLINE_MAX_BYTES = 0
    lines = ["email,firstName,lastName"] + [f"p{n}@x.io,P,L" for n in range(350)]
    lines[100] = "edge@x.io,Last,OfChunk0"  # row 101: the last data row of chunk 0
    lines[101] = "EDGE@x.io,First,OfChunk1"  # row 102: the first of chunk 1
    lines[5] = "far@x.io,In,Chunk0"  # row 6
    lines[330] = "Far@X.io,In,Chunk3"  # row 331
    run, chunked, whole = _built_twice(redflag, admin_user, lines, chunked_here)

    assert chunked == whole
    rows = {row.number: row for row in import_rows(import_run=run, kind="invalid")}
    assert set(rows) == {6, 101, 102, 331}
    assert rows[101].errors["row"] == "Same identifier as row 102: keep one."
    assert rows[102].errors["row"] == "Same identifier as row 101: keep one."
    assert rows[6].errors["row"] == "Same identifier as row 331: keep one."
    assert rows[331].errors["row"] == "Same identifier as row 6: keep one."
    assert rows[6].cells == ["far@x.io", "In", "Chunk0"]  # read again for the flagged row
    assert run.n_invalid == 4 and run.n_create == 346


def test_first_rows_remembers_every_identifier_through_growth():
    table = services._FirstRows()
    keys = [f"p{n}@example.com" for n in range(200_000)]
    assert [table.setdefault(key, n + 2) for n, key in enumerate(keys)] == list(range(2, 200_002))
    assert [table.setdefault(key, 1) for key in keys] == list(range(2, 200_002))
    assert table.count == len(keys)


def test_identifiers_sharing_one_hash_are_told_apart_by_the_other():
    """The first-row table keeps two hashes of each identifier, not the identifier: one
    shared hash is not a repeat."""
    table = services._FirstRows()
    table.setdefault("ann@example.com", 2)
    table._setdefault(hash("bo@example.com"), zlib.crc32(b"ann@example.com"), 3)
    table._setdefault(hash("ann@example.com"), zlib.crc32(b"cy@example.com"), 4)
    assert table.setdefault("bo@example.com", 5) == 5
    assert table.setdefault("cy@example.com", 6) == 6
    assert table.setdefault("ann@example.com", 7) == 2


@pytest.mark.parametrize("midway", ["newer preview", "import deleted"])
def test_a_preview_stopped_midway_leaves_none_of_its_rows(redflag, admin_user, monkeypatch, midway):
    """A newer preview (the mapping changed) or the import's deletion stops a preview being
    built; the batches it stored before are removed, not left behind unseen."""
    lines = ["email,firstName,lastName"] + [f"p{n}@x.io,P,L" for n in range(60)]
    run = services.import_create(connection=redflag, upload=upload(lines), user=admin_user)
    # A rebuild queued, as ``import_start_preview`` leaves it.
    Import.objects.filter(pk=run.pk).update(
        generation=F("generation") + 1, status=ImportStatus.PARSING
    )
    generation = run.generation + 1
    monkeypatch.setattr(services, "ROW_BATCH", 3)  # 20 batches, 10 read before the first is stored
    real_lookup = services._mirror_lookup
    calls = 0

    def lookup(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 13:  # batches 1 to 3 stored: stop it
            if midway == "newer preview":
                Import.objects.filter(pk=run.pk).update(generation=F("generation") + 1)
            else:
                Import.objects.filter(pk=run.pk).delete()
        return real_lookup(*args, **kwargs)

    monkeypatch.setattr(services, "_mirror_lookup", lookup)
    services.import_build_preview(import_id=run.pk, generation=generation)

    assert calls >= 13
    assert not ImportRow.objects.filter(import_run_id=run.pk, generation=generation).exists()


def test_chunks_whose_tasks_went_silent_are_previewed_by_the_writer(
    redflag, admin_user, settings, chunked_here, monkeypatch, caplog
):
    """Chunk tasks that started their chunks and died (their worker killed, a message never
    delivered again): once silent for ``IMPORT_PREVIEW_STALE_AFTER`` seconds, the writer
    previews those chunks itself and the preview is complete, each row once."""
    from dashboard.imports import tasks

    settings.IMPORT_INLINE_MAX_BYTES = 0
    chunked_here()
    settings.IMPORT_PREVIEW_STALE_AFTER = 1

    def started_then_lost(import_id, generation, claim, index, start, end):
        services._ChunkStore(import_id, generation, claim).start(index)

    monkeypatch.setattr(tasks.build_import_preview_chunk, "delay", started_then_lost)
    lines = ["email,firstName,lastName"] + [f"p{n}@x.io,P,L" for n in range(250)]
    lines[200] = "P3@x.io,Pat,Again"
    run = services.import_create(connection=redflag, upload=upload(lines), user=admin_user)
    with caplog.at_level(logging.INFO, logger="dashboard.imports.services"):
        services.import_build_preview(import_id=run.pk, generation=run.generation, chunked=True)
    run.refresh_from_db()

    assert run.status == ImportStatus.PREVIEWED, run.error
    assert caplog.text.count("stopped reporting; previewing it here") == 2  # chunks 1 and 2
    assert "0 of its 3 chunks previewed by chunk tasks" in caplog.text
    numbers = list(import_rows(import_run=run).values_list("number", flat=True))
    assert numbers == list(range(2, 252))
    assert run.n_invalid == 2 and run.n_create == 248
