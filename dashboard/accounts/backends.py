"""The authentication backend: Django's ``ModelBackend`` with permissions read in one query.

Every view checks a capability (a Django permission, see ``roles.py``) on every request;
``ModelBackend`` reads a user's own permissions and their groups' permissions in two queries,
each joining the content types. This reads both in one, with the same result and the same
per-request cache (``_perm_cache`` on the user object), so a role changed in the database
applies from the user's next request, as before.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Permission
from django.db.models import Model, Q


class RoleBackend(ModelBackend):
    def get_all_permissions(
        self, user_obj: AbstractBaseUser | AnonymousUser, obj: Model | None = None
    ) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        cached: Any = getattr(user_obj, "_perm_cache", None)
        if cached is None:
            perms = Permission.objects.all()
            if not getattr(user_obj, "is_superuser", False):
                perms = perms.filter(Q(user=user_obj) | Q(group__user=user_obj))
            cached = {
                f"{app_label}.{codename}"
                for app_label, codename in perms.values_list(
                    "content_type__app_label", "codename"
                ).order_by()
            }
            setattr(user_obj, "_perm_cache", cached)  # noqa: B010 (not a declared attribute)
        return set(cached)
