"""Planner statistics refreshed after bulk changes (``integrations.planner``)."""

from __future__ import annotations

import pytest
from django.db import connection

from integrations.models import MirroredRecipient
from integrations.planner import analyze_if_stale, is_stale
from tests.helpers.postgres import mirror_analyze_count


@pytest.mark.parametrize(
    ("counted", "changed", "stale"),
    [
        (-1, 0, True),  # never gathered
        (0, 999, False),  # below the floor
        (0, 1000, True),
        (100_000, 9_999, False),  # below a tenth
        (100_000, 10_000, True),
    ],
)
def test_statistics_are_stale_past_the_floor_and_a_tenth_of_the_table(counted, changed, stale):
    assert is_stale(counted=counted, changed=changed, min_changes=1000, fraction=0.1) is stale


def test_stale_statistics_are_gathered_again(postgresql):
    before = mirror_analyze_count()

    assert analyze_if_stale(MirroredRecipient, min_changes=0, fraction=0) is True

    assert mirror_analyze_count() == before + 1


def test_fresh_statistics_are_left_alone(postgresql):
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {MirroredRecipient._meta.db_table}")
    before = mirror_analyze_count()

    assert analyze_if_stale(MirroredRecipient) is False

    assert mirror_analyze_count() == before


@pytest.mark.django_db
def test_other_databases_have_nothing_to_refresh(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert analyze_if_stale(MirroredRecipient, min_changes=0, fraction=0) is False
