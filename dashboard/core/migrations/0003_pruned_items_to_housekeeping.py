from django.db import migrations


class Migration(migrations.Migration):
    """Hand ``PrunedItems`` to the housekeeping app: its table stays, only the state moves."""

    dependencies = [
        ("core", "0002_scheduler_beat_and_pruned_items"),
        ("housekeeping", "0001_pruned_items_from_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="PrunedItems")],
            database_operations=[],
        ),
    ]
