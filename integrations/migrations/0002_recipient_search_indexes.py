"""Indexes for the support search of the recipient mirror.

On PostgreSQL: the pg_trgm extension and trigram GIN indexes, which serve ``LIKE 'x%'`` and
``LIKE '%x%'`` on the search columns, so lookups stay instant at 100,000 recipients. SQLite
has neither; there the GIN indexes exist in the migration state only (so ``makemigrations``
sees the models and the state agree) and the search runs as plain ``LIKE``.
"""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class AddIndexOnPostgreSQL(migrations.AddIndex):
    """``AddIndex`` that touches the database only on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def _trigram_index(field: str) -> AddIndexOnPostgreSQL:
    return AddIndexOnPostgreSQL(
        model_name="mirroredrecipient",
        index=django.contrib.postgres.indexes.GinIndex(
            fields=[field], name=f"mirror_{field}_trgm", opclasses=["gin_trgm_ops"]
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0003_provider_label"),
        ("integrations", "0001_initial"),
    ]

    operations = [
        # CREATE EXTENSION IF NOT EXISTS pg_trgm; a no-op on other databases.
        TrigramExtension(),
        _trigram_index("email_lower"),
        _trigram_index("name_search"),
        _trigram_index("phone_digits"),
        _trigram_index("external_id"),
        migrations.AddIndex(
            model_name="syncitem",
            index=models.Index(fields=["remote_id"], name="item_remote_id"),
        ),
    ]
