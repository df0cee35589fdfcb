"""Writing audit events: the only way an event is created."""

from __future__ import annotations

from typing import Any

from django.db import models

from dashboard.audit.models import AuditEvent

SECRET_CHANGED = "secret changed"  # noqa: S105 - a label, not a secret


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    summary: str = "",
    changes: dict[str, dict[str, Any]] | None = None,
) -> AuditEvent:
    """Append an audit event. ``changes`` must already have secrets replaced by SECRET_CHANGED."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        summary=summary[:500],
        changes=changes or {},
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``{key: {"before": …, "after": …}}`` for keys whose values differ."""
    keys = sorted(set(before) | set(after))
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    }
