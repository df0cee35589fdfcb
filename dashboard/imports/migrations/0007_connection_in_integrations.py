"""Point the imports' foreign keys at ``integrations.Connection`` (state only).

The table and its constraints do not change: the model moved, its table did not.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0006_preview_claim_and_storage"),
        ("integrations", "0006_connection_models"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="import",
                    name="connection",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="imports",
                        to="integrations.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="rememberedmapping",
                    name="connection",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="import_mapping",
                        to="integrations.connection",
                    ),
                ),
            ],
            database_operations=[],
        )
    ]
