from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction

from dashboard.accounts.roles import ROLE_CAPABILITIES, Role


@transaction.atomic
def user_create_with_role(
    *, username: str, password: str, role: Role, email: str = "", first_name: str = ""
) -> AbstractUser:
    """Create (or update the password and role of) a user with exactly one role."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.email = email
    user.first_name = first_name
    user.is_active = True
    user.set_password(password)
    user.save()
    if not Group.objects.filter(name=role.value).exists():
        roles_ensure()
    user.groups.set([Group.objects.get(name=role.value)])
    return user


def roles_ensure() -> None:
    """Create the role groups with their capabilities if missing (a flushed test database).

    The data migration creates them in a real database; this restores them from roles.py.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission

    create_permissions(apps.get_app_config("accounts"), verbosity=0)
    for role, capabilities in ROLE_CAPABILITIES.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="accounts",
                codename__in=[c.value for c in capabilities],
            )
        )
