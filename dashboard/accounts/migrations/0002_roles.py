"""Create the three roles as groups with their capabilities.

The role table is frozen here (not imported from roles.py) so this migration means the same
thing forever; change roles with a new migration.
"""

from django.db import migrations

ROLES = {
    "admin": [
        "manage_connections",
        "search_recipients",
        "edit_recipients",
        "create_delete_recipients",
        "manage_imports",
        "view_jobs",
        "manage_jobs",
        "send_test_campaigns",
        "view_audit",
    ],
    "support": ["search_recipients", "edit_recipients", "view_jobs"],
    "manager": ["view_jobs", "acknowledge_jobs", "view_audit"],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make them now so groups can
    # reference them.
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        perms = permission_model.objects.filter(
            content_type__app_label="accounts", codename__in=codenames
        )
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Permissions missing for role {role}: {sorted(missing)}")
        group.permissions.set(perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
