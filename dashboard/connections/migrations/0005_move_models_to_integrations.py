"""Forget ``Connection`` and ``FieldSetting`` here: they live in ``integrations`` now.

State only: the tables stay where they are, under their old names, and belong to the
``integrations`` models (``integrations/migrations/0006_connection_models.py``). This runs
after every foreign key that pointed here points there.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_connection_in_integrations"),
        ("connections", "0004_connection_snappy_update_method"),
        ("imports", "0007_connection_in_integrations"),
        ("integrations", "0006_connection_models"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="connection", name="connection_name_unique_ci"
                ),
                migrations.RemoveConstraint(model_name="fieldsetting", name="field_setting_unique"),
                migrations.RemoveField(model_name="fieldsetting", name="connection"),
                migrations.RemoveField(model_name="fieldsetting", name="updated_by"),
                migrations.DeleteModel(name="Connection"),
                migrations.DeleteModel(name="FieldSetting"),
            ],
            database_operations=[],
        )
    ]
