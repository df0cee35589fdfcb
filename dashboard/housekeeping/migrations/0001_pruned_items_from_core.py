import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Take ``PrunedItems`` over from the core app: its table stays, only the state moves."""

    dependencies = [
        ("core", "0002_scheduler_beat_and_pruned_items"),
        ("integrations", "0004_external_id_prefix_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PrunedItems",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("items", models.PositiveIntegerField()),
                        ("pruned_at", models.DateTimeField()),
                        (
                            "job",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="pruned_items",
                                to="integrations.syncjob",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "core_pruneditems",
                        "verbose_name_plural": "pruned items",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
