"""The authentication backend: Django's ``ModelBackend`` with a user's permissions and roles read
in one query; the signed-in user is read by ``ModelBackend`` itself.

Every view checks a capability (a Django permission, see ``roles.py``) on every request, and
every full page names the user's roles in the header. ``ModelBackend`` reads a user's own
permissions and their groups' permissions in two queries, each joining the content types, and
the roles would cost a third. This reads all three in one, with the same permissions and the
same per-request cache (``_perm_cache`` on the user object), so a role changed in the database
applies from the user's next request, as before.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Model

# The user's group names, read with the permissions (see ``user_group_names``).
GROUP_NAMES_CACHE = "_group_names_cache"


@functools.cache
def _access_sql() -> str:
    """The query of ``_load``, written once per process from the models' tables.

    Built with the ORM (a ``UNION ALL`` of two ``values_list``), composing it cost more than a
    millisecond of every request; its text never changes, only the user id does.
    """
    user = get_user_model()
    groups = user._meta.get_field("groups").remote_field.through._meta.db_table  # type: ignore[union-attr]
    own = user._meta.get_field("user_permissions").remote_field.through._meta.db_table  # type: ignore[union-attr]
    group_perms = Group.permissions.through._meta.db_table
    q = connection.ops.quote_name
    # Table and column names come from the models, quoted; the user id is a parameter.
    return (
        f"SELECT g.{q('name')}, ct.{q('app_label')}, p.{q('codename')} "  # noqa: S608
        f"FROM {q(groups)} ug "
        f"JOIN {q(Group._meta.db_table)} g ON g.{q('id')} = ug.{q('group_id')} "
        f"LEFT JOIN {q(group_perms)} gp ON gp.{q('group_id')} = g.{q('id')} "
        f"LEFT JOIN {q(Permission._meta.db_table)} p ON p.{q('id')} = gp.{q('permission_id')} "
        f"LEFT JOIN {q(ContentType._meta.db_table)} ct "
        f"ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE ug.{q('user_id')} = %s "
        "UNION ALL "
        f"SELECT NULL, ct.{q('app_label')}, p.{q('codename')} "
        f"FROM {q(own)} up "
        f"JOIN {q(Permission._meta.db_table)} p ON p.{q('id')} = up.{q('permission_id')} "
        f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE up.{q('user_id')} = %s"
    )


def _load(user_obj: Any) -> None:
    """Set the user's permission and group-name caches, in one query.

    Each row is (group name, app label, codename): one per permission of each of the user's
    groups (a group without permissions gives a row without one), then one per permission
    given to the user directly (no group). A superuser has every permission (a second query).
    """
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(), [user_obj.pk, user_obj.pk])
        rows = cursor.fetchall()
    names = sorted({name for name, _, _ in rows if name is not None})
    perms = {f"{app_label}.{codename}" for _, app_label, codename in rows if codename}
    if getattr(user_obj, "is_superuser", False):
        perms = {
            f"{app_label}.{codename}"
            for app_label, codename in Permission.objects.values_list(
                "content_type__app_label", "codename"
            ).order_by()
        }
    setattr(user_obj, "_perm_cache", perms)  # noqa: B010 (not a declared attribute)
    setattr(user_obj, GROUP_NAMES_CACHE, names)


def user_group_names(user: Any) -> list[str]:
    """The names of the user's groups (roles), sorted: from the permission check's query when
    it ran in this request, else read now."""
    if not user.is_authenticated:
        return []
    if getattr(user, GROUP_NAMES_CACHE, None) is None:
        if not user.is_active:
            return sorted(user.groups.values_list("name", flat=True))
        _load(user)
    return list(getattr(user, GROUP_NAMES_CACHE))


class RoleBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """Read the signed-in user of a request with ``ModelBackend.get_user`` (the ORM).

        ``None`` when there is no such user, they may not sign in (inactive), or the id is
        not one (the session holds it as text).
        """
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        return super().get_user(pk)

    def get_all_permissions(
        self, user_obj: AbstractBaseUser | AnonymousUser, obj: Model | None = None
    ) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if getattr(user_obj, "_perm_cache", None) is None:
            _load(user_obj)
        return set(getattr(user_obj, "_perm_cache"))  # noqa: B009 (set by _load)
