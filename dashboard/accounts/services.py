from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

from dashboard.accounts.roles import Role


@transaction.atomic
def user_create_with_role(
    *, username: str, password: str, role: Role, email: str = "", first_name: str = ""
) -> AbstractBaseUser:
    """Create (or update the password and role of) a user with exactly one role."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.email = email
    user.first_name = first_name
    user.is_active = True
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=role.value)])
    return user
