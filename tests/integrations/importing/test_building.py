"""Previewing rows: each row classified against the mirror entry its caller looked up, and
the spec a chunk task rebuilds from JSON previewing exactly as the writer's own."""

from __future__ import annotations

import orjson
from django.utils import translation

from integrations.catalogue import Provider, catalogue
from integrations.importing.building import (
    BuilderSpec,
    Mirror,
    RowPreviewer,
    spec_dumps,
    spec_loads,
)

PATHS = ("email", "firstName", "mobile", "country")
# Pat of batch 3 row 0 is mirrored (as text, as PostgreSQL gives it) with another first name.
KNOWN = ("email", "p3.0@x.io")
RECORD = orjson.dumps({"_id": "r-30", "email": "p3.0@x.io", "firstName": "Patricia"}).decode()


def _spec(**more) -> BuilderSpec:
    fields = tuple(spec for spec in catalogue(Provider.REDFLAG) if spec.path in PATHS)
    return BuilderSpec(
        provider=Provider.REDFLAG, fields=fields, paths=PATHS, width=4, default_region="GB",
        **more,
    )  # fmt: skip


def _lookup(identifiers: dict[str, list[str]]) -> Mirror:
    wanted = {(path, key.lower()) for path, keys in identifiers.items() for key in keys}
    return {KNOWN: ("r-30", RECORD)} if KNOWN in wanted else {}


def _batches() -> list[list[list[str]]]:
    batches = [
        [[f"p{n}.{i}@x.io", "Pat", f"07911 12{n:02d}{i:02d}", "UK"] for i in range(30)]
        for n in range(6)
    ]
    batches[2].append(["bad", "", "12", "Atlantis"])
    batches[4].append(["q@x.io", "Ann", "", "Allemagne"])  # a country named in French
    return batches


def test_a_row_is_classified_against_the_mirror_entry_its_caller_looked_up():
    previewer = RowPreviewer(_spec())
    results = [previewer.preview(rows, _lookup(previewer.identifiers(rows))) for rows in _batches()]

    kinds = {row[0] for previewed in results for row in previewed}
    assert kinds == {"update", "invalid"}  # a create needs more than these columns at RedFlag
    update = results[3][0]
    assert update[0] == "update" and update[5] == "r-30"
    assert orjson.loads(update[3])["firstName"] == ["Patricia", "Pat"]


def test_a_spec_read_back_from_json_previews_every_row_as_the_original():
    """A chunk task previews with the spec its writer stored as JSON: the same spec, field
    for field (enums, tuples), giving the same rows, in the writer's language."""
    spec = _spec(
        language="fr",
        date_orders=("", "", "", "dmy"),
        constants=(("country", "FR"),),
        lookups=(("department", (("Sales", "s-1"),)),),
        unreadable=(("location", "The list could not be read."),),
    )
    again = spec_loads(spec_dumps(spec))

    assert again == spec
    assert type(again.provider) is Provider and type(again.fields[0].type) is type(
        spec.fields[0].type
    )
    with translation.override(spec.language):
        original, rebuilt = RowPreviewer(spec), RowPreviewer(again)
        for rows in _batches():
            mirror = _lookup(original.identifiers(rows))
            assert rebuilt.preview(rows, mirror) == original.preview(rows, mirror)
