"""Take over ``Connection`` and ``FieldSetting`` from the ``connections`` app.

State only: the tables keep their names (``connections_connection``,
``connections_fieldsetting``) and their rows; the ``connections`` app forgets the models in
its ``0005``, after every foreign key points here. The content types follow the models, so
permissions and anything else keyed on them keep pointing at the same rows.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

import integrations.crypto

MOVED = ("connection", "fieldsetting")


def content_types_follow(apps, schema_editor, *, old="connections", new="integrations"):
    """Relabel the moved models' content types, unless the new ones exist already."""
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if content_type.objects.using(db).filter(app_label=new, model=model).exists():
            continue
        content_type.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def content_types_return(apps, schema_editor):
    content_types_follow(apps, schema_editor, old="integrations", new="connections")


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0004_connection_snappy_update_method"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0005_sync_outcomes_and_retry_lock"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Connection",
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
                        ("name", models.CharField(max_length=100)),
                        (
                            "provider",
                            models.CharField(
                                choices=[
                                    ("redflag", "RedFlag Recipient API"),
                                    ("snappy", "Snappy Recipients API"),
                                    ("parcelvoy", "Campaign trigger (Parcelvoy)"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "environment",
                            models.CharField(
                                choices=[("staging", "Staging"), ("production", "Production")],
                                default="staging",
                                max_length=20,
                            ),
                        ),
                        ("base_url", models.CharField(max_length=500)),
                        (
                            "secret",
                            integrations.crypto.EncryptedSecretField(blank=True, null=True),
                        ),
                        ("secret_hint", models.CharField(blank=True, max_length=4)),
                        ("secret_set_at", models.DateTimeField(blank=True, null=True)),
                        ("options", models.JSONField(blank=True, default=dict)),
                        ("is_active", models.BooleanField(default=True)),
                        (
                            "pull_interval_minutes",
                            models.PositiveIntegerField(blank=True, null=True),
                        ),
                        ("mirror_refreshed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "snappy_update_method",
                            models.CharField(
                                blank=True,
                                choices=[("PATCH", "PATCH"), ("PUT", "PUT")],
                                max_length=5,
                            ),
                        ),
                        ("last_test_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "last_test_outcome",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("ok", "Connected"),
                                    ("bad_credentials", "Bad credentials"),
                                    ("forbidden", "Not allowed"),
                                    ("unreachable", "Unreachable"),
                                    ("error", "Provider error"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("last_test_message", models.CharField(blank=True, max_length=500)),
                        (
                            "last_test_latency_ms",
                            models.PositiveIntegerField(blank=True, null=True),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "secret_set_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "connections_connection",
                        "ordering": [django.db.models.functions.text.Lower("name")],
                    },
                ),
                migrations.AlterField(
                    model_name="mirroredrecipient",
                    name="connection",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="mirror",
                        to="integrations.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="syncjob",
                    name="connection",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="jobs",
                        to="integrations.connection",
                    ),
                ),
                migrations.CreateModel(
                    name="FieldSetting",
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
                        ("path", models.CharField(max_length=200)),
                        ("enabled", models.BooleanField(default=False)),
                        ("custom", models.BooleanField(default=False)),
                        ("label", models.CharField(blank=True, max_length=120)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "connection",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="fields",
                                to="integrations.connection",
                            ),
                        ),
                        (
                            "updated_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "connections_fieldsetting",
                        "ordering": ["path"],
                    },
                ),
                migrations.AddConstraint(
                    model_name="connection",
                    constraint=models.UniqueConstraint(
                        django.db.models.functions.text.Lower("name"),
                        name="connection_name_unique_ci",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="fieldsetting",
                    constraint=models.UniqueConstraint(
                        fields=("connection", "path"), name="field_setting_unique"
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
