"""Server-side permission checks for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from dashboard.accounts.roles import Capability, roles_with

View = Callable[..., HttpResponseBase]


def has_capability(user: Any, capability: Capability) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(capability.perm))


def capabilities_of(user: Any) -> frozenset[Capability]:
    """Every capability ``user`` has: ``has_capability`` for each, from one reading of their
    permissions (``has_perm`` asks every authentication backend again for each)."""
    if not (user.is_authenticated and user.is_active):
        return frozenset()
    if user.is_superuser:
        return frozenset(Capability)
    perms = user.get_all_permissions()
    return frozenset(capability for capability in Capability if capability.perm in perms)


def denied_message(capability: Capability) -> str:
    roles = " or ".join(role.label for role in roles_with(capability)) or "an administrator"
    return f"You need the {roles} role to {capability.label}."


def require_capability(capability: Capability) -> Callable[[View], View]:
    """Refuse the view with a 403 that names the missing capability and the roles that have it.

    Anonymous users never get here: ``LoginRequiredMiddleware`` sends them to the login page.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_capability(request.user, capability):
                raise PermissionDenied(denied_message(capability))
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability  # type: ignore[attr-defined]
        return wrapped

    return decorator
