"""Previewing batches of rows beside a helper process: every batch once, in order, as
previewed in process, each against the mirror entries its caller looked up."""

from __future__ import annotations

import orjson

from integrations.catalogue import Provider, catalogue
from integrations.importing.building import (
    LOOKAHEAD,
    BatchBuilder,
    BuilderSpec,
    Mirror,
    RowPreviewer,
)

PATHS = ("email", "firstName", "mobile", "country")
# Pat of batch 3 row 0 is mirrored (as text, as PostgreSQL gives it) with another first name.
KNOWN = ("email", "p3.0@x.io")
RECORD = orjson.dumps({"_id": "r-30", "email": "p3.0@x.io", "firstName": "Patricia"}).decode()


def _spec() -> BuilderSpec:
    fields = tuple(spec for spec in catalogue(Provider.REDFLAG) if spec.path in PATHS)
    return BuilderSpec(
        provider=Provider.REDFLAG, fields=fields, paths=PATHS, width=4, default_region="GB"
    )


def _lookup(identifiers: dict[str, list[str]]) -> Mirror:
    wanted = {(path, key.lower()) for path, keys in identifiers.items() for key in keys}
    return {KNOWN: ("r-30", RECORD)} if KNOWN in wanted else {}


def test_batches_come_back_in_order_previewed_as_in_process():
    batches = [
        (n, [[f"p{n}.{i}@x.io", "Pat", f"07911 12{n:02d}{i:02d}", "UK"] for i in range(30)])
        for n in range(60)
    ]
    batches[7][1].append(["bad", "", "12", "Atlantis"])
    local = RowPreviewer(_spec())
    expected = [local.preview(rows, _lookup(local.identifiers(rows))) for _, rows in batches]

    with BatchBuilder[int](_spec(), helpers=1, lookup=_lookup) as builder:
        results = list(builder.results(iter(batches)))

    assert [key for key, _, _ in results] == list(range(60))
    assert [rows for _, rows, _ in results] == [rows for _, rows in batches]
    assert [previewed for _, _, previewed in results] == expected
    assert builder.built_by_helpers > 0
    kinds = {row[0] for _, _, previewed in results for row in previewed}
    assert kinds == {"update", "invalid"}  # a create needs more than these columns at RedFlag
    update = results[3][2][0]
    assert update[0] == "update" and update[5] == "r-30"
    assert orjson.loads(update[3])["firstName"] == ["Patricia", "Pat"]


def test_the_next_batches_are_read_and_handed_out_before_each_is_written():
    """The read-ahead is topped up before every batch is given back, so a helper always has
    the next batches to build while the caller writes ready ones (were they read only when
    the caller had to wait, the helper would idle through every run of ready batches)."""
    batches = [(n, [[f"p{n}@x.io", "Pat", "", "UK"]]) for n in range(3 * LOOKAHEAD)]
    read = 0

    def source():
        nonlocal read
        for batch in batches:
            read += 1
            yield batch

    read_when_given = []
    with BatchBuilder[int](_spec(), helpers=1, lookup=_lookup) as builder:
        for key, _, _ in builder.results(source()):
            read_when_given.append((key, read))

    assert read_when_given == [
        (key, min(key + LOOKAHEAD, len(batches))) for key in range(len(batches))
    ]


def test_a_helper_that_dies_midway_costs_time_never_rows(caplog):
    """Killed (for memory, say) with batches in hand: the caller previews those and every
    later batch itself, with the mirror entries it looked up for them."""
    batches = [(n, [[f"p{n}.{i}@x.io", "Pat", "", "UK"] for i in range(20)]) for n in range(30)]
    local = RowPreviewer(_spec())
    expected = [local.preview(rows, _lookup(local.identifiers(rows))) for _, rows in batches]

    results = []
    with BatchBuilder[int](_spec(), helpers=1, lookup=_lookup) as builder:
        for key, _, previewed in builder.results(iter(batches)):
            if key == 2:
                assert builder.pool is not None
                for process in list(builder.pool._processes.values()):
                    process.kill()
            results.append(previewed)

    assert results == expected
    assert builder.pool is None  # given up: everything after was previewed here
    assert "helper unavailable" in caplog.text
