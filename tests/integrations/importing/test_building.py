"""Building batches of rows beside a helper process: every batch once, in order, as built
in process."""

from __future__ import annotations

from integrations.catalogue import Provider, catalogue
from integrations.importing.building import LOOKAHEAD, BatchBuilder, BuilderSpec, build_rows

PATHS = ("email", "firstName", "mobile", "country")


def _spec() -> BuilderSpec:
    fields = tuple(spec for spec in catalogue(Provider.REDFLAG) if spec.path in PATHS)
    return BuilderSpec(
        provider=Provider.REDFLAG, fields=fields, paths=PATHS, width=4, default_region="GB"
    )


def test_batches_come_back_in_order_with_the_results_built_in_process():
    batches = [
        (n, [[f"p{n}.{i}@x.io", "Pat", f"07911 12{n:02d}{i:02d}", "UK"] for i in range(30)])
        for n in range(60)
    ]
    batches[7][1].append(["bad", "", "12", "Atlantis"])
    expected = [build_rows(_spec().builder(), rows) for _, rows in batches]

    with BatchBuilder[int](_spec(), helpers=1) as builder:
        results = list(builder.results(iter(batches)))

    assert [key for key, _, _ in results] == list(range(60))
    assert [rows for _, rows, _ in results] == [rows for _, rows in batches]
    assert [built for _, _, built in results] == expected
    assert builder.built_by_helpers > 0


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
    with BatchBuilder[int](_spec(), helpers=1) as builder:
        for key, _, _ in builder.results(source()):
            read_when_given.append((key, read))

    assert read_when_given == [
        (key, min(key + LOOKAHEAD, len(batches))) for key in range(len(batches))
    ]
