"""CI runs the production configuration; a laptop says how to get there."""

from __future__ import annotations

from django.conf import settings

from tests.helpers.environment import IN_CI, TESTDATA, skip_or_fail


def test_ci_uses_postgresql_and_redis():
    from django.db import connection

    engine = settings.DATABASES["default"]["ENGINE"]
    broker = settings.CELERY_BROKER_URL
    if IN_CI:
        assert connection.vendor == "postgresql", engine
        assert broker.startswith("redis://"), broker
    elif "postgresql" not in engine or not broker.startswith("redis://"):
        import pytest

        pytest.skip(
            "Running on the embedded defaults (SQLite, filesystem broker). To test the "
            "production configuration set DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME "
            "and CELERY_BROKER_URL=redis://127.0.0.1:6379/7, or run `bash .ci/run`."
        )


def test_the_outside_test_corpora_are_in_the_checkout():
    """The CSV, naughty-string, email and phone corpora drive many tests: CI must have them."""
    missing = [
        name
        for name in (
            "blns/blns.json",
            "blns/blns.base64.json",
            "csv-spectrum/csvs",
            "isemail/tests-flat.json",
            "phone-vectors/example_numbers.csv",
        )
        if not (TESTDATA / name).exists()
    ]
    if missing:
        skip_or_fail(
            f"test corpora missing under {TESTDATA}: {', '.join(missing)}. Copy them from the "
            "team's shared/testdata (tests/data/README.md) to run the tests that use them."
        )
