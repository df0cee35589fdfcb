"""Show recorded before/after values in plain words."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def audit_value(value: Any) -> str:
    """``True`` → "on", ``None``/empty → "—", dicts and lists as "key: value" text."""
    if value is None or value == "" or value == {} or value == []:
        return "—"
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {audit_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(audit_value(item) for item in value)
    return str(value)
