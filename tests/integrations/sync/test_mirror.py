"""The mirror upsert: PostgreSQL's COPY path leaves exactly the rows the plain way leaves."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.clients.models import Recipient, from_redflag, from_snappy
from integrations.models import MirroredRecipient
from integrations.sync.mirror import MIRROR_FIELDS, mirror_row, mirror_upsert
from integrations.sync.mirror_copy import copy_upsert
from tests.factories import ConnectionFactory

SEEN = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LATER = SEEN + dt.timedelta(hours=1)


def recipients(version: str) -> list[Recipient]:
    return [
        from_redflag(
            {
                "_id": f"{n:024x}",
                "email": f"Zoë.{n}@Example.com",
                "firstName": "Zoë" if n % 2 else "Łukasz",
                "lastName": f"O'Brien {version}",
                "mobile": "7700 900123",
                "mobileCountry": "44",
                "orgId": f"E-{n}" if n % 3 else "",
                "mDate": "2026-11-30T10:00:00.000Z" if n % 4 else None,
                "tags": [{"key": "z_team", "value": ["a\tb", 'q"uote', "back\\slash", "\n"]}],
                "notes": None,
            }
        )
        for n in range(40)
    ] + [from_snappy({"id": "s1", "email": "", "firstName": "Ann", "employee": {"a": 1}})]


def snapshot(connection) -> list[tuple]:
    names = ["remote_id", "first_seen_at", *MIRROR_FIELDS]
    return sorted(MirroredRecipient.objects.filter(connection=connection).values_list(*names))


@pytest.mark.django_db
def test_copy_and_bulk_create_leave_identical_rows(postgresql):
    """Insert, then update the same remote ids: both ways, the same rows, field by field."""
    by_copy, by_orm = ConnectionFactory(), ConnectionFactory(name="Other")
    for seen_at, version in ((SEEN, "one"), (LATER, "two")):
        batch = recipients(version)
        copy_upsert([mirror_row(by_copy, r, seen_at=seen_at) for r in batch], MIRROR_FIELDS)
        MirroredRecipient.objects.bulk_create(
            [mirror_row(by_orm, r, seen_at=seen_at) for r in batch],
            update_conflicts=True,
            unique_fields=["connection", "remote_id"],
            update_fields=MIRROR_FIELDS,
        )

    rows = snapshot(by_copy)
    assert len(rows) == 41
    assert rows == snapshot(by_orm)
    first = MirroredRecipient.objects.get(connection=by_copy, remote_id=f"{1:024x}")
    assert first.first_seen_at == SEEN and first.last_seen_at == LATER  # first seen is kept
    assert first.record["tags"][0]["value"][0] == "a\tb"


@pytest.mark.django_db
def test_mirror_upsert_counts_each_remote_id_once(db):
    connection = ConnectionFactory()
    batch = recipients("one")

    assert mirror_upsert(connection, batch + batch[:5], seen_at=SEEN) == 41
    assert MirroredRecipient.objects.filter(connection=connection).count() == 41
