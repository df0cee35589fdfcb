"""Template helpers of the sync history: durations in words and the per-job outcome bar."""

from __future__ import annotations

from typing import Any

from django import template

from dashboard.jobs.charts import outcome_bar as build_outcome_bar
from integrations.models import SyncJob

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """``3725`` → "1 h 2 min"; ``75`` → "1 min 15 s"; ``None`` → "—"."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


def _short(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


@register.filter
def per_second(rate: float | None) -> str:
    """Records per second, or per minute when under one a second."""
    if rate is None:
        return "—"
    if rate < 1:
        return f"{_short(rate * 60)} records/min"
    return f"{_short(rate)} records/s" if rate < 10 else f"{round(rate):,} records/s"


@register.inclusion_tag("jobs/outcome_bar.html")
def outcome_bar(job: SyncJob, size: str = "small") -> dict[str, Any]:
    return {"bar": build_outcome_bar(job), "size": size}
