"""CI runs the production configuration; a laptop says how to get there."""

from __future__ import annotations

from django.conf import settings

from tests.conftest import IN_CI


def test_ci_uses_postgresql_and_redis():
    engine = settings.DATABASES["default"]["ENGINE"]
    broker = settings.CELERY_BROKER_URL
    if IN_CI:
        assert engine == "django.db.backends.postgresql", engine
        assert broker.startswith("redis://"), broker
    elif "postgresql" not in engine or not broker.startswith("redis://"):
        import pytest

        pytest.skip(
            "Running on the embedded defaults (SQLite, filesystem broker). To test the "
            "production configuration set DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME "
            "and CELERY_BROKER_URL=redis://127.0.0.1:6379/7, or run `bash .ci/run`."
        )
