"""Refreshing the mirror becomes a capability of its own, granted to admins and support.

Support staff could refresh the mirror under "look up recipients" without the role table
saying so. Grants are frozen here, as in 0002.
"""

from django.db import migrations

GRANTS = {
    "admin": ["refresh_mirror"],
    "support": ["refresh_mirror"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        perms = list(
            permission_model.objects.filter(
                content_type__app_label="accounts", codename__in=codenames
            )
        )
        if len(perms) != len(codenames):
            raise RuntimeError(f"Permissions missing for role {role}: {codenames}")
        group.permissions.add(*perms)


def revoke(apps, schema_editor):
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group = group_model.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(
                *permission_model.objects.filter(
                    content_type__app_label="accounts", codename__in=codenames
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="capabilities",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": [
                    ("manage_connections", "manage provider connections and field settings"),
                    ("search_recipients", "look up recipients"),
                    ("refresh_mirror", "refresh the search's copy of a provider's recipients"),
                    ("edit_recipients", "edit recipients' profile fields"),
                    ("create_delete_recipients", "create and delete recipients"),
                    ("manage_imports", "upload CSV imports"),
                    ("view_jobs", "view sync history"),
                    ("manage_jobs", "start, cancel and retry sync jobs"),
                    ("acknowledge_jobs", "acknowledge failed sync jobs"),
                    ("send_test_campaigns", "send test campaign triggers"),
                    ("view_audit", "read the audit log"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
