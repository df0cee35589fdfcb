"""Geometry of the job charts, computed here so templates only draw SVG.

The CSP forbids inline styles, so sizes are SVG presentation attributes (``x``, ``width``)
and colours come from classes in app.css.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.formats import date_format

from dashboard.jobs.selectors import DayOutcomes
from integrations.models import JobStatus, SyncJob


# -- the small per-job bar -----------------------------------------------------------------
@dataclass(frozen=True)
class BarSegment:
    key: str  # css class suffix
    label: str
    count: int
    x: float  # in a 0..100 viewBox
    width: float


@dataclass(frozen=True)
class OutcomeBar:
    segments: list[BarSegment]
    total: int

    @property
    def summary(self) -> str:
        parts = [f"{s.count} {s.label.lower()}" for s in self.segments if s.count]
        return ", ".join(parts) if parts else "no items"


def outcome_bar(job: SyncJob) -> OutcomeBar:
    """Succeeded, failed, not sent and pending items of a job as one stacked bar."""
    parts = [
        ("succeeded", "Succeeded", job.n_succeeded),
        ("failed", "Failed", job.n_failed),
        ("skipped", "Not sent", job.n_skipped),
        ("pending", "Pending", job.n_pending),
    ]
    total = sum(count for _, _, count in parts)
    segments = []
    x = 0.0
    for key, label, count in parts:
        width = round(100 * count / total, 3) if total else 0.0
        segments.append(BarSegment(key, label, count, round(x, 3), width))
        x += width
    return OutcomeBar(segments, total)


# -- the 30-day chart -----------------------------------------------------------------------
CHART_SERIES = [
    (JobStatus.SUCCEEDED, "Succeeded", "succeeded"),
    (JobStatus.PARTIALLY_FAILED, "Partially failed", "partial"),
    (JobStatus.FAILED, "Failed", "failed"),
    (JobStatus.CANCELLED, "Cancelled", "cancelled"),
]
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 44, 12, 28
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Rect:
    key: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class ChartDay:
    day: dt.date
    label: str  # "3 Nov"
    counts: list[tuple[str, int]]  # (series label, count) in series order
    total: int
    failures: int
    rate: float | None  # failed + partially failed over finished jobs, 0..1
    rects: list[Rect]
    x_label: float | None  # where the day's axis label goes, for every few days
    title: str  # tooltip

    @property
    def rate_percent(self) -> str:
        return "—" if self.rate is None else f"{round(self.rate * 100)} %"


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class OutcomeChart:
    days: list[ChartDay]
    y_ticks: list[Tick]  # jobs, left axis
    rate_ticks: list[Tick]  # failure rate, right axis
    rate_lines: list[str]  # polyline "x,y x,y" runs, broken where a day had no jobs
    rate_dots: list[tuple[float, float, str]]  # (x, y, title)
    total: int
    failures: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    baseline: int = TOP + PLOT_H

    @property
    def y_label_x(self) -> int:
        return self.left - 6

    @property
    def rate_label_x(self) -> int:
        return self.right_edge + 6

    @property
    def x_label_y(self) -> int:
        return self.baseline + 18

    @property
    def rate(self) -> float | None:
        return self.failures / self.total if self.total else None

    @property
    def rate_percent(self) -> str:
        return "—" if self.rate is None else f"{round(self.rate * 100)} %"

    @property
    def series(self) -> list[tuple[str, str]]:
        return [(label, key) for _, label, key in CHART_SERIES]

    @property
    def summary(self) -> str:
        if not self.total:
            return f"No sync job finished in the last {len(self.days)} days."
        busiest = max(self.days, key=lambda d: d.total)
        return (
            f"{self.total} jobs finished in the last {len(self.days)} days; "
            f"{self.failures} failed or partially failed (failure rate {self.rate_percent}). "
            f"Busiest day: {busiest.label} with {busiest.total} jobs."
        )


def _job_axis(largest: int) -> tuple[int, int]:
    """A whole-number tick step (1, 2 or 5 times a power of ten) for at most five ticks; the top."""
    largest = max(largest, 1)
    rough = largest / 4
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(s * magnitude for s in (1, 2, 5, 10) if s * magnitude >= rough)
    step = max(1, round(step))
    return step, step * math.ceil(largest / step)


def outcome_chart(days: Sequence[DayOutcomes]) -> OutcomeChart:
    """Stacked bars of finished jobs per day by outcome, and the daily failure rate."""
    step, top_value = _job_axis(max((d.total for d in days), default=0))
    slot = PLOT_W / max(len(days), 1)
    bar_w = round(slot * 0.7, 2)
    label_every = max(1, math.ceil(len(days) / 6))
    chart_days = []
    rate_lines: list[str] = []
    run: list[str] = []
    rate_dots = []
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar_w) / 2
        y: float = TOP + PLOT_H
        rects = []
        counts = []
        for status, label, key in CHART_SERIES:
            count = day.counts.get(status, 0)
            counts.append((label, count))
            if not count:
                continue
            height = PLOT_H * count / top_value
            y -= height
            rects.append(Rect(key, round(x, 2), round(y, 2), bar_w, round(height, 2)))
        rate = day.failures / day.total if day.total else None
        label = date_format(day.day, "j M")
        centre = round(LEFT + index * slot + slot / 2, 2)
        if rate is None:
            if run:
                rate_lines.append(" ".join(run))
            run = []
        else:
            rate_y = round(TOP + PLOT_H * (1 - rate), 2)
            run.append(f"{centre},{rate_y}")
            rate_dots.append((centre, rate_y, f"{label}: failure rate {round(rate * 100)} %"))
        breakdown = ", ".join(f"{n} {name.lower()}" for name, n in counts if n)
        chart_days.append(
            ChartDay(
                day=day.day,
                label=label,
                counts=counts,
                total=day.total,
                failures=day.failures,
                rate=rate,
                rects=rects,
                x_label=centre if (len(days) - 1 - index) % label_every == 0 else None,
                title=f"{label}: {breakdown}" if breakdown else f"{label}: no jobs",
            )
        )
    if run:
        rate_lines.append(" ".join(run))
    y_ticks = [
        Tick(round(TOP + PLOT_H * (1 - value / top_value), 2), str(value))
        for value in range(0, top_value + 1, step)
    ]
    rate_ticks = [
        Tick(round(TOP + PLOT_H * (1 - fraction), 2), f"{round(fraction * 100)} %")
        for fraction in (0, 0.5, 1)
    ]
    return OutcomeChart(
        days=chart_days,
        y_ticks=y_ticks,
        rate_ticks=rate_ticks,
        rate_lines=[line for line in rate_lines if " " in line],
        rate_dots=rate_dots,
        total=sum(d.total for d in days),
        failures=sum(d.failures for d in days),
    )
