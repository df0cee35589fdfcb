"""Point the campaigns' foreign keys at ``integrations.Connection`` (state only).

The table and its constraints do not change: the model moved, its table did not.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("integrations", "0006_connection_models"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="allowlistentry",
                    name="connection",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="test_allowlist",
                        to="integrations.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="rememberedcampaign",
                    name="connection",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="remembered_campaigns",
                        to="integrations.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="testsend",
                    name="connection",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="test_sends",
                        to="integrations.connection",
                    ),
                ),
            ],
            database_operations=[],
        )
    ]
